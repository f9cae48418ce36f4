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
# rank of one sample (no batch axis) accepted per numeric input kind; the
# lower rank gets a channel / feature axis of 1
SAMPLE_RANKS = {"image": (2, 3), "sequence": (1, 2)}
SAMPLE_RANK_HELP = {
    "image": "(samples, height, width) or (samples, height, width, channels)",
    "sequence": "(samples, timesteps) or (samples, timesteps, features)",
    "text": "(samples,): one string per sample",
}
VOCABULARY_LIMIT = 20_000


@dataclasses.dataclass
class PreparedData:
    """Validated data split three ways, with the spec models are built for.

    ``y`` is None throughout for generation data without labels.
    """

    spec: TaskSpec
    train: tuple[np.ndarray, np.ndarray | None]
    validation: tuple[np.ndarray, np.ndarray | None]
    test: tuple[np.ndarray, np.ndarray | None]
    classes: list | None
    fingerprint: str

    def summary(self) -> dict:
        """What the run directory records about the data."""
        summary = {
            "fingerprint": self.fingerprint,
            "split": {
                "train": len(self.train[0]),
                "validation": len(self.validation[0]),
                "test": len(self.test[0]),
            },
        }
        if self.classes is not None:
            counts = np.bincount(self.train[1], minlength=len(self.classes))
            summary["class_balance"] = dict(zip(self.spec.class_names, counts.tolist()))
        return summary


def resolve(task: str | None, data) -> tuple[Task, np.ndarray, np.ndarray | None]:
    """Find the task and the raw ``(x, y)`` arrays for what the user passed."""
    if isinstance(data, str):
        dataset = registry.get_dataset(data)
        if task is not None and task not in dataset.tasks:
            raise DataError(
                f"Data set {data!r} is for {' or '.join(map(repr, dataset.tasks))}, not {task!r}. "
                f"Pass task={dataset.tasks[0]!r} or other data."
            )
        x, y = dataset.loader()
        return registry.get_task(task or dataset.tasks[0]), x, y
    if task is None:
        raise DataError("Which task is this data for? Pass task=..., e.g. task='image_classification'.")
    task_obj = registry.get_task(task)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        y = None if data[1] is None else _as_array(data[1], "y")
        return task_obj, _as_array(data[0], "x"), y
    if isinstance(data, np.ndarray) and task_obj.target == "generation":
        return task_obj, data, None
    raise DataError(
        f"Cannot read data of type {type(data).__name__}. Pass a built-in data set name "
        f"(one of {', '.join(sorted(registry.get_datasets()))}) or a tuple (x, y) of arrays"
        + (" (or images alone for generation)." if task_obj.target == "generation" else ".")
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
    fingerprint = fingerprint_arrays(x, *(() if y is None else (y,)))
    train, validation, test = _split(x, y, seed, stratify=classes is not None)
    spec = TaskSpec.for_task(task_obj, **_spec_fields(task_obj, train, classes, y))
    return PreparedData(spec, train, validation, test, classes, fingerprint)


def _spec_fields(task: Task, train, classes, y) -> dict:
    x = train[0]
    fields = {"input_shape": tuple(x.shape[1:])}
    if task.inputs == "text":
        fields.update(input_dtype="string", vocabulary=_vocabulary(x))
    else:
        per_channel = x.reshape(-1, x.shape[-1])
        fields.update(
            input_dtype=str(x.dtype),
            mean=per_channel.mean(axis=0).astype(float).tolist(),
            variance=per_channel.var(axis=0).astype(float).tolist(),
            value_range=(float(x.min()), float(x.max())),
        )
    if classes is not None:
        fields.update(num_classes=len(classes), class_names=[str(c) for c in classes])
    elif task.target == "regression":
        fields["output_shape"] = tuple(y.shape[1:])
    return fields


def _vocabulary(texts: np.ndarray) -> list[str]:
    """Tokens of the training texts, most frequent first, as TextVectorization splits them."""
    import keras

    layer = keras.layers.TextVectorization(max_tokens=VOCABULARY_LIMIT + 2)
    layer.adapt(texts.astype(str))
    return [token for token in layer.get_vocabulary() if token not in ("", "[UNK]")]


def to_model_inputs(inputs_kind: str, x, expected_shape: tuple | None = None) -> np.ndarray:
    """A copy of ``x`` shaped and typed as models of this input kind take it."""
    x = _as_array(x, "x")
    if inputs_kind == "text":
        return _text_inputs(x)
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


def _text_inputs(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise DataError(f"x has shape {x.shape}, but text inputs must be shaped {SAMPLE_RANK_HELP['text']}.")
    if x.dtype.kind not in "USO":
        raise DataError(f"x has dtype {x.dtype}; text inputs must be strings.")
    if x.dtype.kind == "O":
        odd = next((v for v in x if not isinstance(v, str)), None)
        if odd is not None:
            raise DataError(
                f"x holds a {type(odd).__name__} ({odd!r}) among the texts; every sample must be a "
                "string. Replace missing texts with '' or drop them."
            )
    return x.astype(object)  # a copy; Keras feeds object arrays of str as tf.string


def _encode_targets(task: Task, x: np.ndarray, y: np.ndarray | None):
    if y is None:
        if task.target == "generation":
            return None, None
        raise DataError(f"Task {task.name!r} needs targets: pass (x, y).")
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

    n = len(x)
    n_classes = len(np.unique(y)) if stratify else 1
    n_test = max(math.ceil(n * TEST_FRACTION), n_classes)
    n_val = max(math.ceil(n * VALIDATION_FRACTION), n_classes)
    if n - n_test - n_val < n_classes:
        raise DataError(f"{n} samples are too few to split into train, validation and test sets.")
    index = np.arange(n)
    rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=y if stratify else None)
    train, val = train_test_split(
        rest, test_size=n_val, random_state=seed, stratify=y[rest] if stratify else None
    )
    return tuple((x[part], None if y is None else y[part]) for part in (train, val, test))


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A short content hash: the same data gives the same fingerprint."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{array.dtype}{array.shape}".encode())
        if array.dtype == object:  # texts: hash the strings, not the pointers
            digest.update("\x00".join(map(str, array.ravel())).encode())
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]
