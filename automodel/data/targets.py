"""Labels and regression targets: checked, then encoded as the models learn them.

A classification's labels become indices into its sorted classes; a regression's
targets float32. Labels that numpy cannot sort (None, NaN, strings among numbers)
are a ``DataError`` naming the samples, raised before ``np.unique`` would fail
with a bare ``TypeError``; so is data with nothing to learn (one class, one value).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import DataError
from ..tasks import Task
from . import sources

MIN_PER_CLASS = 3  # one sample each for train, validation and test


def encode_labels(y, classes, what: str) -> np.ndarray:
    """Labels as indices into the training data's ``classes``; labels it lacks are a DataError naming them."""
    y = sources.as_array(y, what)
    _check_labels(y, what)
    index = {label: i for i, label in enumerate(classes)}
    values = y.astype("int64").tolist() if np.issubdtype(y.dtype, np.floating) else y.tolist()
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise DataError(
            f"{what} has label(s) {', '.join(unknown)}, not a class of the training data "
            f"(classes: {', '.join(map(str, classes))}). Drop those samples or add them to the training data."
        )
    return np.array([index[v] for v in values], dtype="int64")


def encode(task: Task, x: np.ndarray, y: np.ndarray | None):
    """The training data's classes (None unless classification) and its encoded labels or targets."""
    if y is None:
        if task.target == "generation":
            return None, None
        raise DataError(f"Task {task.name!r} needs targets: pass (x, y).")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} samples but y has {len(y)}. Pass one label per sample.")
    if len(x) == 0:
        raise DataError("The data is empty. Pass at least a few samples per class.")
    if task.target == "regression":
        y = regression_targets(y, "y")
        if (y == y.flat[0]).all():
            raise DataError(
                f"y has the same value ({float(y.flat[0]):g}) for every sample, so there is nothing to learn. "
                "Check the targets (target= for a table)."
            )
        return None, y
    if y.ndim != 1:
        raise DataError(f"y has shape {y.shape}; classification takes one label per sample (shape (n,)).")
    _check_labels(y, "y")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise DataError("y contains infinite labels. Drop those samples first.")
        if not np.all(np.mod(y, 1) == 0):
            raise DataError(
                "y holds non-integer floats, but classification needs class labels. "
                "Pass integer or string labels, or use a regression task."
            )
        y = y.astype("int64")
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"y has a single class ({classes[0]!r}); classification needs at least two. Check the labels "
            "(target= for a table), or add samples of the other classes."
        )
    check_class_counts(classes, np.bincount(encoded))
    return classes.tolist(), encoded.astype("int64")


def regression_targets(y: np.ndarray, what: str) -> np.ndarray:
    """Regression targets as float32: numbers, none missing nor infinite."""
    _check_missing(y, what, "target")
    if y.dtype.kind not in "biuf":
        raise DataError(
            f"{what} has dtype {y.dtype}; regression targets must be numbers. Convert them to float, or use a "
            "classification task for labels."
        )
    y = y.astype("float32")
    if not np.isfinite(y).all():
        raise DataError(f"{what} contains infinite values (or values beyond float32's range). Drop or rescale them.")
    return y


def _check_labels(y: np.ndarray, what: str) -> None:
    """Labels must all be there and of one type: numpy cannot sort None, NaN or strings among numbers."""
    _check_missing(y, what, "label")
    if y.dtype != object:
        return
    kinds = {}  # kind of label -> its first (sample, label)
    for i, label in enumerate(y.ravel()):
        kind = "strings" if isinstance(label, str) else "numbers" if isinstance(label, numbers.Number) else None
        kinds.setdefault(kind or f"{type(label).__name__} objects", (i, label))
    if len(kinds) > 1:
        (a, (i, first)), (b, (j, second)) = list(kinds.items())[:2]
        raise DataError(
            f"{what} mixes {a} and {b} as labels (sample {i}: {first!r}, sample {j}: {second!r}). Pass labels "
            "of one type: all strings, or all integers."
        )


def _check_missing(y: np.ndarray, what: str, noun: str) -> None:
    """Name the samples whose label or target is None or NaN (pandas reads an empty cell as NaN)."""
    if y.size == 0:
        return
    if y.dtype.kind == "f":
        missing = np.isnan(y)
    elif y.dtype == object:
        missing = np.vectorize(_is_missing, otypes=[bool])(y)
    else:
        return
    rows = np.flatnonzero(missing.reshape(len(y), -1).any(axis=1))
    if len(rows):
        raise DataError(
            f"{what} has {len(rows)} missing {noun}(s) (None or NaN), at {sources.samples(rows)}. Drop those "
            f"samples or fill in their {noun}s."
        )


def _is_missing(value) -> bool:
    missing = value is None or type(value).__name__ in ("NAType", "NaTType")  # pandas' own missing values
    return missing or (isinstance(value, (float, np.floating)) and math.isnan(value))


def check_class_counts(classes, counts) -> None:
    if counts.min() < MIN_PER_CLASS:
        rare = [str(c) for c, n in zip(classes, counts) if n < MIN_PER_CLASS]
        raise DataError(
            f"Class(es) {', '.join(rare)} have fewer than {MIN_PER_CLASS} samples, too few to split into "
            "train, validation and test sets. Add samples or drop those classes."
        )
