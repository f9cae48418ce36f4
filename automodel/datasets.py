"""Built-in demo data sets, embedded so a first search needs no download.

``digits`` ships with scikit-learn; the others are generated from a fixed seed,
so every machine sees the same samples. Each is small enough for tests and hard
enough that a model has to learn something (chance is far below a good score).
"""

import numpy as np

from .hookspecs import hookimpl


def load_digits():
    """scikit-learn's 8x8 handwritten digits: 1,797 grey images of 0-9, values 0-16."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return bunch.images.astype("float32"), bunch.target


def load_waveforms(samples_per_class: int = 200, timesteps: int = 48):
    """Noisy sine, square and sawtooth waves of random frequency, phase and amplitude.

    x: (600, 48, 1) float32; y: "sine", "square" or "sawtooth".
    """
    rng = np.random.default_rng(0)
    shapes = {
        "sine": lambda phase: np.sin(2 * np.pi * phase),
        "square": lambda phase: np.sign(np.sin(2 * np.pi * phase)),
        "sawtooth": lambda phase: 2 * (phase - np.floor(phase + 0.5)),
    }
    t = np.linspace(0, 1, timesteps)
    xs, ys = [], []
    for name, wave in shapes.items():
        cycles = rng.uniform(1.0, 4.0, (samples_per_class, 1))
        offset = rng.uniform(0, 1, (samples_per_class, 1))
        amplitude = rng.uniform(0.5, 1.5, (samples_per_class, 1))
        noise = rng.normal(0, 0.3, (samples_per_class, timesteps))
        xs.append(amplitude * wave(cycles * t + offset) + noise)
        ys += [name] * samples_per_class
    order = rng.permutation(len(ys))
    x = np.concatenate(xs)[order, :, np.newaxis].astype("float32")
    return x, np.array(ys)[order]


def load_series(samples: int = 800, history: int = 32, horizon: int = 4):
    """Windows of noisy seasonal series; the target is the next ``horizon`` values.

    Each window comes from its own series (two sines of random period and
    phase), so a model has to read the pattern to forecast it. x: (800, 32, 1);
    y: (800, 4).
    """
    rng = np.random.default_rng(1)
    t = np.arange(history + horizon)
    period_a = rng.uniform(8, 24, (samples, 1))
    period_b = rng.uniform(3, 7, (samples, 1))
    phase = rng.uniform(0, 2 * np.pi, (samples, 2))
    level = rng.normal(0, 0.5, (samples, 1))
    series = (
        level
        + np.sin(2 * np.pi * t / period_a + phase[:, :1])
        + 0.4 * np.sin(2 * np.pi * t / period_b + phase[:, 1:])
        + rng.normal(0, 0.1, (samples, len(t)))
    ).astype("float32")
    return series[:, :history, np.newaxis], series[:, history:]


_SUBJECTS = ["the battery", "the screen", "this phone", "the camera", "the keyboard", "delivery",
             "the price", "the sound", "this laptop", "the charger", "customer service", "the case"]
_POSITIVE = ["good", "great", "excellent", "reliable", "fast", "sturdy", "bright", "helpful"]
_NEGATIVE = ["bad", "terrible", "awful", "slow", "flimsy", "dim", "noisy", "useless"]
_FILLERS = ["", "", "honestly", "to be fair", "after a month", "for the money", "overall"]


def load_reviews(samples: int = 1000):
    """Short product reviews labelled "positive" or "negative".

    The polarity of the adjective is flipped by "not" ("the screen is not
    bright"), so word order matters and a bag of words is not enough.
    """
    rng = np.random.default_rng(2)
    texts, labels = [], []
    for _ in range(samples):
        positive = rng.random() < 0.5
        negated = rng.random() < 0.4
        adjective = rng.choice(_POSITIVE if positive else _NEGATIVE)
        words = [rng.choice(_FILLERS), rng.choice(_SUBJECTS), "is", "not" if negated else "", adjective]
        if rng.random() < 0.3:
            words += ["and", rng.choice(_SUBJECTS), "is", "fine"]
        texts.append(" ".join(w for w in words if w).capitalize() + rng.choice([".", "!", ""]))
        labels.append("positive" if positive != negated else "negative")
    return np.array(texts, dtype=object), np.array(labels)


@hookimpl
def register_datasets(register):
    register(
        "digits",
        load_digits,
        task=("image_classification", "image_generation"),
        description="1,797 handwritten digits, 8x8 grey, values 0-16 (scikit-learn)",
    )
    register(
        "waveforms",
        load_waveforms,
        task="sequence_classification",
        description="600 noisy sine/square/sawtooth waves, 48 steps (generated)",
    )
    register(
        "series",
        load_series,
        task="sequence_regression",
        description="800 windows of seasonal series, 32 steps in, next 4 out (generated)",
    )
    register(
        "reviews",
        load_reviews,
        task="text_classification",
        description="1,000 short product reviews, positive/negative, with negations (generated)",
    )
