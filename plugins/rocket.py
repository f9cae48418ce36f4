"""Convolutional kernels with a ridge readout, for sequences (MiniRocket and ROCKET).

ROCKET (Dempster, Petitjean and Webb 2020) transforms each series with thousands
of random, fixed, dilated convolutions and keeps two features per kernel, the
proportion of positive values (PPV) and the maximum; a linear model on those
features matches far costlier time-series classifiers. MiniRocket (Dempster,
Schmidt and Webb 2021) makes it almost deterministic: 84 fixed kernels, dilations
exponentially spaced up to the series' length, PPV only, and biases taken from
quantiles of the training series' own convolutions (``minirocket.py``). The
``transform`` hyperparameter chooses between them. MiniRocket comes first in the
portfolio, with its published 10,000 features; ROCKET's transform here has
kernels of one length with weights drawn from N(0, 1) and centred, biases from
U(-1, 1), ``DILATIONS`` dilations from 1 to about the series' length spaced as
MiniRocket spaces them, half of them padded ("same") and half not, as ROCKET
draws padding. Only the readout learns: standardised features into the task's
output layer.

The kernels are frozen ``Conv1D`` layers inside the model (grouped by dilation
and padding), drawn from a fixed seed, so the model takes raw series, saves,
reloads and exports like any other, and every build of a configuration has the
same kernels; MiniRocket's biases, set from the training data in ``fit``, are
those layers' weights too. Series of unequal length are padded and masked: only
"same" convolutions are used, and the features are taken over the real
timesteps. Each epoch recomputes the features (the convolutions are cheap next
to a trained network's forward and backward passes, and they run on the GPU).

The readout is ROCKET's: on up to ``RIDGE_LIMIT`` training samples, ridge
regression solved in closed form on the standardised features, its penalty
chosen by leave-one-out error over MiniRocket's ``ALPHAS`` (scikit-learn's
``RidgeCV``, which gets every leave-one-out prediction from one decomposition).
Classes are coded -1/+1 as ``RidgeClassifierCV`` codes them, and the scores
become probabilities through one temperature, fitted on the leave-one-out
scores (honest, since the fitted scores of a ridge with more features than
samples are near perfect). The solution is written into the model's
``training_range`` and ``head`` layers, on features scaled to their training
range and held in it, so a new series cannot push a rare feature thousands of
standard deviations out; one frozen epoch then lets the trial's callbacks see
its validation scores. Above ``RIDGE_LIMIT`` samples (where the
paper, too, moves to a trained logistic readout) the readout trains by
gradient steps, with a tuned learning rate and dropout. The choice follows from
``spec.samples`` and is recorded as the ``readout`` hyperparameter.

On OSULeaf, ACSF1 and Covid3Month the closed-form readout took a second where
the trained one took minutes, and scored better: ACSF1 0.86 against 0.80, and
Covid3Month's RMSE 0.042 against 0.68 (the trained readout's outputs had not
settled in 475 epochs). On the published splits one MiniRocket trial (5-fold
cross-validation, then the refit) matched aeon's MiniRocket, where ROCKET's
transform trailed it: ACSF1 0.91 (ROCKET's 0.86, aeon 0.91), OSULeaf 0.9587
(aeon 0.9587), Covid3Month RMSE 0.0409 (aeon 0.0410); it took about twice
ROCKET's time (10,000 features against 2,000 kernels), a minute or two on a
2-core CPU. Its portfolio runs before the other architectures' when a search
takes them all (``portfolio_rank = 0``).
"""

from automodel import Architecture, hookimpl
from automodel.plugins import minirocket

DILATIONS = 10  # distinct dilations, as MiniRocket's default number per kernel
SEED = 0  # the kernels' seed: the same configuration always gets the same kernels
RIDGE_LIMIT = 10_000  # training samples up to which the readout is solved in closed form (ridge_limit=)
ALPHAS = tuple(10.0 ** (-3 + 6 * i / 9) for i in range(10))  # ridge penalties: MiniRocket's logspace(-3, 3, 10)
EPSILON = 1e-6  # added to the features' variance before standardising them for the ridge
TEMPERATURES = tuple(10.0 ** (k / 20) for k in range(-40, 41))  # 0.01 to 100, for the classes' probabilities
PORTFOLIO = [  # MiniRocket as published first, then ROCKET's transform
    {"transform": "minirocket", "features": 10000},
    {"transform": "rocket", "kernels": 2000, "kernel_length": 9},
]


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
    description = "MiniRocket or ROCKET: thousands of fixed dilated convolutions' features and a ridge readout"
    portfolio_rank = 0  # seconds per trial where trained networks take minutes: first when all run

    def __init__(self, ridge_limit: int = RIDGE_LIMIT):
        self.ridge_limit = ridge_limit  # a constructor argument, so worker processes get it too

    def build(self, hp, spec):
        import keras
        from keras import layers

        transform = hp.Choice("transform", ["minirocket", "rocket"], default="minirocket")
        with hp.conditional_scope("transform", ["minirocket"]):
            count = hp.Choice("features", [1000, 2500, 5000, 10000], default=10000)
        with hp.conditional_scope("transform", ["rocket"]):
            kernels = hp.Choice("kernels", [1000, 2000, 5000, 10000], default=2000)
            length = hp.Choice("kernel_length", [7, 9, 11], default=9)
        inputs, x = spec.inputs()
        mask = spec.padding_mask(inputs)
        x = spec.zero_padding(x, mask)
        timesteps, channels = spec.input_shape[0], spec.input_shape[-1]
        if transform == "minirocket":
            features = minirocket.transform(x, mask, timesteps, channels, count, spec.padded, SEED)
        else:
            features = _rocket_features(x, mask, kernel_groups(kernels, length, timesteps, spec.padded), length,
                                        channels)
        x = layers.Concatenate(name="features")(features) if len(features) > 1 else features[0]
        if hp.Fixed("readout", self._readout(spec)) == "ridge":
            # each feature scaled to its training range, and held in it (solve_readout sets both)
            x = layers.BatchNormalization(epsilon=EPSILON, name="training_range")(x)
            x = layers.ReLU(max_value=1.0, name="clip_to_training_range")(x)
            return spec.compile(keras.Model(inputs, spec.head(x), name="rocket"))
        x = layers.BatchNormalization(momentum=0.9, name="standardise")(x)  # small data: few steps to settle
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.0)
        if dropout:
            x = layers.Dropout(dropout)(x)
        model = keras.Model(inputs, spec.head(x), name="rocket")
        return spec.compile(model, learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3))

    def fit(self, hp, model, spec, x, y=None, **kwargs):
        if hp.get("transform") == "minirocket":  # its biases come from the training series, before any feature
            minirocket.fit_biases(model, spec, x, hp.get("features"), SEED)
        if hp.get("readout") != "ridge":
            return model.fit(x, y, **kwargs)
        import warnings

        solve_readout(model, spec, x, y, kwargs.get("batch_size") or 32)
        model.trainable = False  # the frozen epoch only measures: the callbacks record it like any other
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The model does not have any trainable weights")
            return model.fit(x, y, **{**kwargs, "epochs": 1})

    def portfolio(self, spec):
        return [dict(entry) for entry in PORTFOLIO]

    def _readout(self, spec) -> str:
        return "ridge" if spec.samples is None or spec.samples <= self.ridge_limit else "gradient"


def _rocket_features(x, mask, groups, length: int, channels: int) -> list:
    """ROCKET's PPV and max of random kernels (N(0, 1), centred; biases U(-1, 1)), one frozen Conv1D per group."""
    import numpy as np
    from keras import layers

    rng = np.random.default_rng(SEED)
    features = []
    for dilation, padding, count in groups:
        weights = rng.standard_normal((length, channels, count)).astype("float32")
        weights -= weights.mean(axis=0, keepdims=True)
        biases = rng.uniform(-1.0, 1.0, count).astype("float32")
        conv = layers.Conv1D(count, length, dilation_rate=dilation, padding=padding, trainable=False,
                             name=f"kernels_d{dilation}_{padding}")
        activations = conv(x)
        conv.set_weights([weights, biases])
        features += [minirocket.ppv(activations, mask), _max(activations, mask)]
    return features


def solve_readout(model, spec, x, y, batch_size: int) -> None:
    """Set ``model``'s standardisation and head to the ridge solution on ``(x, y)``."""
    import keras
    import numpy as np
    from sklearn.linear_model import RidgeCV

    features = keras.Model(model.inputs, model.get_layer("features").output).predict(x, batch_size=batch_size, verbose=0)
    features = features.astype("float64")
    mean, variance = features.mean(axis=0), features.var(axis=0)
    variance[variance == 0] = 1.0  # a constant feature stays as it is, as scikit-learn's StandardScaler leaves it
    # features of tiny variance (PPV near 0 or 1) keep their scale: Keras' epsilon of 1e-3 costs ACSF1 3 points
    spread = np.sqrt(variance + EPSILON)
    standardised = (features - mean) / spread
    if spec.is_classification:
        targets = 2.0 * np.eye(spec.num_classes)[np.asarray(y, dtype="int64")] - 1.0
    else:
        targets = np.asarray(y, dtype="float64").reshape(len(features), -1)
    # a scorer makes RidgeCV keep the leave-one-out predictions (without one it keeps their squared errors);
    # mean squared error is what it minimises without one, so the penalty chosen is the same
    ridge = RidgeCV(alphas=ALPHAS, scoring="neg_mean_squared_error", store_cv_results=True).fit(standardised, targets)
    scale = 1.0
    if spec.is_classification:
        held_out = ridge.cv_results_[..., ALPHAS.index(ridge.alpha_)]  # leave-one-out scores
        scale = _temperature(held_out, np.asarray(y, dtype="int64"))
    outputs = targets.shape[1]  # scikit-learn drops a single target's axis
    kernel, bias = scale * np.reshape(ridge.coef_, (outputs, -1)).T, scale * np.reshape(ridge.intercept_, outputs)
    _hold_in_training_range(model, features, mean, spread, kernel, bias)


def _hold_in_training_range(model, features, mean, spread, kernel, bias) -> None:
    """Write the ridge solution on standardised features as one on features scaled to, and clipped at, their range.

    The model computes ``u = (f - low) / (high - low)``, clipped to [0, 1], and
    ``u @ kernel' + bias'``: on the training series that is the ridge's own
    ``z @ kernel + bias`` (``z = (f - mean) / spread``), and a series with a
    feature beyond its training range counts it at the range's edge rather than
    at thousands of standard deviations out: one such series in a fold of
    Covid3Month was off by 0.64 (targets' spread 0.04), and MiniRocket's
    cross-validated RMSE went from 0.062 to 0.041 (the test set's 0.041 alike).
    """
    import numpy as np

    low, high = features.min(axis=0), features.max(axis=0)
    width = np.where(high > low, high - low, 1.0)  # a constant feature is 0 in training, and weighs nothing
    scaling = model.get_layer("training_range")
    # inference: (f - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, with the square root at 1
    scaling.set_weights([(1.0 / width).astype("float32"), np.zeros_like(low, dtype="float32"),
                         low.astype("float32"), np.full(low.shape, 1.0 - scaling.epsilon, dtype="float32")])
    per_unit = (width / spread)[:, None]  # z = (low - mean) / spread + u * width / spread
    model.get_layer("head").set_weights([(per_unit * kernel).astype("float32"),
                                         (bias + ((low - mean) / spread) @ kernel).astype("float32")])


def _temperature(scores, labels) -> float:
    """The factor on the scores whose softmax gives the held-out labels the least cross-entropy."""
    import numpy as np
    from scipy.special import log_softmax

    losses = [-log_softmax(t * scores, axis=1)[np.arange(len(labels)), labels].mean() for t in TEMPERATURES]
    return TEMPERATURES[int(np.argmin(losses))]


def _max(activations, mask):
    """Per channel: the maximum, over the real timesteps."""
    from keras import ops

    if mask is None:
        return ops.max(activations, axis=1)
    real = ops.expand_dims(mask, -1)
    lowest = ops.min(activations, axis=1, keepdims=True)
    return ops.max(ops.where(real, activations, lowest), axis=1)


@hookimpl
def register_architectures(register):
    register(Rocket())
