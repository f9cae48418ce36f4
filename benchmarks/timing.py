"""Where a search's time goes: a Keras callback that sums the time spent in each phase of ``fit``.

- ``steps``: between ``on_train_batch_begin`` and ``on_train_batch_end``, over every
  batch of every trial: the training steps themselves. The end hook gets the
  step's logs as Python numbers, so the time includes waiting for the device:
  it is honest on a GPU too.
- ``first_steps``: the part of ``steps`` spent in each ``fit``'s first batch, where
  TensorFlow traces and compiles the training function.
- ``validation``: between ``on_test_begin`` and ``on_test_end`` inside ``fit``.
- ``fit``: between ``on_train_begin`` and ``on_train_end``; what is in it and not
  in the two above is the per-epoch callbacks (records, backups, checkpoints).

A callback with batch hooks makes Keras run them in step with training, as
any such callback does: the cost is converting each step's logs, alike in
every variant measured.

KerasTuner deep-copies callbacks for each trial, so the sums live in the module
(``SPENT``), not in the callback. Importing this module imports Keras: only the
measuring child processes do.
"""

from __future__ import annotations

import collections
import time

import keras

SPENT: collections.Counter = collections.Counter()  # seconds and counts, over every trial of this process


class PhaseTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self._started = {}

    def _begin(self, phase: str) -> None:
        self._started[phase] = time.perf_counter()

    def _end(self, phase: str) -> float:
        seconds = time.perf_counter() - self._started.pop(phase)
        SPENT[phase] += seconds
        return seconds

    def on_train_begin(self, logs=None):
        SPENT["fits"] += 1
        self._first = True
        self._begin("fit")

    def on_train_end(self, logs=None):
        self._end("fit")

    def on_train_batch_begin(self, batch, logs=None):
        self._begin("steps")

    def on_train_batch_end(self, batch, logs=None):
        seconds = self._end("steps")
        SPENT["batches"] += 1
        if self._first:
            SPENT["first_steps"] += seconds
            self._first = False

    def on_test_begin(self, logs=None):
        self._begin("validation")

    def on_test_end(self, logs=None):
        self._end("validation")

    def on_epoch_end(self, epoch, logs=None):
        SPENT["epochs"] += 1


def phases() -> dict:
    """What ``SPENT`` holds, as plain numbers for a JSON line."""
    return {name: round(value, 4) for name, value in SPENT.items()}
