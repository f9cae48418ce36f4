"""Random convolutional kernels with a trained linear readout, for sequences (ROCKET).

ROCKET (Dempster, Petitjean and Webb 2020) transforms each series with thousands
of random, fixed, dilated convolutions and keeps two features per kernel, the
proportion of positive values (PPV) and the maximum; a linear model on those
features matches far costlier time-series classifiers. MiniRocket (Dempster et
al. 2021) showed that a small fixed set of dilations, exponentially spaced up to
the series' length, does as well as drawing one per kernel. This plugin follows
both: kernels of one length with weights drawn from N(0, 1) and centred, biases
from U(-1, 1), ``DILATIONS`` dilations from 1 to about the series' length, half
of them padded ("same") and half not, as ROCKET draws padding. Only the readout
trains: batch-normalised features into the task's output layer.

The kernels are frozen ``Conv1D`` layers inside the model (grouped by dilation
and padding), drawn from a fixed seed, so the model takes raw series, saves,
reloads and exports like any other, and every build of a configuration has the
same kernels. Series of unequal length are padded and masked: only "same"
convolutions are used, and PPV and maximum are taken over the real timesteps.
Each epoch recomputes the features (the convolutions are cheap next to a
trained network's forward and backward passes, and they run on the GPU).

Its portfolio runs before the other architectures' when a search takes them
all (``portfolio_rank = 0``). It tries 2,000 kernels (4,000 features): on OSULeaf (200
series of 427 steps) a readout trained for 30 epochs on them reached 0.93 test
accuracy on a 2-core CPU, where the convolutional networks barely started.
"""

from automodel import Architecture, hookimpl

DILATIONS = 10  # distinct dilations, as MiniRocket's default number per kernel
SEED = 0  # the kernels' seed: the same configuration always gets the same kernels
PORTFOLIO = [{"kernels": 2000, "kernel_length": 9, "dropout": 0.0, "learning_rate": 1e-3}]


def kernel_groups(kernels: int, length: int, timesteps: int, padded: bool) -> list[tuple[int, str, int]]:
    """``(dilation, padding, count)`` of each group of kernels, in a fixed order."""
    import numpy as np

    reach = np.log2(max(timesteps - 1, 1) / (length - 1))
    dilations = sorted({int(d) for d in 2 ** np.linspace(0, max(reach, 0.0), DILATIONS)})
    paddings = ("same",) if padded else ("same", "valid")
    # "valid" needs the dilated kernel to fit in the series
    combos = [(d, p) for d in dilations for p in paddings if p == "same" or (length - 1) * d < timesteps]
    counts = [kernels // len(combos) + (i < kernels % len(combos)) for i in range(len(combos))]
    return [(d, p, n) for (d, p), n in zip(combos, counts) if n]


class Rocket(Architecture):
    name = "rocket"
    tasks = ("sequence_classification", "sequence_regression")
    description = "ROCKET: thousands of random dilated convolutions (PPV and max features) and a linear readout"
    portfolio_rank = 0  # seconds per trial where trained networks take minutes: first when all run

    def build(self, hp, spec):
        import keras
        import numpy as np
        from keras import layers

        kernels = hp.Choice("kernels", [1000, 2000, 5000, 10000], default=2000)
        length = hp.Choice("kernel_length", [7, 9, 11], default=9)
        inputs, x = spec.inputs()
        mask = spec.padding_mask(inputs)
        x = spec.zero_padding(x, mask)
        timesteps, channels = spec.input_shape[0], spec.input_shape[-1]
        rng = np.random.default_rng(SEED)
        features = []
        for dilation, padding, count in kernel_groups(kernels, length, timesteps, spec.padded):
            weights = rng.standard_normal((length, channels, count)).astype("float32")
            weights -= weights.mean(axis=0, keepdims=True)
            biases = rng.uniform(-1.0, 1.0, count).astype("float32")
            conv = layers.Conv1D(count, length, dilation_rate=dilation, padding=padding, trainable=False,
                                 name=f"kernels_d{dilation}_{padding}")
            activations = conv(x)
            conv.set_weights([weights, biases])
            features += _ppv_and_max(activations, mask)
        x = layers.Concatenate(name="features")(features) if len(features) > 1 else features[0]
        x = layers.BatchNormalization(momentum=0.9, name="standardise")(x)  # small data: few steps to settle
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.0)
        if dropout:
            x = layers.Dropout(dropout)(x)
        model = keras.Model(inputs, spec.head(x), name="rocket")
        return spec.compile(model, learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3))

    def portfolio(self, spec):
        return [dict(entry) for entry in PORTFOLIO]


def _ppv_and_max(activations, mask):
    """Per kernel: the proportion of positive values and the maximum, over the real timesteps."""
    from keras import ops

    positive = ops.cast(ops.greater(activations, 0.0), "float32")
    if mask is None:
        return [ops.mean(positive, axis=1), ops.max(activations, axis=1)]
    real = ops.expand_dims(ops.cast(mask, "float32"), -1)
    ppv = ops.sum(positive * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
    lowest = ops.min(activations, axis=1, keepdims=True)
    return [ppv, ops.max(ops.where(real > 0, activations, lowest), axis=1)]


@hookimpl
def register_architectures(register):
    register(Rocket())
