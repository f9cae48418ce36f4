"""Data in: turn what the user passes into validated, split arrays and a task spec.

Every check here runs before any training and raises ``DataError`` naming the
problem and the fix. Nothing the user passed is modified: arrays are copied
before they are reshaped or cast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from . import registry
from .errors import DataError
from .tasks import Task, TaskSpec

VALIDATION_FRACTION = 0.15
TEST_FRACTION = 0.15
# rank of one sample (no batch axis) accepted per input kind
SAMPLE_RANKS = {"image": (2, 3), "sequence": (1, 2)}
SAMPLE_RANK_HELP = {
    "image": "(samples, height, width) or (samples, height, width, channels)",
    "sequence": "(samples, timesteps) or (samples, timesteps, features)",
}


@dataclasses.dataclass
class PreparedData:
    """Validated data split three ways, with the spec models are built for."""

    spec: TaskSpec
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    classes: list | None
    fingerprint: str

    def summary(self) -> dict:
        """What the run directory records about the data."""
        summary = {
            "fingerprint": self.fingerprint,
            "split": {
                "train": len(self.train[1]),
                "validation": len(self.validation[1]),
                "test": len(self.test[1]),
            },
        }
        if self.classes is not None:
            counts = np.bincount(self.train[1], minlength=len(self.classes))
            summary["class_balance"] = dict(zip(self.spec.class_names, counts.tolist()))
        return summary


def resolve(task: str | None, data) -> tuple[Task, np.ndarray, np.ndarray]:
    """Find the task and the raw ``(x, y)`` arrays for what the user passed."""
    if isinstance(data, str):
        dataset = registry.get_dataset(data)
        if task is not None and task != dataset.task:
            raise DataError(
                f"Data set {data!r} is for task {dataset.task!r}, not {task!r}. "
                f"Pass task={dataset.task!r} or other data."
            )
        x, y = dataset.loader()
        return registry.get_task(dataset.task), x, y
    if task is None:
        raise DataError("Which task is this data for? Pass task=..., e.g. task='image_classification'.")
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return registry.get_task(task), _as_array(data[0], "x"), _as_array(data[1], "y")
    raise DataError(
        f"Cannot read data of type {type(data).__name__}. Pass a built-in data set name "
        f"(one of {', '.join(sorted(registry.get_datasets()))}) or a tuple (x, y) of arrays."
    )


def _as_array(values, what: str) -> np.ndarray:
    try:
        return np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{what} cannot be read as an array ({exc}). Pass a numpy array.") from exc


def prepare(task: str | None, data, seed: int = 0) -> PreparedData:
    """Validate, encode and split ``data`` for ``task``."""
    task_obj, x, y = resolve(task, data)
    x = to_model_inputs(task_obj.inputs, x)
    classes, y = _encode_targets(task_obj, x, y)
    fingerprint = fingerprint_arrays(x, y)
    train, validation, test = _split(x, y, seed, stratify=classes is not None)
    fields = {
        "input_shape": tuple(x.shape[1:]),
        "input_dtype": str(x.dtype),
        "mean": train[0].reshape(-1, x.shape[-1]).mean(axis=0).astype(float).tolist(),
        "variance": train[0].reshape(-1, x.shape[-1]).var(axis=0).astype(float).tolist(),
    }
    if classes is not None:
        fields.update(num_classes=len(classes), class_names=[str(c) for c in classes])
    else:
        fields["output_shape"] = tuple(y.shape[1:]) or (1,)
    spec = TaskSpec.for_task(task_obj, **fields)
    return PreparedData(spec, train, validation, test, classes, fingerprint)


def to_model_inputs(inputs_kind: str, x, expected_shape: tuple | None = None) -> np.ndarray:
    """A float32 copy of ``x`` shaped as models of this input kind take it."""
    x = _as_array(x, "x")
    ranks = SAMPLE_RANKS[inputs_kind]
    if x.ndim - 1 not in ranks:
        raise DataError(
            f"x has shape {x.shape}, but {inputs_kind} inputs must be shaped "
            f"{SAMPLE_RANK_HELP[inputs_kind]}. Reshape x."
        )
    if not np.issubdtype(x.dtype, np.number) and x.dtype != bool:
        raise DataError(f"x has dtype {x.dtype}; {inputs_kind} inputs must be numbers. Convert x to float.")
    x = x.astype("float32")  # a copy: the user's array is never changed
    if x.ndim - 1 == ranks[0]:
        x = x[..., np.newaxis]  # one channel / one feature
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise DataError(f"x contains {bad} NaN or infinite values. Drop or impute them first.")
    if expected_shape is not None and tuple(x.shape[1:]) != tuple(expected_shape):
        raise DataError(
            f"x has samples of shape {tuple(x.shape[1:])}, but the model takes "
            f"{tuple(expected_shape)}. Pass data shaped like the training data."
        )
    return x


def _encode_targets(task: Task, x: np.ndarray, y: np.ndarray):
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} samples but y has {len(y)}. Pass one label per sample.")
    if len(x) == 0:
        raise DataError("The data is empty. Pass at least a few samples per class.")
    if task.target == "regression":
        if not np.issubdtype(y.dtype, np.number):
            raise DataError(f"y has dtype {y.dtype}; regression targets must be numbers.")
        y = y.astype("float32")
        if not np.isfinite(y).all():
            raise DataError("y contains NaN or infinite values. Drop or impute them first.")
        return None, y
    if y.ndim != 1:
        raise DataError(f"y has shape {y.shape}; classification takes one label per sample (shape (n,)).")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise DataError("y contains NaN or infinite labels. Drop those samples first.")
        if not np.all(np.mod(y, 1) == 0):
            raise DataError(
                "y holds non-integer floats, but classification needs class labels. "
                "Pass integer or string labels, or use a regression task."
            )
        y = y.astype("int64")
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"y has a single class ({classes[0]!r}); classification needs at least two.")
    counts = np.bincount(encoded)
    if counts.min() < 3:
        rare = [str(c) for c, n in zip(classes, counts) if n < 3]
        raise DataError(
            f"Class(es) {', '.join(rare)} have fewer than 3 samples, too few to split into "
            "train, validation and test sets. Add samples or drop those classes."
        )
    return classes.tolist(), encoded.astype("int64")


def _split(x, y, seed, stratify: bool):
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_classes = len(np.unique(y)) if stratify else 1
    n_test = max(math.ceil(n * TEST_FRACTION), n_classes)
    n_val = max(math.ceil(n * VALIDATION_FRACTION), n_classes)
    if n - n_test - n_val < n_classes:
        raise DataError(f"{n} samples are too few to split into train, validation and test sets.")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=n_test, random_state=seed, stratify=y if stratify else None
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=n_val, random_state=seed, stratify=y_rest if stratify else None
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A short content hash: the same data gives the same fingerprint."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]
