"""What ``automodel predict`` and ``automodel evaluate`` read and write: files, in batches.

The data a trained model is given comes in the forms ``automodel search`` reads
from disk: a table (``.csv``, ``.csv.gz``, ``.tsv``) with or without its target
column(s), an ``.npz`` file with ``x`` (and ``y``), or a folder of images, in class
sub-folders or not. ``open_inputs`` checks it against the run before a model is
loaded (the columns a model takes, the image size, the labels it knows) and
yields it in batches, each with its row keys: the table's index column, a
``--key`` column or the row number; an image's path. Tables are read a chunk
at a time and images decoded a batch at a time, so an input larger than memory
streams through. Parsing is the data layer's: ``sources.read`` turns each chunk
into ``x`` (and ``y``) exactly as for a search, and ``image_folder`` decodes.

``Predictions`` writes the rows as they come to a temporary file beside the
target and renames it at the end (``runs.atomic``), so a failure leaves no
half-written file and an existing file is replaced only when asked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data import folders, sources
from ..errors import DataError, SearchError
from ..runs.atomic import atomic_write
from ..runs.rundir import RunDir
from ..tasks import Task, TaskSpec

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv")
OUTPUT_SUFFIXES = (".csv", ".tsv", ".jsonl")
ROW = "row"  # the key column when the data has none of its own
PATH = "path"
SHOWN = 3  # names quoted in a message


@dataclasses.dataclass(frozen=True)
class Model:
    """What a run's models take and give, from its run.json alone: enough to check data without TensorFlow."""

    path: str
    spec: TaskSpec
    classes: list | None

    @classmethod
    def of_run(cls, path: str) -> "Model":
        meta = run_dir(path).meta()
        return cls(path, TaskSpec.from_dict(meta["spec"]), meta.get("classes"))

    @property
    def task(self) -> str:
        return self.spec.task


def run_dir(path: str) -> RunDir:
    """The run directory at ``path``; a ``SearchError`` if it is none."""
    run = RunDir(path)
    if not run.is_run():
        raise SearchError(f"{path} is not an automodel run directory (no run.json found).")
    return run


def open_result(path: str):
    """The run's ``SearchResult``: a run directory is checked first (at once), then TensorFlow loads quietly."""
    Model.of_run(path)
    from ..startup import load_tensorflow

    load_tensorflow()  # without its C++ start-up lines
    from ..result import open_run

    return open_run(path)


@dataclasses.dataclass
class Batch:
    """Rows of the input: their keys, ``x`` as ``SearchResult.predict`` takes it, and targets if any.

    Class targets are the run's own class values (a folder name ``"3"`` becomes
    the class ``3`` of a run trained on integer labels).
    """

    keys: list
    x: np.ndarray
    y: np.ndarray | None


class Inputs:
    """A checked input of one run; ``batches()`` reads it. ``done`` is the fraction read so far."""

    key_name = ROW
    total: int | None = None  # rows, where known before reading
    has_targets = False
    done = 0.0

    def batches(self) -> Iterator[Batch]:
        raise NotImplementedError


def open_inputs(model: Model, path: str, batch_rows: int, target=None, key: str | None = None,
                resize: bool = False) -> Inputs:
    """The data at ``path`` for the models of a run, checked before any of them loads."""
    if model.spec.target == "generation" and not os.path.isdir(path) and not path.endswith(".npz"):
        raise DataError(f"{path}: a generation run is evaluated on real images, in an .npz file (x) or a folder.")
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist. Pass a .csv, .tsv or .npz file, or a folder of images.")
    if not path.endswith(TABLE_SUFFIXES) and (key is not None or target is not None):
        raise DataError("--target and --key name a table's columns; an .npz file's rows are keyed by their number "
                        "and its targets are y, a folder's by the images' paths and their sub-folders.")
    if os.path.isdir(path):
        return ImageInputs(model, path, resize, batch_rows)
    if resize:
        raise DataError("--resize is for a folder of images; a file's images are the size they are.")
    if path.endswith(".npz"):
        return ArrayInputs(model, path, batch_rows)
    if path.endswith(TABLE_SUFFIXES):
        return TableInputs(model, path, target, key, batch_rows)
    raise DataError(f"{path}: automodel reads .csv, .csv.gz, .tsv and .npz files, and folders of images.")


def _task(model, with_targets: bool) -> Task:
    """The run's task as the data layer reads it; without targets, as for data with none (generation)."""
    spec = model.spec
    return Task(spec.task, spec.inputs_kind, spec.target if with_targets else "generation")


def _run_classes(model, labels, where: str) -> np.ndarray:
    """``labels`` as the run's class values; labels the model does not know are a ``DataError``."""
    known = {str(c): c for c in model.classes}
    values = np.asarray(labels)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(np.mod(values, 1) == 0):
        values = values.astype("int64")  # 3.0 in a table read as floats is the class 3
    unknown = sorted({str(v) for v in values.tolist()} - set(known))
    if unknown:
        raise DataError(
            f"{where} has label(s) {_listed(unknown)} that the model does not know (its classes: "
            f"{', '.join(map(str, model.classes))}). Drop those rows, or search again with them."
        )
    return np.array([known[str(v)] for v in values.tolist()], dtype=object if values.dtype.kind in "OUS" else None)


def _targets(model, y, where: str):
    if y is None or model.classes is None:
        return y
    return _run_classes(model, y, where)


class ArrayInputs(Inputs):
    """An ``.npz`` file: ``x`` and, if it has one, ``y``; rows keyed by number."""

    def __init__(self, model, path: str, batch_rows: int):
        self.model, self.path, self.batch_rows = model, path, batch_rows
        self.x, y = sources.read(_task(model, with_targets=True), path)
        self.has_targets = y is not None
        self.y = None if y is None else _targets(model, y, path)
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(f"{path}: x has {len(self.x)} samples but y has {len(self.y)}.")
        self.total = len(self.x)

    def batches(self) -> Iterator[Batch]:
        for start in range(0, self.total, self.batch_rows):
            stop = min(start + self.batch_rows, self.total)
            self.done = stop / max(self.total, 1)
            yield Batch(list(range(start, stop)), self.x[start:stop], None if self.y is None else self.y[start:stop])


class TableInputs(Inputs):
    """A table, one row a sample, read a chunk at a time.

    ``target`` names the column(s) to leave out of the features (and, for
    evaluate, the targets); the table need not have them. The first column is
    the row key when its header is empty (pandas' ``to_csv`` writes the index
    so), or ``key`` names it; else rows are numbered from 0.
    """

    def __init__(self, model, path: str, target, key: str | None, batch_rows: int):
        import pandas as pd

        self.model, self.path, self.batch_rows = model, path, batch_rows
        self.sep = "\t" if path.endswith(".tsv") else ","
        try:
            columns = list(pd.read_csv(path, sep=self.sep, nrows=0).columns)
        except Exception as exc:
            raise DataError(f"{path} cannot be read as a table ({type(exc).__name__}: {exc}).") from exc
        self.index_col = 0 if columns and str(columns[0]).startswith("Unnamed: 0") else None  # no header: an index
        if self.index_col == 0:
            columns = columns[1:]
            self.key_name = "index"
        if key is not None:
            if key not in columns:
                raise DataError(f"{path} has no column {key!r} for --key. Its columns are: {_listed(columns)}.")
            self.key_name = key
        self.key = key
        targets = [] if target is None else [target] if isinstance(target, str) else list(target)
        present = [t for t in targets if t in columns]
        if present and len(present) < len(targets):
            missing = [t for t in targets if t not in present]
            raise DataError(f"{path} has target column(s) {_listed(present)} but not {_listed(missing)}.")
        self.targets = present
        self.has_targets = bool(present)
        features = [c for c in columns if c not in present and c != key]
        self._check_features(features, targets)
        if present and model.classes is not None:  # every label, before a model loads: one column is cheap
            _run_classes(model, pd.read_csv(path, sep=self.sep, usecols=present[:1]).iloc[:, 0], path)

    def _check_features(self, features: list, targets: list) -> None:
        spec, count = self.model.spec, len(features)
        shape = tuple(spec.input_shape)
        if spec.inputs_kind == "text":
            wanted, fits = "1 text column", count == 1
        elif shape[-1] != 1:
            raise DataError(
                f"The model takes inputs of shape {shape}, with {shape[-1]} channels or features; a table holds one "
                "(grey pixels, or one value per timestep). Pass an .npz file with x instead."
            )
        elif spec.inputs_kind == "image":
            wanted, fits = f"{math.prod(shape)} pixel columns ({shape[0]}x{shape[1]})", count == math.prod(shape)
        else:
            wanted = f"{shape[0]} timestep columns" + (" or fewer" if spec.padded else "")
            fits = count == shape[0] or (spec.padded and 0 < count < shape[0])
        if not fits:
            absent = [t for t in targets if t not in self.targets]
            hint = (f" It has no column {_listed(absent)} (--target)." if absent else
                    " Name the target column(s) to leave out with --target." if not targets else "")
            raise DataError(
                f"{self.path} has {count} feature column(s) ({_listed(features)}), but the model takes {wanted}."
                f"{hint}"
            )

    def batches(self) -> Iterator[Batch]:
        import pandas as pd

        task = _task(self.model, with_targets=bool(self.targets))
        target = None if not self.targets else self.targets[0] if len(self.targets) == 1 else self.targets
        size = max(os.path.getsize(self.path), 1)
        row = 0
        with open(self.path, "rb") as handle:  # its position tells how far the reader got
            reader = pd.read_csv(handle, sep=self.sep, index_col=self.index_col, chunksize=self.batch_rows,
                                 compression="gzip" if self.path.endswith(".gz") else None)
            for chunk in reader:
                if self.key is not None:
                    keys = chunk.pop(self.key).tolist()
                elif self.index_col is not None:
                    keys = chunk.index.tolist()
                else:
                    keys = list(range(row, row + len(chunk)))
                row += len(chunk)
                x, y = sources.read(task, chunk.reset_index(drop=True), target)
                self.done = min(handle.tell() / size, 1.0)
                yield Batch(keys, x, _targets(self.model, y, self.path) if self.targets else None)


class ImageInputs(Inputs):
    """A folder of images: in class sub-folders (their names are the labels), or loose in the folder.

    Images are decoded as the model's channels (grey or colour); they must be the
    model's size, unless ``resize`` resizes them as a search with ``--image-size``
    does. Unreadable files are skipped with a warning naming them, as in a search.
    """

    key_name = PATH

    def __init__(self, model, path: str, resize: bool, batch_rows: int):
        self.model, self.path, self.resize, self.batch_rows = model, path, resize, batch_rows
        spec = model.spec
        if spec.inputs_kind != "image":
            raise DataError(f"{path} is a folder of images, but this run's model takes {spec.inputs_kind} inputs.")
        root = Path(path)
        sub_folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        files, labels = [], []
        for folder in sub_folders:
            found = _images(folder.rglob("*"))
            files += found
            labels += [folder.name] * len(found)
        self.has_targets = bool(files)
        if not files:  # no class sub-folders: the images themselves
            files = _images(root.iterdir())
        files, labels = self._readable(files, labels)
        if not files:
            raise DataError(f"{path} holds no readable images ({', '.join(folders.IMAGE_EXTENSIONS)}).")
        self.files = np.array(files)
        self.y = None
        if self.has_targets and model.classes is not None:
            self.y = _run_classes(model, labels, f"{path} (its sub-folders)")
        elif self.has_targets and spec.target != "generation":
            self.has_targets = False  # sub-folders are no regression targets
        self.total = len(files)

    def _readable(self, files: list, labels: list) -> tuple[list, list]:
        """The files Pillow can read, checked against the model's image size unless ``resize``."""
        from PIL import Image

        height, width = tuple(self.model.spec.input_shape)[:2]
        good, kept, bad, other = [], [], [], []
        for i, file in enumerate(files):
            try:
                with Image.open(file) as image:
                    image.verify()
                    size = image.size[1], image.size[0]
            except Exception:
                bad.append(file)
                continue
            if size != (height, width):
                other.append((file, size))
            good.append(file)
            kept += labels[i : i + 1]
        if bad:
            warnings.warn(f"Skipped {len(bad)} unreadable image file(s) in {self.path}: {_listed(bad)}.", stacklevel=4)
        if other and not self.resize:
            file, (h, w) = other[0]
            raise DataError(
                f"{len(other)} of the {len(good)} images in {self.path} are not {height}x{width}, the size the model "
                f"takes (e.g. {os.path.relpath(file, self.path)} is {h}x{w}). Pass --resize to resize them."
            )
        return good, kept

    def batches(self) -> Iterator[Batch]:
        shape = tuple(self.model.spec.input_shape)
        for start in range(0, self.total, self.batch_rows):
            files = self.files[start : start + self.batch_rows]
            images, _ = folders.load_images(folders.FileSplit(files, np.zeros(len(files), "int64"), shape))
            self.done = (start + len(files)) / self.total
            yield Batch(files.tolist(), images, None if self.y is None else self.y[start : start + len(files)])


def _images(paths) -> list[str]:
    return sorted(str(p) for p in paths if p.is_file() and p.suffix.lower() in folders.IMAGE_EXTENSIONS)


def _listed(names) -> str:
    names = [str(n) for n in names]
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "") or "none"


def check_output(path: str, overwrite: bool) -> None:
    """Refuse an output ``predict`` cannot write, before any work: an odd suffix, a missing folder, a file there."""
    if path == "-":
        return
    if not path.endswith(OUTPUT_SUFFIXES):
        raise DataError(f"--to {path}: automodel writes predictions as {', '.join(OUTPUT_SUFFIXES)}, or - for stdout.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"--to {path}: the folder {folder} does not exist.")
    if os.path.exists(path) and not overwrite:
        raise DataError(f"--to {path} exists; pass --overwrite to replace it.")


class Predictions:
    """Rows of predictions, written as they come; the file appears whole when ``close`` is called."""

    def __init__(self, path: str):
        self.path = path
        self.rows = 0
        self.columns: list[str] | None = None
        if path == "-":
            self.handle, self.writing = sys.stdout, None
        else:
            self.writing = atomic_write(path)  # renamed onto path by close, removed by discard
            self.handle = open(self.writing.path, "w", newline="")

    def write(self, table) -> None:
        """Append a pandas DataFrame of rows."""
        if self.path.endswith(".jsonl"):
            for record in table.to_dict(orient="records"):
                self.handle.write(json.dumps(record, allow_nan=False, default=_plain) + "\n")
        else:
            table.to_csv(self.handle, sep="\t" if self.path.endswith(".tsv") else ",", index=False,
                         header=self.columns is None)
        self.columns = list(table.columns)
        self.rows += len(table)

    def close(self) -> None:
        self.handle.flush()
        if self.writing is not None:
            self.handle.close()
            self.writing.commit()

    def discard(self) -> None:
        if self.writing is not None:
            self.handle.close()
            self.writing.discard()


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
