"""VGG16 transfer learning for image classification, with staged fine-tuning.

What it is given is adapted inside the model, so an exported model takes raw
pixels: images smaller than 32x32 are resized up, grey images become three
channels, and VGG16's own preprocessing (0-255 BGR minus the ImageNet means) is a
fixed 1x1 convolution. With pretrained weights the base first trains frozen for
a few epochs, then its last blocks are unfrozen at a lower learning rate; how
many, how long and how much lower are hyperparameters. With ``weights=None`` the
whole network trains from random initialisation.

Augmentation is searched as for the cnn plugin (``automodel.plugins.augmentation``):
it acts on the resized raw pixels, before VGG16's preprocessing, only while
training; the model a trial hands out (``final_model``) leaves it out.

The portfolio (the settings tried first) is the usual fine-tuning recipe: a
new head trained on the frozen base, then only the last convolutional block
unfrozen, with a head of 256 units and dropout 0.5 (Chollet 2016, "Building
powerful image classification models using very little data", VGG16 on 2,000
images), global average pooling and Adam at 1e-3 for the head, 1e-5 for the
fine-tuning (Keras's guide "Transfer learning & fine-tuning"); the second entry
adds mild augmentation, never flipped. Without pretrained weights the whole
network trains from the start, at 1e-4.

Weights: ``"imagenet"`` (Keras downloads and caches them), a local file (for
air-gapped machines: pass ``VGG16Transfer(weights=PATH)`` in ``architectures=`` or
set ``AUTOMODEL_VGG16_WEIGHTS=PATH``), or ``None``.
"""

import os

from automodel import Architecture, PluginError, hookimpl

WEIGHTS_ENV = "AUTOMODEL_VGG16_WEIGHTS"
WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{WEIGHTS_FILE}"
WEIGHTS_MD5 = "6d6bbae143d832006294945121d1f1fc"
IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)
MIN_SIZE = 32
BLOCKS = 5
HEAD = {"pooling": "avg", "dense_units": 256, "dropout": 0.5, "augment": False}
FINE_TUNING = {"learning_rate": 1e-3, "unfreeze_blocks": 1, "frozen_epochs": 2, "fine_tune_lr_ratio": 0.01}
AUGMENTED = {"augment": True, "augment_strength": 0.1, "flip": "none"}


class VGG16Transfer(Architecture):
    name = "vgg16"
    tasks = ("image_classification",)
    description = "VGG16 transfer learning: ImageNet weights, frozen then fine-tuned last blocks"

    def __init__(self, weights="imagenet"):
        self.weights = weights
        self._weights_path = None

    @property
    def pretrained(self) -> bool:
        return self.weights is not None

    def prepare(self, spec):
        channels = spec.input_shape[-1]
        if channels not in (1, 3):
            raise PluginError(f"vgg16 takes grey or RGB images (1 or 3 channels); these have {channels}.")
        if not self.pretrained:
            return
        source = os.environ.get(WEIGHTS_ENV) if self.weights == "imagenet" else self.weights
        if source:
            if not os.path.isfile(source):
                raise PluginError(
                    f"VGG16 weights file {source} does not exist. Pass the path of "
                    f"{WEIGHTS_FILE} (or of weights saved from keras.applications.VGG16(include_top=False))."
                )
            self._weights_path = source
            return
        import keras

        try:
            self._weights_path = keras.utils.get_file(WEIGHTS_FILE, WEIGHTS_URL, cache_subdir="models", file_hash=WEIGHTS_MD5)
        except Exception as exc:
            raise PluginError(
                f"Could not download the VGG16 ImageNet weights ({type(exc).__name__}: {exc}). On a machine "
                f"without internet, fetch {WEIGHTS_URL} elsewhere and either put it in ~/.keras/models/, "
                f"or pass its path: {WEIGHTS_ENV}=/path/{WEIGHTS_FILE} or "
                "architectures=[VGG16Transfer(weights='/path/...')] (from automodel.plugins.vgg16); "
                "or use weights=None to train from scratch."
            ) from exc

    def build(self, hp, spec):
        import keras
        from keras import layers

        from .augmentation import augment

        height, width, channels = spec.input_shape
        size = (max(height, MIN_SIZE), max(width, MIN_SIZE))
        inputs, x = spec.inputs(normalize=False)
        if size != (height, width):
            x = layers.Resizing(*size, name="resize")(x)
        x = augment(hp, x)
        x = _vgg16_preprocessing(spec.value_range, channels)(x)
        base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(*size, 3))
        x = base(x)
        if hp.Choice("pooling", ["avg", "flatten"], default="avg") == "avg":
            x = layers.GlobalAveragePooling2D()(x)
        else:
            x = layers.Flatten()(x)
        dense_units = hp.Choice("dense_units", [0, 128, 256, 512], default=256)
        if dense_units:
            x = layers.Dense(dense_units, activation="relu")(x)
        x = layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3))(x)
        model = keras.Model(inputs, spec.head(x), name="vgg16_transfer")
        learning_rate = hp.Float("learning_rate", 1e-5, 1e-3, sampling="log", default=1e-4)
        if self.pretrained:
            hp.Int("unfreeze_blocks", 0, 3, default=1)
            hp.Int("frozen_epochs", 1, 5, default=2)
            hp.Choice("fine_tune_lr_ratio", [0.01, 0.1, 0.3], default=0.1)
        return spec.compile(model, learning_rate=learning_rate)

    def portfolio(self, spec):
        head = {**HEAD, **FINE_TUNING} if self.pretrained else {**HEAD, "learning_rate": 1e-4}
        return [dict(head), {**head, **AUGMENTED}]

    def final_model(self, model):
        from .augmentation import without_augmentation

        return without_augmentation(model)

    def fit(self, hp, model, spec, *args, epochs=1, **kwargs):
        if not self.pretrained:
            return model.fit(*args, epochs=epochs, **kwargs)
        base = model.get_layer("vgg16")
        base.load_weights(self._weights_path)
        learning_rate = hp.get("learning_rate")
        frozen_epochs = min(hp.get("frozen_epochs"), epochs)
        unfreeze = hp.get("unfreeze_blocks")

        base.trainable = False
        spec.compile(model, learning_rate=learning_rate)
        first = model.fit(*args, epochs=epochs if unfreeze == 0 else frozen_epochs, **kwargs)
        if unfreeze == 0 or frozen_epochs >= epochs:
            return first
        base.trainable = True
        for layer in base.layers:
            layer.trainable = layer.name.startswith(tuple(f"block{b}_" for b in range(BLOCKS - unfreeze + 1, BLOCKS + 1)))
        spec.compile(model, learning_rate=learning_rate * hp.get("fine_tune_lr_ratio"))
        second = model.fit(*args, epochs=epochs, initial_epoch=frozen_epochs, **kwargs)
        second.history = {k: first.history.get(k, []) + v for k, v in second.history.items()}
        return second


def _vgg16_preprocessing(value_range, channels):
    """A fixed 1x1 convolution: data range to 0-255, grey or RGB to BGR, minus ImageNet means."""
    import numpy as np
    from keras import initializers, layers

    low, high = value_range
    scale = 255.0 / max(high - low, 1e-8)
    kernel = np.zeros((1, 1, channels, 3), dtype="float32")
    for out in range(3):  # BGR output channel `out` reads RGB channel 2 - out (or the grey one)
        kernel[0, 0, 0 if channels == 1 else 2 - out, out] = scale
    bias = -scale * low - np.array(IMAGENET_BGR_MEANS, dtype="float32")
    return layers.Conv2D(
        3, 1, kernel_initializer=initializers.Constant(kernel), bias_initializer=initializers.Constant(bias),
        trainable=False, name="vgg16_preprocess",
    )


@hookimpl
def register_architectures(register):
    register(VGG16Transfer())
