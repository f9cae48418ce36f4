"""A catalogue of bad inputs: each is a DataError naming the problem and the fix, before anything is written.

Every case goes through ``automodel.search`` and is refused in the data layer
(``automodel.data.prepare``), so no model is built and the run directory is never
made; the caller's arrays, lists, tables and files are left as they were. Cases
that ``test_data.py``, ``test_data_sources.py`` and ``test_variable_length.py``
already cover are not repeated here.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automodel
from automodel import DataError
from automodel.data import image_folder, sources

IMAGES, TEXTS = "image_classification", "text_classification"
SERIES, FORECAST = "sequence_classification", "sequence_regression"
N = 30


def images(n=N):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8)).astype("float32"), np.arange(n) % 3


def texts(n=N):
    words = np.array([f"a good film {i}" if i % 2 else f"a dull film {i}" for i in range(n)], dtype=object)
    return words, np.array(["negative", "positive"] * (n // 2), dtype=object)


def series(n=N, steps=10):
    return np.random.default_rng(1).random((n, steps)).astype("float32"), np.arange(n) % 3


def forecast(n=N, steps=10):
    rng = np.random.default_rng(2)
    return rng.random((n, steps)).astype("float32"), rng.random(n).astype("float32")


def replaced(values, i, value, dtype=None):
    """A copy of ``values`` with item ``i`` replaced (``dtype=object`` for None or a string among numbers)."""
    values = np.array(values, dtype=dtype)
    values[i] = value
    return values


def table(x, y, target="y"):
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(x.shape[1])]) if x.ndim == 2 else pd.DataFrame({"text": x})
    frame[target] = y
    return frame


def write(folder: Path, name: str, content) -> str:
    path = folder / name
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def pngs(folder: Path, classes=("cat", "dog"), per_class=4) -> Path:
    """Real PNG files, ``<class>/<i>.png``: names repeat across classes, as they often do."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for name in classes:
        (folder / "pets" / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype="uint8")).save(folder / "pets" / name / f"{i}.png")
    return folder / "pets"


def tf_data(*tensors):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(tensors[0] if len(tensors) == 1 else tensors)


def uneven_images():
    import tensorflow as tf

    def generate():
        for i in range(N):
            yield np.zeros((8, 8) if i else (9, 9), "float32"), i % 3

    signature = (tf.TensorSpec((None, None), tf.float32), tf.TensorSpec((), tf.int64))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


@dataclasses.dataclass
class Case:
    """A bad input: ``make(folder)`` returns ``(data, search options)``; the message must hold both fragments."""

    id: str
    task: str
    make: Callable[[Path], tuple]
    problem: str
    fix: str
    free_memory: int | None = None  # bytes the machine pretends to have free


def _arrays(x, y, **options):
    return lambda folder: ((x, y), options)


x_img, y_img = images()
x_txt, y_txt = texts()
x_seq, y_seq = series()
x_num, y_num = forecast()

# a table, kept as one: each case, then the fragments naming its problem and its fix
# fmt: off
CASES = [
    # -- labels and targets ---------------------------------------------------
    Case("labels-with-none", IMAGES, _arrays(x_img, replaced(y_img, 4, None, object).tolist()),
         "y has 1 missing label(s) (None or NaN), at sample(s) 4", "fill in their labels"),
    Case("labels-nan-in-a-dataframe", TEXTS,
         lambda folder: (table(x_txt, replaced(y_txt, 2, np.nan), "label"), {"target": "label"}),
         "1 missing label(s)", "Drop those samples"),
    Case("labels-empty-cell-in-a-csv", SERIES,
         lambda folder: (write(folder, "s.csv", table(x_seq, replaced(y_seq, 5, np.nan, float))), {"target": "y"}),
         "missing label(s) (None or NaN), at sample(s) 5", "fill in their labels"),
    Case("labels-mixed-types-object-array", IMAGES, _arrays(x_img, replaced(y_img, 1, "cat", object)),
         "y mixes numbers and strings as labels (sample 0: 0, sample 1: 'cat')", "labels of one type"),
    Case("labels-mixed-types-list", IMAGES, _arrays(x_img, [*y_img[:-1].tolist(), "2"]),
         "mixes numbers and strings", "all strings, or all integers"),
    Case("labels-a-single-number", IMAGES, _arrays(x_img, 3), "y is a single value (3)", "one per sample"),
    Case("labels-a-column-name", IMAGES, _arrays(x_img, "label"), "single value ('label')", "target="),
    Case("target-column-with-one-value", TEXTS,
         lambda folder: (write(folder, "t.csv", table(x_txt, ["positive"] * N, "label")), {"target": "label"}),
         "y has a single class ('positive')", "add samples of the other classes"),
    Case("regression-target-with-one-value", FORECAST,
         lambda folder: (table(x_num, np.full(N, 2.5), "next"), {"target": "next"}),
         "same value (2.5) for every sample", "Check the targets"),
    Case("regression-targets-as-strings", FORECAST, _arrays(x_num, y_num.astype(str)),
         "regression targets must be numbers", "Convert them to float"),
    Case("regression-target-none", FORECAST, _arrays(x_num, replaced(y_num, 0, None, object).tolist()),
         "1 missing target(s) (None or NaN), at sample(s) 0", "fill in their targets"),
    Case("regression-target-infinite", FORECAST, _arrays(x_num, replaced(y_num, 3, np.inf)),
         "y contains infinite values", "Drop or rescale them"),
    # -- inputs ------------------------------------------------------------------
    Case("images-with-a-zero-sized-dimension", IMAGES, _arrays(x_img[:, :0], y_img),
         "shape (30, 0, 8): a dimension of size 0", "each size at least 1"),
    Case("series-with-zero-features", SERIES, _arrays(x_seq[:, :, None][:, :, :0], y_seq),
         "a dimension of size 0", "each size at least 1"),
    Case("images-of-complex-numbers", IMAGES, _arrays(x_img.astype("complex64"), y_img),
         "dtype complex64", "real, not complex"),
    Case("images-object-array-with-none", IMAGES, _arrays(replaced(x_img, (2, 0, 0), None, object), y_img),
         "holds None (NoneType)", "Drop or fill in the values"),
    Case("series-list-with-none", SERIES, _arrays(replaced(x_seq, (1, 3), None, object).tolist(), y_seq),
         "holds None", "Drop or fill in the values"),
    Case("images-of-different-sizes", IMAGES, _arrays([np.zeros((8, 8))] * (N - 1) + [np.zeros((9, 9))], y_img),
         "cannot be read as an array", "image_folder(path, image_size=(height, width))"),
    Case("images-too-large-for-memory", IMAGES, _arrays(x_img, y_img),
         "needs about 15.0 KiB as float32", "automodel.data.image_folder(path)", free_memory=10_000),
    Case("images-beyond-float32", IMAGES, _arrays(x_img.astype("float64") * 1e300, y_img),
         "beyond float32's range", "rescale x"),
    Case("images-without-labels", IMAGES, lambda folder: (x_img, {}), "an array alone, without targets",
         "data=(x, y)"),
    Case("data-with-sample-weights", IMAGES, lambda folder: ((x_img, y_img, np.ones(N)), {}), "a tuple of 3 items",
         "data=(x, y)"),
    # -- texts -------------------------------------------------------------------
    Case("texts-empty-or-blank", TEXTS, _arrays(replaced(replaced(x_txt, 3, ""), 7, "  "), y_txt),
         "x has 2 empty text(s) ('' or only spaces), at sample(s) 3, 7", "fill in their texts"),
    Case("texts-list-with-a-number", TEXTS, _arrays([*x_txt[:5], 42, *x_txt[6:]], y_txt),
         "holds a int (42) at sample 5", "Drop the samples without a text"),
    Case("texts-missing-in-a-dataframe", TEXTS,
         lambda folder: (table(replaced(x_txt, 4, np.nan), y_txt, "label"), {"target": "label"}),
         "holds a float (nan) at sample 4", "fill them in"),
    Case("texts-as-numbers", TEXTS, _arrays(np.arange(N), y_txt), "text inputs must be strings",
         "Convert x to str"),
    # -- files --------------------------------------------------------------------
    Case("csv-with-a-broken-row", TEXTS,
         lambda folder: (write(folder, "b.csv", "text,label\ngood,positive\nbad,negative\nso, so,positive\n"),
                         {"target": "label"}),
         "Expected 2 fields in line 4, saw 3", "Fix that line"),
    Case("csv-empty-file", TEXTS, lambda folder: (write(folder, "e.csv", ""), {"target": "label"}),
         "The file is empty", "write a header row"),
    Case("csv-of-pixels-not-square", IMAGES,
         lambda folder: (write(folder, "p.csv", table(x_seq, y_seq)), {"target": "y"}),
         "10 pixel columns, which is not a square image", "as an array (samples, height, width[, channels])"),
    Case("npz-that-is-not-one", IMAGES, lambda folder: (write(folder, "d.npz", b"not a zip"), {}),
         "is not an .npz file numpy can read", "np.savez(path, x=..., y=...)"),
    Case("npz-without-x", IMAGES,
         lambda folder: (np.savez(folder / "d.npz", images=x_img, y=y_img) or str(folder / "d.npz"), {}),
         "has no array named x", "np.savez(path, x=..., y=...)"),
    Case("file-of-another-type", TEXTS, lambda folder: (write(folder, "d.json", "[]"), {"target": "label"}),
         "automodel reads .csv, .tsv and .npz files", "Convert the data"),
    Case("folder-path-without-image-folder", IMAGES, lambda folder: (str(pngs(folder)), {}), "is a folder",
         "automodel.data.image_folder("),
    # -- tf.data ------------------------------------------------------------------
    Case("tf-dataset-of-x-only", IMAGES, lambda folder: (tf_data(x_img), {}), "automodel takes a dataset of (x, y)",
         "Map it to pairs"),
    Case("tf-dataset-of-dicts", IMAGES, lambda folder: (tf_data({"image": x_img, "label": y_img}), {}),
         "a dataset of (x, y) pairs", "lambda element: (element['image'], element['label'])"),
    Case("tf-dataset-of-triples", IMAGES, lambda folder: (tf_data(x_img, y_img, np.ones(N)), {}),
         "a dataset of (x, y) pairs", "Map it to pairs"),
    Case("tf-dataset-of-images-of-different-sizes", IMAGES, lambda folder: (uneven_images(), {}),
         "cannot be read as an array", "image_folder(path, image_size=(height, width))"),
    Case("tf-dataset-empty", IMAGES, lambda folder: (tf_data(x_img[:0], y_img[:0]), {}),
         "The tf.data.Dataset is empty", "from_tensor_slices((x, y))"),
    # -- image folders ------------------------------------------------------------
    Case("folder-same-image-in-two-classes", IMAGES,
         lambda folder: (image_folder(_copied(pngs(folder), "cat/2.png", "dog/2.png")), {}),
         "the same image in two classes: cat/2.png = dog/2.png", "delete the copy in the wrong class folder"),
    Case("folder-with-an-empty-class", IMAGES,
         lambda folder: (image_folder(_made(pngs(folder) / "emu")), {}),
         "Class folder(s) emu", "or remove the folder"),
    Case("folder-class-of-tiff-files", IMAGES,
         lambda folder: (image_folder(_tiffs(pngs(folder) / "emu")), {}),
         "hold no readable image files (.bmp, .gif, .jpeg, .jpg, .png)", "converted to one of these types"),
    Case("folder-that-is-a-file", IMAGES, lambda folder: (image_folder(pngs(folder) / "cat" / "0.png"), {}),
         "is a file, not a folder of class sub-folders", "Pass the folder that holds them"),
    Case("folder-with-validation-data", IMAGES,
         lambda folder: (image_folder(pngs(folder)), {"validation_data": (x_img, y_img)}),
         "automodel splits the files itself", "drop validation_data"),
    # -- validation_data and test_data --------------------------------------------
    Case("validation-label-nan", IMAGES,
         _arrays(x_img, y_img, validation_data=(x_img[:6], replaced(y_img[:6], 4, np.nan, float))),
         "validation_data has 1 missing label(s)", "fill in their labels"),
    Case("validation-without-labels", IMAGES, _arrays(x_img, y_img, validation_data=x_img[:6]),
         "validation_data is an array alone, without targets", "validation_data=(x, y)"),
    Case("test-data-empty", IMAGES, _arrays(x_img, y_img, test_data=(x_img[:0], y_img[:0])),
         "test_data is empty", "leave test_data out"),
    Case("test-targets-as-strings", FORECAST, _arrays(x_num, y_num, test_data=(x_num[:6], y_num[:6].astype(str))),
         "test_data has dtype <U", "Convert them to float"),
    Case("validation-target-nan", FORECAST,
         _arrays(x_num, y_num, validation_data=(x_num[:6], replaced(y_num[:6], 1, np.nan))),
         "validation_data has 1 missing target(s)", "fill in their targets"),
    Case("validation-targets-of-another-shape", FORECAST,
         _arrays(x_num, y_num, validation_data=(x_num[:6], np.ones((6, 2), "float32"))),
         "targets of shape (2,) per sample, but the training data's are ()", "shaped like the training targets"),
    Case("validation-empty-text", TEXTS, _arrays(x_txt, y_txt, validation_data=(replaced(x_txt[:6], 0, ""), y_txt[:6])),
         "validation_data has 1 empty text(s)", "fill in their texts"),
]
# fmt: on


def _copied(root: Path, source: str, target: str) -> Path:
    shutil.copyfile(root / source, root / target)
    return root


def _made(path: Path) -> Path:
    path.mkdir()
    return path.parent


def _tiffs(path: Path) -> Path:
    from PIL import Image

    path.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((8, 8), "uint8")).save(path / f"{i}.tif")
    return path.parent


def snapshot(value):
    """A deep copy of what the caller passed; a tf.data.Dataset cannot change, so it is kept as it is."""
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    return copy.deepcopy(value) if isinstance(value, (np.ndarray, pd.DataFrame)) else value


def assert_same(before, after):
    assert type(before) is type(after)
    if isinstance(before, np.ndarray):
        assert before.dtype == after.dtype and before.shape == after.shape
        if before.dtype == object:
            assert list(map(repr, before.ravel())) == list(map(repr, after.ravel()))  # NaN, types and all
        else:
            np.testing.assert_array_equal(before, after)
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    elif isinstance(before, (list, tuple)):
        assert len(before) == len(after)
        for a, b in zip(before, after):
            assert_same(a, b)
    elif isinstance(before, dict):
        assert before.keys() == after.keys()
        for key in before:
            assert_same(before[key], after[key])
    else:
        assert before is after or before == after


def files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_catalogue_is_large_and_spans_the_tasks():
    assert len(CASES) >= 30 and len({case.id for case in CASES}) == len(CASES)
    assert {case.task for case in CASES} == {IMAGES, TEXTS, SERIES, FORECAST}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_is_refused_before_anything_is_written(case, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    data, options = case.make(folder)
    before, on_disk = snapshot((data, options)), files(folder)
    if case.free_memory is not None:
        monkeypatch.setattr(sources, "available_memory", lambda: case.free_memory)
    runs = tmp_path / "runs"
    with pytest.raises(DataError) as raised:
        automodel.search(task=case.task, data=data, directory=runs, max_trials=1, epochs=1, **options)
    message = str(raised.value)
    assert case.problem in message, message
    assert case.fix in message, message
    assert not runs.exists() or not any(runs.iterdir())  # nothing written
    assert_same(before, (data, options))  # the caller's objects, dtypes included, are as they were
    assert files(folder) == on_disk  # and so are the files


def test_memory_is_estimated_from_the_shape_alone(monkeypatch):
    """ImageNet-sized arrays are refused without allocating them: the check needs only their shape."""
    monkeypatch.setattr(sources, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(DataError, match=r"needs about 224.3 GiB as float32.*only 8.0 GiB.*image_folder\(path\)"):
        sources.check_memory((200_000, 224, 224, 3), "image")
    sources.check_memory((1000, 224, 224, 3), "image")  # 1.1 GiB fits
