"""How each trial trains: batch size, epochs and patience that follow from the data size.

A fixed "10 epochs, patience 5, batch 32" gives 36 training series 20 gradient
steps in all, and 50,000 images 15,000: one setting cannot fit both. Here the
protocol thinks in gradient steps instead (the published time-series protocol
of Wang et al. 2017 trains an FCN for thousands of steps with batches of
``min(n/10, 16)``; image networks need a few passes over a large set):

- batch size: the power of two nearest below ``sqrt(n)``, between 4 and 128
  (36 series: 4; 1,250 digits: 32; 50,000 images: 128);
- epochs: enough epochs for ``TARGET_STEPS`` gradient steps, at least
  ``MIN_EPOCHS`` passes and at most ``MAX_EPOCHS`` (36 series: 300 epochs of 9
  steps; 50,000 images: 20 epochs of 391 steps);
- patience: a sixth of the epochs, at least 5, for early stopping on the
  objective; the learning rate halves after half that many epochs without a
  better training loss (training loss, as in the reference protocol: on small
  data the validation split is too small to steer the learning rate).

Every trial keeps its best epoch's weights (KerasTuner's best-epoch checkpoint).
``epochs``, ``batch_size`` and ``patience`` given to ``search`` override the
matching choice. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math

TARGET_STEPS = 3000
MIN_EPOCHS = 20
MAX_EPOCHS = 300
MIN_BATCH, MAX_BATCH = 4, 128
MIN_PATIENCE = 5
LR_FACTOR = 0.5
MIN_LEARNING_RATE = 1e-5


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The training settings of every trial of one search, and where each came from."""

    batch_size: int
    epochs: int
    patience: int
    samples: int
    given: tuple[str, ...] = ()  # the settings the user fixed

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.samples, self.batch_size)

    @property
    def lr_patience(self) -> int:
        return max(2, self.patience // 2)

    @classmethod
    def from_dict(cls, data: dict) -> "Protocol":
        """The protocol as ``to_dict`` (run.json) holds it."""
        return cls(**{field.name: data[field.name] for field in dataclasses.fields(cls) if field.name != "given"},
                   given=tuple(data.get("given", ())))

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "given": list(self.given), "steps_per_epoch": self.steps_per_epoch,
                "lr_patience": self.lr_patience}


def steps_per_epoch(samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size))


def default_batch_size(samples: int) -> int:
    power = 2 ** int(math.floor(math.log2(max(math.sqrt(samples), 1))))
    return int(min(max(power, MIN_BATCH), MAX_BATCH))


def default_epochs(samples: int, batch_size: int) -> int:
    epochs = math.ceil(TARGET_STEPS / steps_per_epoch(samples, batch_size))
    return int(min(max(epochs, MIN_EPOCHS), MAX_EPOCHS))


def default_patience(epochs: int) -> int:
    return max(MIN_PATIENCE, epochs // 6)


def choose(samples: int, batch_size: int | None = None, epochs: int | None = None,
           patience: int | None = None) -> Protocol:
    """The protocol for ``samples`` training samples; a value given here is kept as it is."""
    given = tuple(name for name, value in (("batch_size", batch_size), ("epochs", epochs), ("patience", patience))
                  if value is not None)
    batch_size = batch_size or default_batch_size(samples)
    epochs = epochs or default_epochs(samples, batch_size)
    patience = patience or min(default_patience(epochs), epochs)
    return Protocol(batch_size=batch_size, epochs=epochs, patience=patience, samples=samples, given=given)


def callbacks(protocol: Protocol) -> list:
    """The learning-rate schedule every trial (and the final refit) trains with."""
    import keras

    class ReduceLearningRate(keras.callbacks.ReduceLROnPlateau):
        """Keras' plateau rule, left out for a model whose optimizer follows a schedule of its own."""

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            scheduled = isinstance(getattr(self.model.optimizer, "_learning_rate", None),
                                   keras.optimizers.schedules.LearningRateSchedule)
            self.enabled = not scheduled

        def on_epoch_end(self, epoch, logs=None):
            if self.enabled and "loss" in (logs or {}):
                super().on_epoch_end(epoch, logs)

    return [ReduceLearningRate(monitor="loss", factor=LR_FACTOR, patience=protocol.lr_patience,
                               min_lr=MIN_LEARNING_RATE, verbose=0)]
