"""A third-party automodel plugin: a multilayer perceptron for image classification."""

from automodel import Architecture, hookimpl


class MLP(Architecture):
    name = "mlp"
    tasks = ("image_classification",)
    description = "Multilayer perceptron on the flattened pixels"

    def build(self, hp, spec):
        import keras

        inputs, x = spec.inputs()  # raw input and its normalisation
        x = keras.layers.Flatten()(x)
        for layer in range(hp.Int("layers", 1, 3)):
            x = keras.layers.Dense(hp.Int(f"units_{layer}", 32, 256, step=32), activation="relu")(x)
            x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1))(x)
        return keras.Model(inputs, spec.head(x))  # the engine compiles it for the task


@hookimpl
def register_architectures(register):
    register(MLP())
