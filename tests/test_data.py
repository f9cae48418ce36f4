"""Data validation: each bad input is a DataError naming the problem, before training."""

import numpy as np
import pytest

from automodel import DataError
from automodel.data import fingerprint_arrays, prepare

TASK = "image_classification"


def images(n=60, classes=3, rng=None):
    rng = rng or np.random.default_rng(0)
    return rng.random((n, 8, 8)).astype("float32"), np.arange(n) % classes


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x, y: (x, y[:-1]), "x has 60 samples but y has 59"),
        (lambda x, y: (x[:, 0, 0], y), "must be shaped"),
        (lambda x, y: (x[..., None, None], y), "must be shaped"),
        (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "1 NaN or infinite"),
        (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 7, np.inf, x), y), "NaN or infinite"),
        (lambda x, y: (x, np.zeros_like(y)), "single class"),
        (lambda x, y: (x, np.where(np.arange(len(y)) == 0, 7, y)), "Class(es) 7 have fewer than 3 samples"),
        (lambda x, y: (x, y + 0.5), "non-integer floats"),
        (lambda x, y: (x.astype(str), y), "must be numbers"),
        (lambda x, y: (x, y.reshape(-1, 1).repeat(2, axis=1)), "one label per sample"),
        (lambda x, y: (x[:0], y[:0]), "empty"),
    ],
    ids=["lengths", "rank-low", "rank-high", "nan", "inf", "one-class", "rare-class", "float-labels",
         "strings-as-pixels", "2d-labels", "empty"],
)
def test_bad_input_is_a_clear_data_error(make, message):
    x, y = images()
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(TASK, make(x, y))


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_missing_task_for_arrays():
    with pytest.raises(DataError, match="Which task"):
        prepare(None, images())


def test_unreadable_data_type():
    with pytest.raises(DataError, match="Cannot read data of type dict"):
        prepare(TASK, {"x": 1})


def test_string_labels_keep_their_class_names():
    x, y = images()
    names = np.array(["cat", "dog", "emu"])[y]
    prepared = prepare(TASK, (x, names))
    assert prepared.classes == ["cat", "dog", "emu"]
    assert prepared.spec.class_names == ["cat", "dog", "emu"] and prepared.spec.num_classes == 3


def test_integral_float_labels_are_accepted():
    x, y = images()
    assert prepare(TASK, (x, y.astype(float))).classes == [0, 1, 2]


def test_split_is_stratified_seeded_and_leaves_the_input_alone():
    x, y = images(90)
    x_before, y_before = x.copy(), y.copy()
    a, b = prepare(TASK, (x, y), seed=5), prepare(TASK, (x, y), seed=5)
    np.testing.assert_array_equal(a.test[0], b.test[0])
    assert not np.array_equal(a.test[0], prepare(TASK, (x, y), seed=6).test[0])
    for _, labels in (a.train, a.validation, a.test):
        assert set(labels.tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    assert x.shape == (90, 8, 8)  # the channel axis was added to a copy
    assert a.spec.input_shape == (8, 8, 1)


def test_fingerprint_tracks_content():
    x, y = images()
    assert fingerprint_arrays(x, y) == fingerprint_arrays(x.copy(), y.copy())
    x2 = x.copy()
    x2[0, 0, 0] += 1
    assert fingerprint_arrays(x2, y) != fingerprint_arrays(x, y)


def test_normalisation_statistics_come_from_the_training_split():
    x, y = images()
    prepared = prepare(TASK, (x * 10 + 3, y))
    train = prepared.train[0]
    assert prepared.spec.mean == pytest.approx([float(train.mean())], rel=1e-5)
    assert prepared.spec.variance == pytest.approx([float(train.var())], rel=1e-4)
