"""Image augmentation as hyperparameters, for the cnn and vgg16 plugins.

``augment(hp, x)`` declares the search's choices and applies them to images ``x``:

- ``augment`` (Boolean, default off): random translation, rotation and zoom
  while training (the small affine distortions that help digit and character
  recognition, Simard et al. 2003, "Best practices for convolutional neural
  networks applied to visual document analysis");
- ``augment_strength`` (0.05, 0.1, 0.2): shifts and zooms of up to that
  fraction of the image, rotations of up to that fraction of 90 degrees;
- ``flip`` ("none", "horizontal"): a mirrored digit or letter is another
  symbol, so flipping is never forced; the search may pick it for photos.

The last two are conditional on ``augment``, so a tuner does not vary them for
nothing. The layers form one ``keras.Sequential`` named ``augmentation``. Keras's
random layers pass inputs through unchanged unless called with ``training=True``
(inside ``fit``), so inference is deterministic; even so, ``without_augmentation``
gives the trained model without them, sharing its weights, and the plugins
hand out that model (``Architecture.final_model``): what is predicted, evaluated
and exported holds only layers that act at inference, so its model card does
not list training-time noise as preprocessing a deployment gets for free.

This module imports Keras; the plugins import it only when building a model.
"""

import keras
from keras import layers

AUGMENTATION = "augmentation"
STRENGTHS = (0.05, 0.1, 0.2)
FLIPS = ("none", "horizontal")


def augment(hp, x):
    """Declare the augmentation hyperparameters on ``hp``; return ``x`` augmented (or as it was)."""
    enabled = hp.Boolean("augment", default=False)
    with hp.conditional_scope("augment", [True]):
        strength = hp.Choice("augment_strength", STRENGTHS, default=0.1)
        flip = hp.Choice("flip", FLIPS, default="none")
    if not enabled:
        return x
    return augmentation(strength, flip)(x)


def augmentation(strength: float, flip: str = "none") -> keras.Sequential:
    """The training-only layers: an optional flip, then translation, rotation and zoom."""
    steps = [layers.RandomFlip(flip)] if flip != "none" else []
    steps += [
        layers.RandomTranslation(strength, strength),
        layers.RandomRotation(strength / 4),  # a fraction of a full turn: strength x 90 degrees
        layers.RandomZoom(strength),
    ]
    return keras.Sequential(steps, name=AUGMENTATION)


def without_augmentation(model):
    """``model`` without its ``augmentation`` layer, sharing every weight; ``model`` itself if it has none."""
    if AUGMENTATION not in {layer.name for layer in model.layers}:
        return model

    def call(layer, *args, **kwargs):
        return args[0] if layer.name == AUGMENTATION else layer(*args, **kwargs)

    # the same layer objects, called on a fresh input; the compile settings are copied
    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
