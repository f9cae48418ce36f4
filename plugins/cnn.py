"""Convolutional networks: 2-D conv blocks for images, 1-D FCN and ResNet for sequences.

For sequences the two families are those that lead the published time-series
classification benchmarks (Wang et al. 2017, "Time series classification from
scratch with deep neural networks"; Ismail Fawaz et al. 2019): a fully
convolutional network (conv, batch norm, ReLU blocks, then global average
pooling) and a residual network (blocks of three convolutions with a shortcut).

For images, augmentation is searched too (``automodel.plugins.augmentation``):
random shifts, rotations and zooms, with a horizontal flip only where the search
picks it. It acts on the normalised pixels, right after the task's input, and
only while training; the model a trial hands out (``final_model``) leaves it out.

The portfolio (the settings a search tries first, best first) holds the
published reference settings:

- sequence labels: the ResNet and FCN of Wang et al. 2017, in the order of
  Ismail Fawaz et al. 2019's ranking over the 85 UCR data sets (ResNet first):
  ResNet with three residual blocks of 64/128/128 filters, FCN with 128/256/128
  filters, both with kernels 8/5/3, batch norm, ReLU, global average pooling,
  no dense layer, no dropout, Adam at 1e-3.
- sequence regression: the same two networks (as the time series extrinsic
  regression benchmark uses them, Tan et al. 2021) with a 128-unit ReLU layer
  between the pooling and the linear output: on the ``series`` demo (variance
  0.80) the best validation MSE in 60 epochs fell from 0.21 to 0.15 for ResNet
  and from 0.34 to 0.17 for FCN (flattening instead of pooling: 0.29).
- images: a compact VGG-style network (Simonyan and Zisserman 2015: stacked
  3x3 convolutions and max pooling, here with batch norm, Ioffe and Szegedy
  2015): three blocks of 32/64/128 filters, flattened into a 128-unit layer,
  dropout 0.4, Adam at 1e-3; then the same with mild shifts, rotations and
  zooms (the affine distortions of Simard et al. 2003), never flipped.
"""

from automodel import Architecture, hookimpl

# Wang et al. 2017's readout and training: no dense layer, no dropout, Adam at 1e-3
_REFERENCE = {"kernel_size": 8, "dense_units": 0, "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-3}
RESNET = {"family": "resnet", "filters": 64, "residual_blocks": 3, "readout": "global_average", **_REFERENCE}
FCN = {"family": "fcn", "filters": 128, "readout": "global_average", **_REFERENCE}
SMALL_VGG = {
    "conv_blocks": 3, "filters_0": 32, "filters_1": 64, "filters_2": 128, "kernel_size": 3, "batch_norm": True,
    "pooling": "max", "global_pooling": False, "dense_units": 128, "dropout": 0.4, "optimizer": "adam",
    "learning_rate": 1e-3, "augment": False,
}
PORTFOLIO = {
    "image_classification": [SMALL_VGG, {**SMALL_VGG, "augment": True, "augment_strength": 0.1, "flip": "none"}],
    "sequence_classification": [RESNET, FCN],
    "sequence_regression": [{**RESNET, "dense_units": 128}, {**FCN, "dense_units": 128}],
}


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

    def portfolio(self, spec):
        return [dict(entry) for entry in PORTFOLIO.get(spec.task, ())]

    def final_model(self, model):
        from .augmentation import without_augmentation

        return without_augmentation(model)

    def _images(self, hp, x):
        from keras import layers

        from .augmentation import augment

        x = augment(hp, x)
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
