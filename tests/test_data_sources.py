"""The forms data comes in (tables, CSV, tf.data, image folders, given splits) and their errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import trials_only

from automodel import DataError
from automodel.data import FileSplit, fit_arguments, image_folder, in_memory, prepare


def write_images(root, classes=("cat", "dog", "emu"), per_class=6, size=(8, 8), mode="L", seed=0):
    """Real PNG files in one sub-folder per class, each class a different brightness."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            channels = 1 if mode == "L" else 3
            pixels = np.clip(rng.normal(60 + 70 * k, 20, (*size, channels)), 0, 255).astype("uint8")
            Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def reviews_table():
    from automodel.datasets import load_reviews

    texts, labels = load_reviews(120)
    return pd.DataFrame({"review": texts, "label": labels})


# -- tables and CSV ---------------------------------------------------------------


def test_dataframe_with_a_target_column_for_text(reviews_table):
    before = reviews_table.copy()
    prepared = prepare("text_classification", reviews_table, target="label")
    assert prepared.spec.class_names == ["negative", "positive"]
    assert prepared.train[0].dtype == object and isinstance(prepared.train[0][0], str)
    pd.testing.assert_frame_equal(reviews_table, before)  # untouched


def test_csv_file_for_text(tmp_path, reviews_table):
    path = tmp_path / "reviews.csv"
    reviews_table.to_csv(path, index=False)
    prepared = prepare("text_classification", str(path), target="label")
    assert sum(prepared.summary()["split"].values()) == 120


def test_csv_of_wide_sequences_with_a_multi_step_target(tmp_path):
    from automodel.datasets import load_series

    x, y = load_series(60)
    table = pd.DataFrame(x[:, :, 0], columns=[f"t{i}" for i in range(x.shape[1])])
    for step in range(y.shape[1]):
        table[f"next{step}"] = y[:, step]
    path = tmp_path / "series.csv"
    table.to_csv(path, index=False)
    prepared = prepare("sequence_regression", path, target=[f"next{s}" for s in range(4)])
    assert prepared.spec.input_shape == (32, 1) and prepared.spec.output_shape == (4,)


def test_table_of_pixels_is_read_as_square_images(digits):
    x, y = digits
    table = pd.DataFrame(x[:300].reshape(300, 64))
    table["digit"] = y[:300]
    assert prepare("image_classification", table, target="digit").spec.input_shape == (8, 8, 1)


def test_npz_file(tmp_path, small_digits):
    path = tmp_path / "digits.npz"
    np.savez(path, x=small_digits[0], y=small_digits[1])
    assert prepare("image_classification", str(path)).spec.num_classes == 10


def test_tf_data_dataset_batched_or_not(small_digits):
    import tensorflow as tf

    x, y = small_digits
    for dataset in (tf.data.Dataset.from_tensor_slices((x, y)), tf.data.Dataset.from_tensor_slices((x, y)).batch(32)):
        prepared = prepare("image_classification", dataset)
        assert sum(prepared.summary()["split"].values()) == len(x)
        assert prepared.fingerprint == prepare("image_classification", (x, y)).fingerprint


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: (t, {"target": "stars"}), "has no column 'stars'. Its columns are: review, label"),
        (lambda t: (t, {}), "Which column of the DataFrame is the target"),
        (lambda t: (t.assign(extra=1), {"target": "label"}), "has 2 feature columns"),
    ],
    ids=["missing-target", "no-target", "two-text-columns"],
)
def test_table_errors(reviews_table, make, message):
    table, options = make(reviews_table)
    with pytest.raises(DataError, match=message):
        prepare("text_classification", table, **options)


def test_csv_without_the_named_target_column(tmp_path, reviews_table):
    path = tmp_path / "r.csv"
    reviews_table.to_csv(path, index=False)
    with pytest.raises(DataError, match="r.csv has no column 'sentiment'"):
        prepare("text_classification", str(path), target="sentiment")


def test_non_numeric_feature_columns_for_sequences():
    table = pd.DataFrame({"t0": [1.0] * 9, "t1": ["a"] * 9, "t2": [2.0] * 9, "y": [0, 1, 2] * 3})
    with pytest.raises(DataError, match="non-numeric feature column\\(s\\) t1"):
        prepare("sequence_classification", table, target="y")


def test_missing_csv_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        prepare("text_classification", str(tmp_path / "none.csv"), target="label")


# -- separate validation and test sets -------------------------------------------


def test_given_validation_and_test_sets_are_used_as_they_are(digits):
    x, y = digits
    prepared = prepare(
        "image_classification", (x[:900], y[:900]), validation_data=(x[900:1100], y[900:1100]),
        test_data=(x[1100:1300], y[1100:1300]),
    )
    assert prepared.summary()["split"] == {"train": 900, "validation": 200, "test": 200}
    assert prepared.summary()["given_splits"] == ["validation", "test"]
    np.testing.assert_array_equal(prepared.test[1], y[1100:1300])


def test_given_test_set_only_splits_validation_from_the_data(digits):
    x, y = digits
    prepared = prepare("image_classification", (x[:1000], y[:1000]), test_data=(x[1000:], y[1000:]))
    assert prepared.summary()["split"]["test"] == len(x) - 1000
    assert prepared.summary()["split"]["train"] + prepared.summary()["split"]["validation"] == 1000


def test_given_set_with_an_unseen_label(digits):
    x, y = digits
    with pytest.raises(DataError, match="test_data has label\\(s\\) 42"):
        prepare("image_classification", (x[:500], y[:500]), test_data=(x[500:503], np.array([1, 2, 42])))


def test_given_set_of_another_shape(digits):
    x, y = digits
    with pytest.raises(DataError, match="shape"):
        prepare("image_classification", (x[:500], y[:500]), validation_data=(x[:5, :4, :4], y[:5]))


# -- image folders ----------------------------------------------------------------


def test_image_folder_streams_a_stratified_split(tmp_path):
    root = write_images(tmp_path / "pets", per_class=10)
    prepared = prepare("image_classification", image_folder(root))
    assert prepared.source == "image_folder" and isinstance(prepared.train, FileSplit)
    assert prepared.spec.class_names == ["cat", "dog", "emu"] and prepared.spec.input_shape == (8, 8, 1)
    for split in (prepared.train, prepared.validation, prepared.test):
        assert set(split.labels.tolist()) == {0, 1, 2}
    (dataset,), options = fit_arguments(prepared.train, batch_size=4, shuffle=True)
    images, labels = next(iter(dataset))
    assert images.shape == (4, 8, 8, 1) and options == {"shuffle": False}  # the pipeline shuffles
    x, y = in_memory(prepared.test)
    assert x.shape == (len(prepared.test.files), 8, 8, 1) and 0 <= x.min() and x.max() <= 255
    assert prepared.spec.mean[0] == pytest.approx(130, abs=20)  # classes at 60, 130, 200


def test_image_folder_resizes_and_reads_colour(tmp_path):
    root = write_images(tmp_path / "rgb", per_class=4, size=(10, 12), mode="RGB")
    write_images(tmp_path / "rgb", classes=("cat",), per_class=2, size=(9, 9), mode="RGB", seed=3)
    prepared = prepare("image_classification", image_folder(root, image_size=(16, 16)))
    assert prepared.spec.input_shape == (16, 16, 3)
    assert in_memory(prepared.train, limit=2)[0].shape == (2, 16, 16, 3)


def test_mismatched_image_sizes_need_image_size(tmp_path):
    root = write_images(tmp_path / "mixed", per_class=4, size=(8, 8))
    write_images(root, classes=("dog",), per_class=1, size=(12, 10), seed=5)
    with pytest.raises(DataError, match="2 different sizes .*Pass image_size=\\(height, width\\)"):
        prepare("image_classification", image_folder(root))


def test_corrupt_images_are_skipped_with_a_warning_naming_them(tmp_path):
    root = write_images(tmp_path / "pets", per_class=5)
    (root / "dog" / "broken.png").write_bytes(b"not a png at all")
    with pytest.warns(UserWarning, match="Skipped 1 unreadable image file\\(s\\).*dog/broken.png"):
        prepared = prepare("image_classification", image_folder(root))
    assert not any("broken" in f for f in prepared.train.files)


def test_a_folder_of_only_corrupt_images(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "bad" / name).mkdir(parents=True)
        (tmp_path / "bad" / name / "x.jpg").write_bytes(b"\x00\x01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="none of its 2 image files could be read"):
            prepare("image_classification", image_folder(tmp_path / "bad"))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: root, "is empty: it has no class sub-folders"),
        (lambda root: write_images(root, classes=("only",)), "has one class \\('only'\\)"),
    ],
    ids=["missing", "empty", "one-class"],
)
def test_image_folder_errors(tmp_path, make, message):
    root = tmp_path / "images"
    root.mkdir()
    with pytest.raises(DataError, match=message):
        prepare("image_classification", image_folder(make(root)))


def test_images_not_in_class_folders(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "a.png")
    with pytest.raises(DataError, match="move them into one sub-folder per class"):
        prepare("image_classification", image_folder(tmp_path))


def test_image_folder_argument_errors():
    with pytest.raises(DataError, match="image_size="):
        image_folder("x", image_size=64)
    with pytest.raises(DataError, match="color_mode="):
        image_folder("x", color_mode="cmyk")


def test_image_folder_for_a_text_task(tmp_path):
    with pytest.raises(DataError, match="takes text inputs"):
        prepare("text_classification", image_folder(write_images(tmp_path / "p")))


# -- every form runs a real search -----------------------------------------------

SEARCH = dict(tuner="random", max_trials=1, epochs=1, validation="split")  # folds are tested elsewhere


def test_search_on_a_dataframe_of_texts(tmp_path, reviews_table):
    import automodel

    result = automodel.search(task="text_classification", data=reviews_table, target="label",
                              architectures=["rnn"], directory=tmp_path, **SEARCH)
    assert trials_only(result.leaderboard()).iloc[0]["status"] == "completed"
    assert set(result.predict(np.array(["the screen is good"], dtype=object))) <= {"negative", "positive"}


def test_search_on_a_csv_of_sequences(tmp_path):
    import automodel
    from automodel.datasets import load_waveforms

    x, y = load_waveforms(samples_per_class=20)
    table = pd.DataFrame(x[:, :, 0])
    table["shape"] = y
    table.to_csv(tmp_path / "waves.csv", index=False)
    result = automodel.search(task="sequence_classification", data=str(tmp_path / "waves.csv"), target="shape",
                              architectures=["cnn"], directory=tmp_path, **SEARCH)
    assert result.spec.input_shape == (48, 1) and trials_only(result.leaderboard()).iloc[0]["status"] == "completed"


def test_search_on_a_tf_dataset(tmp_path, small_digits):
    import tensorflow as tf

    import automodel

    result = automodel.search(task="image_classification", data=tf.data.Dataset.from_tensor_slices(small_digits),
                              architectures=["cnn"], directory=tmp_path, **SEARCH)
    assert 0 <= result.evaluate()["accuracy"] <= 1


def test_search_with_given_validation_and_test_sets(tmp_path, digits):
    import automodel

    x, y = digits
    result = automodel.search(task="image_classification", data=(x[:500], y[:500]),
                              validation_data=(x[500:600], y[500:600]), test_data=(x[600:700], y[600:700]),
                              architectures=["cnn"], directory=tmp_path, **SEARCH)
    assert result.run.meta()["data"]["split"] == {"train": 500, "validation": 100, "test": 100}
    scores = result.evaluate()
    assert scores == pytest.approx(result.evaluate((x[600:700], y[600:700])))


def test_search_streams_an_image_folder(tmp_path):
    import automodel

    root = write_images(tmp_path / "pets", per_class=12)
    result = automodel.search(task="image_classification", data=image_folder(root), architectures=["cnn"],
                              directory=tmp_path / "runs", **SEARCH)
    meta = result.run.meta()
    assert meta["data"]["source"] == "image_folder" and meta["data"]["class_balance"]["cat"] >= 6
    assert isinstance(result.test_split(), FileSplit)
    assert 0 <= result.evaluate()["accuracy"] <= 1  # streamed from the files
    card = result.export(tmp_path / "export", formats=("keras",))
    assert "test split" in str(card)  # verified on real test images, not noise
    from PIL import Image

    image = np.asarray(Image.open(root / "dog" / "0.png"))
    assert result.predict(image[np.newaxis])[0] in {"cat", "dog", "emu"}


def test_resuming_with_data_of_another_shape_is_refused(tmp_path, digits):
    import automodel

    x, y = digits
    options = dict(task="image_classification", architectures=["cnn"], directory=tmp_path, name="r", **SEARCH)
    automodel.search(data=(x[:300], y[:300]), **options)
    with pytest.raises(DataError, match="differs from the run being resumed.*input shape \\(4, 4, 1\\).*\\(8, 8, 1\\)"):
        automodel.search(data=(x[:300, :4, :4], y[:300]), **options)


def test_cli_searches_a_folder_and_a_csv(tmp_path, reviews_table):
    import subprocess
    import sys

    root = write_images(tmp_path / "pets", per_class=8, size=(10, 10))
    reviews_table.to_csv(tmp_path / "reviews.csv", index=False)
    for args in (["--data", str(root), "--image-size", "8", "8", "--architectures", "cnn"],
                 ["--task", "text_classification", "--data", str(tmp_path / "reviews.csv"), "--target", "label"]):
        done = subprocess.run(
            [sys.executable, "-m", "automodel.cli", "search", "--task", "image_classification", *args,
             "--tuner", "random", "--max-trials", "1", "--epochs", "1", "--validation", "split",
             "--dir", str(tmp_path / "runs")],
            capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stderr
        assert "on the held-out test split: accuracy=" in done.stdout
