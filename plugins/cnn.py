"""Convolutional networks for images: stacks of conv blocks with a searched shape."""

from automodel import Architecture, hookimpl


class CNN(Architecture):
    name = "cnn"
    tasks = ("image_classification",)
    description = "Convolutional network: conv blocks, batch norm, dropout, pooling, dense head"

    def build(self, hp, spec):
        import keras
        from keras import layers

        blocks = hp.Int("conv_blocks", 1, 3, default=2)
        kernel_size = hp.Choice("kernel_size", [3, 5], default=3)
        batch_norm = hp.Boolean("batch_norm", default=True)
        pooling = hp.Choice("pooling", ["max", "avg"], default="max")
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)

        inputs, x = spec.inputs()
        for block in range(blocks):
            filters = hp.Int(f"filters_{block}", 16, 128, step=16, default=32 * 2**block)
            x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)  # small data: fewer steps to settle
            x = layers.Activation("relu")(x)
            if min(x.shape[1], x.shape[2]) >= 2:  # small images run out of room to pool
                pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
                x = pool(2)(x)
        x = layers.GlobalAveragePooling2D()(x) if hp.Boolean("global_pooling", default=False) else layers.Flatten()(x)
        dense_units = hp.Choice("dense_units", [0, 64, 128, 256], default=128)
        if dense_units:
            x = layers.Dense(dense_units, activation="relu")(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
        model = keras.Model(inputs, spec.head(x), name="cnn")
        return spec.compile(
            model,
            optimizer=hp.Choice("optimizer", ["adam", "rmsprop", "sgd"], default="adam"),
            learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),
        )


@hookimpl
def register_architectures(register):
    register(CNN())
