"""The quality benchmark's data sets: loaded, shaped and split the same way for every method.

Each data set comes as a training set and a test set:

- ``digits``: automodel's built-in 8x8 digits. The test set is the test split of
  automodel's seeded 70/15/15 split (``automodel.data.prepare``); its train and
  validation splits together are the training set.
- the UCR/UEA sets that aeon ships inside its package (no download): ACSF1,
  OSULeaf, JapaneseVowels, PickupGestureWiimoteZ (classification) and
  Covid3Month (regression), each with its own published train/test split.

Methods that tune on validation data (automodel, the scikit-learn grids, the
plain KerasTuner search) split the training set exactly as ``automodel.search``
does, by calling ``automodel.data.prepare`` with the same seed, so they all see
one validation split. The UCR methods (1-NN, MiniRocket) fit on the whole
training set, as that archive's protocol does.

Shapes: automodel takes sequences as ``(samples, timesteps, features)``; aeon
gives ``(samples, channels, timepoints)``, or a list of ``(channels, t_i)``
arrays for the sets of unequal length (JapaneseVowels, PickupGestureWiimoteZ).
Those are padded at the end to the longest series of their training and test
sets, by ``pad_to_longest`` alone: with zeros for the baselines (the
scikit-learn models and 1-NN take them flattened, ``flat``; MiniRocket, which
takes no unequal lengths, as aeon's ``(samples, channels, timepoints)``,
``channels_first``), and with automodel's own padding value for automodel
(``for_automodel``), which its models then mask as they mask a list of series.
A list would be padded to the longest *training* series only, and JapaneseVowels'
test set holds longer ones, which automodel rightly refuses to cut.

Class labels become ``0..k-1`` here (sorted, as automodel would encode them),
so every method predicts the same labels. aeon is imported only to load its
sets; it is the optional extra ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

# name -> (task, aeon loader or None for automodel's own)
DATASETS = {
    "digits": ("image_classification", None),
    "ACSF1": ("sequence_classification", "load_acsf1"),
    "OSULeaf": ("sequence_classification", "load_osuleaf"),
    "JapaneseVowels": ("sequence_classification", "load_japanese_vowels"),
    "PickupGestureWiimoteZ": ("sequence_classification", "load_pickup_gesture_wiimoteZ"),
    "Covid3Month": ("sequence_regression", "load_covid_3month"),
}
AEON_MISSING = 'aeon is not installed: pip install -e ".[bench]"'


@dataclasses.dataclass
class Dataset:
    """One data set's arrays; ``fit`` + ``validation`` is automodel's split of ``train``."""

    name: str
    task: str
    train: tuple  # the whole training set (x, y)
    test: tuple
    fit: tuple  # the part the tuned methods train on
    validation: tuple  # the part they choose on
    lengths: tuple[int, int] | None = None  # shortest and longest series before padding
    series: tuple[list, list] | None = None  # the train and test series before padding, if unequal

    @property
    def classification(self) -> bool:
        return self.task.endswith("classification")

    def for_automodel(self) -> tuple[tuple, tuple]:
        """(train, test) as ``automodel.search`` gets them: unequal series padded with its padding value."""
        if self.series is None:
            return self.train, self.test
        from automodel.tasks import PADDING_VALUE

        x_train, x_test = pad_to_longest(*self.series, value=PADDING_VALUE)
        return (x_train, self.train[1]), (x_test, self.test[1])

    def describe(self) -> dict:
        """What the table says about it."""
        return {
            "task": self.task,
            "n_train": len(self.train[0]),
            "n_fit": len(self.fit[0]),
            "n_validation": len(self.validation[0]),
            "n_test": len(self.test[0]),
            "classes": int(len(np.unique(self.train[1]))) if self.classification else None,
            "shape": list(self.train[0].shape[1:]),
            "lengths": list(self.lengths) if self.lengths else None,
        }


def needs_aeon(name: str) -> bool:
    return DATASETS[name][1] is not None


def load(name: str, seed: int = 0) -> Dataset:
    """The data set ``name``, its training set split as ``automodel.search(seed=seed)`` splits it."""
    from automodel.data import prepare

    task, loader = DATASETS[name]
    if loader is None:
        digits = prepare(None, name, seed=seed)
        train = tuple(np.concatenate(parts) for parts in zip(digits.train, digits.validation))
        test, series = digits.test, None
    else:
        train, test, series = _from_aeon(loader)
    if task.endswith("classification"):
        train, test = _encode_labels(train, test)
    split = prepare(task, train, seed=seed, test_data=test)
    every = [len(s) for part in series for s in part] if series else None
    lengths = (min(every), max(every)) if every else None
    return Dataset(name, task, train, test, split.train, split.validation, lengths, series)


def _from_aeon(loader: str):
    try:
        import aeon.datasets
    except ImportError as exc:
        raise ImportError(AEON_MISSING) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # aeon 1.6 deprecates shipping ACSF1 and OSULeaf
        (x_train, y_train), (x_test, y_test) = (getattr(aeon.datasets, loader)(split=s) for s in ("train", "test"))
    series = None
    if isinstance(x_train, list):  # unequal lengths: (timesteps, features) each
        series = tuple([np.asarray(one, dtype="float32").T for one in part] for part in (x_train, x_test))
        x_train, x_test = pad_to_longest(*series)
    else:
        x_train, x_test = (np.transpose(x, (0, 2, 1)) for x in (x_train, x_test))
    as_y = (lambda y: y.astype("float32")) if y_train.dtype.kind == "f" else np.asarray
    return (x_train.astype("float32"), as_y(y_train)), (x_test.astype("float32"), as_y(y_test)), series


def pad_to_longest(*sets: list[np.ndarray], value: float = 0.0) -> list[np.ndarray]:
    """Lists of ``(t_i, features)`` series -> ``(samples, longest t, features)`` arrays, ``value`` at the end.

    The one place unequal lengths are evened out, so every method sees the same
    series at the same length: the longest over all the sets given (train and test).
    """
    longest = max(len(series) for part in sets for series in part)
    padded = []
    for part in sets:
        out = np.full((len(part), longest, part[0].shape[1]), value, dtype="float32")
        for i, series in enumerate(part):
            out[i, : len(series)] = series
        padded.append(out)
    return padded


def _encode_labels(train: tuple, test: tuple) -> tuple[tuple, tuple]:
    classes, y_train = np.unique(train[1], return_inverse=True)
    unknown = set(np.unique(test[1])) - set(classes)
    if unknown:
        raise ValueError(f"test labels {sorted(unknown)} are not in the training set")
    return (train[0], y_train.astype("int64")), (test[0], np.searchsorted(classes, test[1]).astype("int64"))


def flat(x: np.ndarray) -> np.ndarray:
    """``(samples, ...)`` -> ``(samples, features)``, as the scikit-learn models and 1-NN take it."""
    return x.reshape(len(x), -1)


def channels_first(x: np.ndarray) -> np.ndarray:
    """``(samples, timesteps, features)`` -> aeon's ``(samples, channels, timepoints)``."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 1)))
