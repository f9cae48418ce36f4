"""Resuming an interrupted trial from its last epoch, not from scratch.

KerasTuner already re-queues the trials that were running when a search process
died, and hands a restarted worker its unfinished trial back. Each trial trains
with Keras' own ``BackupAndRestore`` in its trial directory, so the re-run
continues with the weights, optimizer state and epoch number of the last
finished epoch. What neither carries over is done here, so that a resumed trial
is recorded and ranked as if it had never stopped:

- the trial record's per-epoch history continues, cut back to the epoch the
  backup holds (the record is written before the backup, so it is never behind);
- the best-epoch checkpoint and early stopping remember the epochs before the
  interruption;
- the history handed to KerasTuner for scoring covers every epoch;
- the backup stays until the trial's end is recorded, so a process killed after
  the last epoch but before that (while its predictions are kept, say) resumes
  with nothing left to train;
- a trial recorded as ended whose end never reached the oracle (its chief was
  killed) is handed back with its recorded history instead of trained again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
from keras_tuner.src.engine import tuner_utils

from ..runs.atomic import atomic_write, remove_leftovers
from ..runs.leaderboard import best_epoch

BACKUP_DIR = "backup"


def backup_callback(trial_dir) -> keras.callbacks.BackupAndRestore:
    """Keras' backup of the training state, kept in the trial directory until the trial ends."""
    return WholeBackup(str(Path(trial_dir) / BACKUP_DIR))


class WholeBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose files are each written whole, and kept when training ends.

    Keras writes the weights in place, so a process killed meanwhile leaves a
    truncated file (its ``double_checkpoint`` copy is no cure: the copy itself can
    be cut, and the first epoch has none). Here each file is renamed into place
    whole; the weights go first, so a kill between the two leaves the weights at
    most one epoch ahead of the epoch the backup says, and that epoch trains
    again. The backup outlives ``fit``: ``discard_backup`` removes it once the
    trial (or the fold) is recorded. A plugin's ``fit`` that trains in phases
    (``vgg16``: frozen, then fine-tuned) calls ``model.fit`` again with the same
    callbacks: a later phase goes on from the model in memory, not the backup of
    an earlier one.
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.trained = False

    def on_train_begin(self, logs=None):
        if self.trained:  # a later phase of this trial's fit, in this process
            shutil.rmtree(self.backup_dir, ignore_errors=True)
        else:
            super().on_train_begin(logs)

    def on_train_end(self, logs=None):
        self.trained = True

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        write_whole(self._weights_path, lambda path: self.model.save_weights(path, overwrite=True))
        state = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        write_whole(self._training_metadata_path, lambda path: Path(path).write_text(json.dumps(state)))


def whole_checkpoints(callbacks) -> None:
    """KerasTuner's best-epoch checkpoint written whole, like the backup (``save_weights`` writes in place)."""
    for callback in callbacks:
        if isinstance(callback, tuner_utils.SaveBestEpoch):
            callback._save_model = _whole_save(callback)


def _whole_save(callback):
    def save() -> None:
        write_whole(callback.filepath, lambda path: callback.model.save_weights(path))

    return save


def write_whole(target, write) -> None:
    """``write(temporary)``, then the temporary file renamed onto ``target``; removes what a killed writer left."""
    target = Path(target)
    with atomic_write(target) as temporary:
        write(str(temporary))
    remove_leftovers(target)


def discard_backup(trial_dir) -> None:
    """Remove a backup that must not be restored (a fresh trial or fold, or one that has ended)."""
    shutil.rmtree(Path(trial_dir) / BACKUP_DIR, ignore_errors=True)


def continue_history(record: dict, first_epoch: int) -> dict:
    """Cut the record's history back to the epochs before ``first_epoch`` and return it.

    ``record["initial_epoch"]`` is the epoch the trial first started at (Hyperband
    continues trials at later epochs), so the history holds
    ``first_epoch - initial_epoch`` epochs when training resumes at ``first_epoch``.
    """
    initial = record.setdefault("initial_epoch", first_epoch)
    kept = max(0, first_epoch - initial)
    history = {name: values[:kept] for name, values in record.get("history", {}).items()}
    record["history"] = history
    record["epochs"] = kept
    return history


def carry_over(history: dict, objective, callbacks) -> None:
    """Tell the best-epoch checkpoint and early stopping about the epochs already trained."""
    series = history.get(objective.name, [])
    best_index = best_epoch(series, objective.direction)
    if best_index is None:
        return
    best = series[best_index]
    for callback in callbacks:
        if isinstance(callback, tuner_utils.SaveBestEpoch):
            callback.best_value = best
        elif isinstance(callback, keras.callbacks.EarlyStopping):
            callback.best = best
            callback.wait = len(series) - 1 - best_index


def ended(record: dict) -> bool:
    """Whether the record says the trial ran to its end, whatever the oracle heard of it."""
    return record.get("status") in ("completed", "pruned")


def recorded_histories(record: dict) -> list[keras.callbacks.History]:
    """What training returned for an ended trial, rebuilt from its record (a cross-validated one: its folds' mean)."""
    return [as_history(record.get("history") or {})]


def as_history(logs: dict) -> keras.callbacks.History:
    """A Keras ``History`` holding per-epoch values, as ``fit`` would have returned it."""
    history = keras.callbacks.History()
    history.history = {name: list(values) for name, values in logs.items()}
    return history


def whole_history(results, record: dict):
    """Make a resumed trial's ``History`` span all of its epochs, for KerasTuner's scoring."""
    history = record.get("history") or {}
    if isinstance(results, keras.callbacks.History) and history:
        if len(next(iter(history.values()))) > len(next(iter(results.history.values()), [])):
            results.history = {name: list(values) for name, values in history.items()}
    return results
