"""Reading what users pass as data into ``(x, y)`` arrays.

Accepted: a built-in data set name; ``(x, y)`` arrays (``y`` may be None for
generation); images alone for generation; a pandas DataFrame or a CSV file with a
named target column; a ``tf.data.Dataset`` of ``(x, y)``; an ``.npz`` file with
arrays ``x`` and ``y``. Image folders stream instead (``folders.py``).

Tables are wide: one row per sample. For text, the one feature column holds the
strings; for sequences, the feature columns are the timesteps, in order; for
images, the feature columns are the pixels of a square grey image. A
``tf.data.Dataset`` is read once into memory: for images larger than memory, use
``automodel.data.image_folder``.

Sequences of different lengths come as a Python list (or 1-D object array) of
arrays, one per series, which ``data`` pads (``sequences.py``). An ``.npz`` file
cannot hold them: ``np.load`` reads object arrays only with pickle, which can run
code, so automodel does not allow it.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from .. import registry
from ..errors import DataError
from ..tasks import Task

# what to do when the samples of x are not one shape, per input kind
UNEVEN_HELP = {
    "image": "If the images differ in size, resize them to one size, or put them in one sub-folder per class "
    "and pass automodel.data.image_folder(path, image_size=(height, width)), which resizes them.",
}
SHOWN = 5  # samples named in a message
COPIES = 2  # float32 copies of x that preparing it holds at once: the copy, then the splits taken from it


def as_array(values, what: str, inputs_kind: str | None = None) -> np.ndarray:
    """``values`` as an array; for sequences, series of different lengths as a 1-D object array.

    A list mixing strings with other values stays an object array, where numpy
    would silently turn ``[0, 'cat', None]`` into the strings ``'0'``, ``'cat'``,
    ``'None'``: the checks downstream then see the numbers and the missing values.
    """
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        if inputs_kind == "sequence" and isinstance(values, (list, tuple)):
            series = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):  # element by element: numpy would try to broadcast them
                series[i] = value
            return series
        hint = UNEVEN_HELP.get(inputs_kind, "Pass a numpy array with one sample per row.")
        raise DataError(f"{what} cannot be read as an array ({exc}). {hint}") from exc
    if array.ndim == 0:
        named = what == "y" and isinstance(values, str)  # a column's name, meant as target=
        column = " To name a table's column, pass the table as data and target=." if named else ""
        raise DataError(f"{what} is a single value ({values!r}); pass an array of one per sample.{column}")
    if isinstance(values, (list, tuple)) and array.dtype.kind == "U":
        objects = np.array(values, dtype=object)
        if not all(isinstance(v, str) for v in objects.ravel()):
            return objects
    return array


def samples(indices) -> str:
    """``sample(s) 3, 8, ...``: the first few of ``indices``, for a message."""
    shown = ", ".join(str(int(i)) for i in indices[:SHOWN])
    return f"sample(s) {shown}{', ...' if len(indices) > SHOWN else ''}"


def require_numbers(array: np.ndarray, what: str, inputs_kind: str) -> None:
    """Numeric inputs must be real numbers: name the first value that is not one (None, a string, a complex).

    An object array of numbers only is accepted: converting it to float loses nothing.
    """
    if array.dtype.kind in "biuf":
        return
    holds = ""
    if array.dtype == object:
        values = array.ravel()
        odd = next((i for i, value in enumerate(values) if not isinstance(value, numbers.Real)), None)
        if odd is None:
            return
        holds = f" and holds {values[odd]!r} ({type(values[odd]).__name__})"
    raise DataError(
        f"{what} has dtype {array.dtype}{holds}; {inputs_kind} inputs must be numbers (real, not complex). "
        "Drop or fill in the values that are not, and convert to float."
    )


def available_memory() -> int:
    """Bytes of memory free now (a function, so that tests can pretend to be short of it)."""
    import psutil

    return psutil.virtual_memory().available


def check_memory(shape: tuple, inputs_kind: str) -> None:
    """Refuse, before allocating it, a float32 copy of x that the memory free now cannot hold."""
    needed, free = math.prod(shape) * 4 * COPIES, available_memory()
    if needed > free:
        hint = (
            "Put the images in one sub-folder per class and pass automodel.data.image_folder(path), which "
            "streams them from disk."
            if inputs_kind == "image"
            else "Pass fewer or shorter samples."
        )
        raise DataError(
            f"x of shape {tuple(shape)} needs about {_bytes(needed)} as float32 (copied and split), but only "
            f"{_bytes(free)} of memory is free. {hint}"
        )


def _bytes(size: int) -> str:
    for power, unit in ((40, "TiB"), (30, "GiB"), (20, "MiB")):
        if size >= 2**power:
            return f"{size / 2**power:.1f} {unit}"
    return f"{size / 2**10:.1f} KiB"


def read(task: Task, data, target=None, what: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """The raw ``(x, y)`` arrays of ``data`` (not a data set name) for ``task``; ``what`` names the argument."""
    if isinstance(data, (str, os.PathLike)):
        return _read_path(task, os.fspath(data), target)
    if _is_dataframe(data):
        return _read_table(task, data, target, "the DataFrame")
    if _is_tf_dataset(data):
        return _read_tf_dataset(task, data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        y = None if data[1] is None else as_array(data[1], "y")
        return as_array(data[0], "x", task.inputs), y
    if isinstance(data, np.ndarray):
        if task.target == "generation":
            return data, None
        raise DataError(f"{what} is an array alone, without targets: pass {what}=(x, y).")
    if isinstance(data, tuple):
        raise DataError(f"{what} is a tuple of {len(data)} items; pass {what}=(x, y), samples and their targets.")
    raise DataError(
        f"Cannot read {what} of type {type(data).__name__}. Pass a built-in data set name "
        f"(one of {', '.join(sorted(registry.get_datasets()))}), a tuple (x, y) of arrays, a pandas "
        "DataFrame or CSV path with target=..., a tf.data.Dataset, or automodel.data.image_folder(path)"
        + (", or images alone for generation." if task.target == "generation" else ".")
    )


def _read_path(task: Task, path: str, target) -> tuple[np.ndarray, np.ndarray | None]:
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist. Pass the path of a CSV or .npz file, or a data set name.")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder: pass automodel.data.image_folder({path!r}) for images in class folders.")
    if path.endswith(".npz"):
        try:
            archive = np.load(path, allow_pickle=False)
        except Exception as exc:  # not a zip of .npy arrays; numpy would offer to unpickle it
            raise DataError(
                f"{path} is not an .npz file numpy can read ({type(exc).__name__}). Save the arrays with "
                "np.savez(path, x=..., y=...)."
            ) from exc
        with archive:
            if "x" not in archive.files:
                raise DataError(f"{path} has no array named x; save it with np.savez(path, x=..., y=...).")
            try:
                return archive["x"], archive["y"] if "y" in archive.files else None
            except ValueError as exc:  # an object array, which only pickle reads
                raise DataError(
                    f"{path} holds an object array (series of different lengths?), which numpy loads only with "
                    "pickle, and automodel does not unpickle files. Pass the series as a Python list of arrays "
                    "instead: data=([series, ...], y)."
                ) from exc
    if path.endswith((".csv", ".csv.gz", ".tsv")):
        import pandas as pd

        try:
            table = pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",")
        except Exception as exc:
            raise DataError(
                f"{path} cannot be read as CSV ({type(exc).__name__}: {str(exc).strip()}). {_csv_help(exc)}"
            ) from exc
        return _read_table(task, table, target, path)
    raise DataError(
        f"{path}: automodel reads .csv, .tsv and .npz files, and image folders. Convert the data to one of these."
    )


def _csv_help(exc: Exception) -> str:
    """What to do about the error pandas raised reading a table."""
    import pandas as pd

    if isinstance(exc, pd.errors.EmptyDataError):
        return "The file is empty: write a header row, then one row per sample."
    if isinstance(exc, pd.errors.ParserError):
        return "Fix that line: each row needs as many fields as the header (quote a value holding the separator)."
    return "Check that it is a text file of separated values with a header row."


def _is_dataframe(data) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _is_tf_dataset(data) -> bool:
    return any(cls.__name__ == "DatasetV2" for cls in type(data).__mro__)


def _read_table(task: Task, table, target, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    targets = [] if target is None else [target] if isinstance(target, str) else list(target)
    if not targets and task.target != "generation":
        raise DataError(f"Which column of {where} is the target? Pass target='column name'.")
    missing = [t for t in targets if t not in table.columns]
    if missing:
        raise DataError(
            f"{where} has no column {', '.join(map(repr, missing))}. Its columns are: "
            f"{', '.join(map(str, table.columns))}. Pass target= one of them."
        )
    features = table.drop(columns=targets)
    if features.shape[1] == 0:
        raise DataError(f"{where} has no feature columns besides the target.")
    y = None
    if targets:
        y = table[targets[0]].to_numpy() if len(targets) == 1 else table[targets].to_numpy()
    if task.inputs == "text":
        if features.shape[1] != 1:
            raise DataError(
                f"{where} has {features.shape[1]} feature columns ({', '.join(map(str, features.columns))}), "
                "but text tasks take one column of strings. Select it, e.g. table[['text', 'label']]."
            )
        return features.iloc[:, 0].to_numpy(dtype=object), y
    non_numeric = [str(c) for c, dtype in features.dtypes.items() if dtype.kind not in "biuf"]
    if non_numeric:
        raise DataError(
            f"{where} has non-numeric feature column(s) {', '.join(non_numeric)}, but {task.inputs} inputs "
            "must be numbers. Drop or encode them."
        )
    x = features.to_numpy(dtype="float32")
    if task.inputs == "image":
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise DataError(
                f"{where} has {x.shape[1]} pixel columns, which is not a square image. Pass the images "
                "as an array (samples, height, width[, channels]) instead."
            )
        x = x.reshape(len(x), side, side)
    return x, y


def _read_tf_dataset(task: Task, dataset) -> tuple[np.ndarray, np.ndarray | None]:
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        keys = list(spec)[:2] if isinstance(spec, dict) else []
        example = ", ".join(f"element[{key!r}]" for key in keys) if len(keys) == 2 else "x, y"
        raise DataError(
            f"The tf.data.Dataset yields {spec}; automodel takes a dataset of (x, y) pairs. Map it to pairs, "
            f"e.g. dataset.map(lambda element: ({example})) (tensorflow_datasets: as_supervised=True)."
        )
    # batched (x, y), one sample per element after unbatch; x alone may have an unknown first size (series, images)
    if all(getattr(part, "shape", None) is not None and part.shape.rank and part.shape[0] is None for part in spec):
        dataset = dataset.unbatch()
    xs, ys = [], []
    for x, y in dataset.as_numpy_iterator():
        xs.append(x.decode() if isinstance(x, bytes) else x)
        ys.append(y.decode() if isinstance(y, bytes) else y)
    if not xs:
        raise DataError(
            "The tf.data.Dataset is empty. Pass a dataset holding the samples, e.g. "
            "tf.data.Dataset.from_tensor_slices((x, y))."
        )
    # as arrays of other data: samples of different shapes are series to pad, or images to resize
    return as_array(xs, "x", task.inputs), as_array(ys, "y")
