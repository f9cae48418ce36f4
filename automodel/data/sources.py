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
import os

import numpy as np

from .. import registry
from ..errors import DataError
from ..tasks import Task


def as_array(values, what: str, ragged: bool = False) -> np.ndarray:
    """``values`` as an array; with ``ragged`` (sequences), series of different lengths as a 1-D object array."""
    try:
        return np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        if ragged and isinstance(values, (list, tuple)):
            series = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):  # element by element: numpy would try to broadcast them
                series[i] = value
            return series
        raise DataError(f"{what} cannot be read as an array ({exc}). Pass a numpy array.") from exc


def read(task: Task, data, target=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw ``(x, y)`` arrays of ``data`` (not a data set name) for ``task``."""
    if isinstance(data, (str, os.PathLike)):
        return _read_path(task, os.fspath(data), target)
    if _is_dataframe(data):
        return _read_table(task, data, target, "the DataFrame")
    if _is_tf_dataset(data):
        return _read_tf_dataset(data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        y = None if data[1] is None else as_array(data[1], "y")
        return as_array(data[0], "x", ragged=task.inputs == "sequence"), y
    if isinstance(data, np.ndarray) and task.target == "generation":
        return data, None
    raise DataError(
        f"Cannot read data of type {type(data).__name__}. Pass a built-in data set name "
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
        with np.load(path, allow_pickle=False) as archive:
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
            raise DataError(f"{path} cannot be read as CSV ({type(exc).__name__}: {exc}).") from exc
        return _read_table(task, table, target, path)
    raise DataError(f"{path}: automodel reads .csv, .tsv and .npz files, and image folders.")


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


def _read_tf_dataset(dataset) -> tuple[np.ndarray, np.ndarray | None]:
    spec = dataset.element_spec
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0].shape.rank and spec[0].shape[0] is None:
        dataset = dataset.unbatch()  # batched (x, y): one sample per element
    elif not (isinstance(spec, tuple) and len(spec) == 2):
        raise DataError(f"The tf.data.Dataset yields {spec}; automodel takes a dataset of (x, y) pairs.")
    xs, ys = [], []
    for x, y in dataset.as_numpy_iterator():
        xs.append(x.decode() if isinstance(x, bytes) else x)
        ys.append(y.decode() if isinstance(y, bytes) else y)
    if not xs:
        raise DataError("The tf.data.Dataset is empty.")
    dtype = object if isinstance(xs[0], str) else None
    return np.array(xs, dtype=dtype), np.array(ys)

