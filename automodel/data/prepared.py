"""Data in: turn what the user passes into validated splits and a task spec.

Every check here runs before any training and raises ``DataError`` naming the
problem and the fix. Nothing the user passed is modified: arrays are copied
before they are reshaped or cast. Reading the many forms data comes in is
``sources.py``'s job (and ``folders.py``'s, for images streamed from disk);
checking and encoding labels and targets is ``targets.py``'s.

A split is ``(x, y)`` arrays, or an ``folders.FileSplit`` whose images are
read as training goes; ``fit_arguments`` and ``in_memory`` serve both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from .. import registry
from ..errors import DataError
from ..tasks import PADDING_VALUE, Task, TaskSpec
from . import folders, sequences, sources, targets, texts
from .folders import FileSplit, ImageFolder
from .targets import encode_labels  # noqa: F401  (automodel.result imports it from here)

VALIDATION_FRACTION = 0.15
TEST_FRACTION = 0.15
# rank of one sample (no batch axis) accepted per numeric input kind; the
# lower rank gets a channel / feature axis of 1
SAMPLE_RANKS = {"image": (2, 3), "sequence": (1, 2)}
SAMPLE_RANK_HELP = {
    "image": "(samples, height, width) or (samples, height, width, channels)",
    "sequence": "(samples, timesteps) or (samples, timesteps, features), or a list of "
    "(timesteps[, features]) arrays of different lengths",
    "text": "(samples,): one string per sample",
}
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass
class PreparedData:
    """Validated data split three ways, with the spec models are built for.

    ``y`` is None throughout for generation data without labels. ``source`` is
    ``"arrays"`` or ``"image_folder"`` (splits are then ``FileSplit``s).
    """

    spec: TaskSpec
    train: tuple
    validation: tuple
    test: tuple
    classes: list | None
    fingerprint: str
    source: str = "arrays"
    given: tuple[str, ...] = ()  # splits the user passed rather than split off

    def summary(self) -> dict:
        """What the run directory records about the data."""
        summary = {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "split": {name: len(getattr(self, name)[0]) for name in SPLITS},
            "given_splits": list(self.given),
        }
        if self.classes is not None:
            counts = np.bincount(self.train[1], minlength=len(self.classes))
            summary["class_balance"] = dict(zip(self.spec.class_names, counts.tolist()))
        if self.spec.padded:  # series of different lengths (the model card says how to pad them)
            shortest, longest = self.spec.lengths
            summary["padding"] = {"length": self.spec.input_shape[0], "shortest": shortest, "longest": longest,
                                  "value": PADDING_VALUE, "at": "end"}
        return summary


def fit_arguments(split, batch_size: int, shuffle: bool = False, seed: int = 0) -> tuple[tuple, dict]:
    """Positional and keyword arguments that hand ``split`` to ``model.fit``."""
    if isinstance(split, FileSplit):
        # the pipeline shuffles; Keras would only warn that it cannot
        return (folders.dataset(split, batch_size, shuffle=shuffle, seed=seed),), ({"shuffle": False} if shuffle else {})
    return tuple(split), {"batch_size": batch_size}


def validation_argument(split, batch_size: int):
    """``split`` as ``model.fit``'s ``validation_data``."""
    return folders.dataset(split, batch_size) if isinstance(split, FileSplit) else tuple(split)


def in_memory(split, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, y)`` arrays of ``split`` (its first ``limit`` samples), reading images if needed."""
    if isinstance(split, FileSplit):
        return folders.load_images(split, limit)
    x, y = split
    return x[:limit], None if y is None else y[:limit]


def combine(first, second):
    """Two splits as one (the final refit trains on training and validation data together)."""
    if isinstance(first, FileSplit):
        return FileSplit(np.concatenate([first.files, second.files]), np.concatenate([first.labels, second.labels]),
                         first.image_shape)
    return tuple(None if a is None else np.concatenate([a, b]) for a, b in zip(first, second))


def as_split(stored: tuple, source: str, spec: TaskSpec):
    """A split as ``RunDir.load_data`` returns it, back in the form ``prepare`` made."""
    x, y = stored
    if source == "image_folder":
        return FileSplit(x.astype(str), y, tuple(spec.input_shape))
    return x, y


def load_split(run, name: str, meta: dict | None = None):
    """Split ``name`` as the run directory ``run`` stores it, in ``prepare``'s form; None if absent."""
    meta = meta or run.meta()
    stored = run.load_data(name)
    if stored is None:
        return None
    return as_split(stored, meta["data"].get("source", "arrays"), TaskSpec.from_dict(meta["spec"]))


def resolve(task: str | None, data, target=None) -> tuple[Task, object]:
    """The task, and either ``(x, y)`` arrays or an ``ImageFolder``, for what the user passed."""
    if isinstance(data, str) and data in registry.get_datasets():
        dataset = registry.get_dataset(data)
        if task is not None and task not in dataset.tasks:
            raise DataError(
                f"Data set {data!r} is for {' or '.join(map(repr, dataset.tasks))}, not {task!r}. "
                f"Pass task={dataset.tasks[0]!r} or other data."
            )
        return registry.get_task(task or dataset.tasks[0]), dataset.loader()
    if task is None:
        if isinstance(data, str) and not data.endswith((".csv", ".tsv", ".npz", ".csv.gz")) and "/" not in data:
            registry.get_dataset(data)  # an unknown data set name: say which exist
        raise DataError("Which task is this data for? Pass task=..., e.g. task='image_classification'.")
    task_obj = registry.get_task(task)
    if isinstance(data, ImageFolder):
        if task_obj.inputs != "image":
            raise DataError(f"An image folder holds images; task {task!r} takes {task_obj.inputs} inputs.")
        return task_obj, data
    return task_obj, sources.read(task_obj, data, target)


def prepare(
    task: str | None, data, seed: int = 0, target=None, validation_data=None, test_data=None
) -> PreparedData:
    """Validate, encode and split ``data`` for ``task``.

    ``validation_data`` / ``test_data``, in the same forms as ``data``, replace
    the validation / test split that would otherwise be taken from ``data``.
    """
    task_obj, source = resolve(task, data, target)
    if isinstance(source, ImageFolder):
        if validation_data is not None or test_data is not None:
            raise DataError("With an image folder, automodel splits the files itself; drop validation_data/test_data.")
        return _prepare_folder(task_obj, source, seed)
    x = _search_inputs(task_obj, source[0], "x")
    lengths = sequences.summary(x) if task_obj.inputs == "sequence" else None  # None: no series was padded
    classes, y = targets.encode(task_obj, x, source[1])
    given = {}
    for name, extra in (("validation", validation_data), ("test", test_data)):
        if extra is not None:
            given[name] = _given_split(task_obj, extra, target, name, (x, y), classes, lengths is not None)
    fingerprint = fingerprint_arrays(x, *(() if y is None else (y,)), *(a for s in given.values() for a in s if a is not None))
    splits = _split(x, y, seed, stratify=classes is not None, take=[s for s in SPLITS[1:] if s not in given])
    splits.update(given)
    spec = TaskSpec.for_task(task_obj, lengths=lengths, **_spec_fields(task_obj, splits["train"], classes, y))
    return PreparedData(spec, splits["train"], splits["validation"], splits["test"], classes, fingerprint,
                        given=tuple(given))


def _search_inputs(task: Task, x, what: str, expected_shape: tuple | None = None, padded: bool = False):
    """``x`` as models take it; a search also refuses blank texts, which no model can learn from."""
    x = to_model_inputs(task.inputs, x, expected_shape, padded=padded)
    if task.inputs == "text":
        texts.check_not_blank(x, what)
    return x


def _given_split(task: Task, data, target, name: str, train: tuple, classes, padded: bool = False):
    """``validation_data`` or ``test_data``, checked like the training data and against it."""
    what = f"{name}_data"
    x, y = sources.read(task, data, target, what)
    x = _search_inputs(task, x, what, train[0].shape[1:], padded)
    if len(x) == 0:
        raise DataError(f"{what} is empty. Pass some samples, or leave {what} out to split it off the data.")
    if y is None:
        if task.target != "generation":
            raise DataError(f"{what} has no targets: pass ({name} x, {name} y).")
        return x, None
    if len(x) != len(y):
        raise DataError(f"{what}: x has {len(x)} samples but y has {len(y)}.")
    if task.target == "regression":
        y = targets.regression_targets(y, what)
        if y.shape[1:] != train[1].shape[1:]:
            raise DataError(
                f"{what} has targets of shape {y.shape[1:]} per sample, but the training data's are "
                f"{train[1].shape[1:]}. Pass targets shaped like the training targets."
            )
        return x, y
    if classes is None:
        return x, None
    return x, targets.encode_labels(y, classes, what)


def _prepare_folder(task: Task, folder: ImageFolder, seed: int) -> PreparedData:
    listing = folders.list_images(folder)
    targets.check_class_counts(listing.classes, np.bincount(listing.labels))
    splits = _split(listing.files, listing.labels, seed, stratify=True, take=list(SPLITS[1:]))
    train, validation, test = (FileSplit(*splits[name], listing.image_shape) for name in SPLITS)
    mean, variance, value_range = folders.statistics(train, seed)
    spec = TaskSpec.for_task(
        task, input_shape=listing.image_shape, input_dtype="float32", mean=mean, variance=variance,
        value_range=value_range, num_classes=len(listing.classes), class_names=listing.classes,
        samples=len(train.files),
    )
    return PreparedData(spec, train, validation, test, listing.classes, listing.fingerprint, source="image_folder")


def _spec_fields(task: Task, train, classes, y) -> dict:
    x = train[0]
    fields = {"input_shape": tuple(x.shape[1:]), "samples": len(x)}
    if task.inputs == "text":
        fields.update(input_dtype="string", vocabulary=texts.vocabulary(x), **texts.ngram_fields(x))
    else:
        # statistics of real values only: padded timesteps are not data
        per_channel = sequences.real_timesteps(x) if task.inputs == "sequence" else x.reshape(-1, x.shape[-1])
        fields.update(
            input_dtype=str(x.dtype),
            mean=per_channel.mean(axis=0).astype(float).tolist(),
            variance=per_channel.var(axis=0).astype(float).tolist(),
            value_range=(float(per_channel.min()), float(per_channel.max())),
        )
    if classes is not None:
        fields.update(num_classes=len(classes), class_names=[str(c) for c in classes])
    elif task.target == "regression":
        fields["output_shape"] = tuple(y.shape[1:])
    return fields


def to_model_inputs(inputs_kind: str, x, expected_shape: tuple | None = None, padded: bool = False) -> np.ndarray:
    """A copy of ``x`` shaped and typed as models of this input kind take it.

    Sequences may be series of different lengths, or padded already
    (``sequences.py``): they are padded to the longest series when there is no
    ``expected_shape`` (the data a search starts from), else to the model's
    length, which only a model that masks padding (``padded``) takes.
    """
    x = sources.as_array(x, "x", inputs_kind)
    if inputs_kind == "text":
        return _text_inputs(x)
    if inputs_kind == "sequence" and sequences.is_ragged(x):
        return sequences.pad(x, expected_shape, padded)
    ranks = SAMPLE_RANKS[inputs_kind]
    if x.ndim - 1 not in ranks:
        raise DataError(
            f"x has shape {x.shape}, but {inputs_kind} inputs must be shaped "
            f"{SAMPLE_RANK_HELP[inputs_kind]}. Reshape x."
        )
    if 0 in x.shape[1:]:
        raise DataError(
            f"x has shape {x.shape}: a dimension of size 0, so its samples hold no values. Pass samples "
            f"shaped {SAMPLE_RANK_HELP[inputs_kind]}, each size at least 1."
        )
    sources.require_numbers(x, "x", inputs_kind)
    sources.check_memory(x.shape, inputs_kind)
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, which the message below names
        x = x.astype("float32")  # a copy: the user's array is never changed
    if x.ndim - 1 == ranks[0]:
        x = x[..., np.newaxis]  # one channel / one feature
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise DataError(
            f"x contains {bad} NaN or infinite values (or values beyond float32's range, ±3.4e38). "
            "Drop or impute them first, or rescale x."
        )
    if inputs_kind == "sequence":
        x = sequences.fit_length(x, expected_shape, padded)
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
        raise DataError(f"x has dtype {x.dtype}; text inputs must be strings, one per sample. Convert x to str.")
    if x.dtype.kind == "O":
        odd = next((i for i, v in enumerate(x) if not isinstance(v, str)), None)
        if odd is not None:
            raise DataError(
                f"x holds a {type(x[odd]).__name__} ({x[odd]!r}) at sample {odd} among the texts; every sample "
                "must be a string. Drop the samples without a text, or fill them in."
            )
    return x.astype(object)  # a copy; Keras feeds object arrays of str as tf.string


def _split(x, y, seed, stratify: bool, take=("validation", "test")) -> dict:
    """Split off the ``take`` parts (stratified on ``y`` when asked); the rest is train."""
    from sklearn.model_selection import train_test_split

    fractions = {"validation": VALIDATION_FRACTION, "test": TEST_FRACTION}
    n = len(x)
    n_classes = len(np.unique(y)) if stratify else 1
    sizes = {name: max(math.ceil(n * fractions[name]), n_classes) for name in take}
    if n - sum(sizes.values()) < n_classes:
        raise DataError(f"{n} samples are too few to split into train, validation and test sets.")
    parts, rest = {}, np.arange(n)
    for name in ("test", "validation"):
        if name in sizes:
            rest, parts[name] = train_test_split(
                rest, test_size=sizes[name], random_state=seed, stratify=y[rest] if stratify else None
            )
    parts["train"] = rest
    return {name: (x[index], None if y is None else y[index]) for name, index in parts.items()}


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
