"""Convolutional networks: 2-D conv blocks for images, 1-D FCN and ResNet for sequences.

For sequences the two families are those that lead the published time-series
classification benchmarks (Wang et al. 2017, "Time series classification from
scratch with deep neural networks"; Ismail Fawaz et al. 2019): a fully
convolutional network (conv, batch norm, ReLU blocks, then global average
pooling) and a residual network (blocks of three convolutions with a shortcut).
"""

from automodel import Architecture, hookimpl


class CNN(Architecture):
    name = "cnn"
    tasks = ("image_classification", "sequence_classification", "sequence_regression")
    description = "Convolutional network: 2-D conv blocks for images; 1-D FCN / ResNet for sequences"

    def build(self, hp, spec):
        import keras

        inputs, x = spec.inputs()
        if spec.inputs_kind == "image":
            x = self._images(hp, x)
        else:
            x = self._sequences(hp, x, spec, spec.padding_mask(inputs))
        dense_units = hp.Choice("dense_units", [0, 64, 128, 256], default=128)
        if dense_units:
            x = keras.layers.Dense(dense_units, activation="relu")(x)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
        model = keras.Model(inputs, spec.head(x), name="cnn")
        return spec.compile(
            model,
            optimizer=hp.Choice("optimizer", ["adam", "rmsprop", "sgd"], default="adam"),
            learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),
        )

    def _images(self, hp, x):
        from keras import layers

        blocks = hp.Int("conv_blocks", 1, 3, default=2)
        kernel_size = hp.Choice("kernel_size", [3, 5], default=3)
        batch_norm = hp.Boolean("batch_norm", default=True)
        pooling = hp.Choice("pooling", ["max", "avg"], default="max")
        for block in range(blocks):
            filters = hp.Int(f"filters_{block}", 16, 128, step=16, default=32 * 2**block)
            x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)  # small data: fewer steps to settle
            x = layers.Activation("relu")(x)
            if min(x.shape[1], x.shape[2]) >= 2:  # small images run out of room to pool
                pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
                x = pool(2)(x)
        if hp.Boolean("global_pooling", default=False):
            return layers.GlobalAveragePooling2D()(x)
        return layers.Flatten()(x)

    def _sequences(self, hp, x, spec, mask):
        """``mask`` (series of different lengths, else None) keeps the padding out: see ``TaskSpec.padding_mask``."""
        from keras import layers

        family = hp.Choice("family", ["fcn", "resnet"], default="fcn")
        filters = hp.Int("filters", 16, 128, step=16, default=64)
        kernels = [hp.Choice("kernel_size", [5, 8, 11], default=8), 5, 3]

        def conv(x, width, kernel, activate=True):
            x = layers.Conv1D(width, kernel, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x, mask=mask)
            return spec.zero_padding(layers.Activation("relu")(x) if activate else x, mask)

        x = spec.zero_padding(x, mask)  # padding is 0 after normalisation, as "same" pads

        if family == "fcn":  # three blocks, widths as in the reference: f, 2f, f
            for width, kernel in zip((filters, 2 * filters, filters), kernels):
                x = conv(x, width, kernel)
        else:
            for block in range(hp.Int("residual_blocks", 1, 3, default=2)):
                width = filters * (2 if block else 1)
                shortcut = conv(x, width, 1, activate=False)
                y = conv(conv(x, width, kernels[0]), width, kernels[1])
                y = conv(y, width, kernels[2], activate=False)
                x = layers.Activation("relu")(layers.Add()([shortcut, y]))
        # averaging over time suits labels; forecasts also need where things happened
        if hp.Choice("readout", ["global_average", "flatten"], default="global_average") == "flatten":
            return layers.Flatten()(x)
        return layers.GlobalAveragePooling1D()(x, mask=mask)


@hookimpl
def register_architectures(register):
    register(CNN())
