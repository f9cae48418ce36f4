"""A third-party automodel plugin with its own ``prepare`` and ``fit``: a linear model with a warm-up.

``prepare`` refuses inputs it cannot take before anything trains; ``fit`` adds a
learning-rate warm-up to the callbacks the search passes and hands them all on.
"""

import math

import automodel
from automodel import Architecture, PluginError, hookimpl

if automodel.CONTRACT_VERSION.split(".")[0] != "1":
    raise ImportError(f"automodel-linear was written for plugin contract 1, not {automodel.CONTRACT_VERSION}")

MAX_INPUTS = 100_000  # values per sample: a dense layer over more is a poor linear model and a large one


class Linear(Architecture):
    name = "linear"
    tasks = ("image_classification", "sequence_classification")
    description = "Linear model on the flattened inputs, trained with a learning-rate warm-up"

    def prepare(self, spec):
        inputs = math.prod(spec.input_shape)
        if inputs > MAX_INPUTS:
            raise PluginError(f"linear takes at most {MAX_INPUTS:,} values per sample; these have {inputs:,}. "
                              "Resize the images (image_folder(..., image_size=...)) or use the cnn architecture.")

    def build(self, hp, spec):
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.1))(x)
        model = keras.Model(inputs, spec.head(x))
        return spec.compile(model, learning_rate=hp.Float("learning_rate", 1e-3, 1e-1, sampling="log", default=1e-2))

    def fit(self, hp, model, spec, *args, callbacks=None, **kwargs):
        warmup = _warmup(hp.Int("warmup_epochs", 0, 3, default=1))
        # the search's callbacks (early stopping, pruning, records, stop requests) must go on to fit
        return model.fit(*args, callbacks=[warmup, *(callbacks or [])], **kwargs)


def _warmup(epochs: int):
    import keras

    class WarmUp(keras.callbacks.Callback):
        """The learning rate rises to its value over the first ``epochs`` epochs, then is left to the search."""

        def on_train_begin(self, logs=None):
            self.target = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

        def on_epoch_begin(self, epoch, logs=None):
            if epoch <= epochs:
                self.model.optimizer.learning_rate = self.target * (epoch + 1) / (epochs + 1)

    return WarmUp()


@hookimpl
def register_architectures(register):
    register(Linear())
