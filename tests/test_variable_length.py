"""Series of different lengths: padded at the end, masked in the models, refused clearly when they do not fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import trials_only

import automodel
from automodel import DataError
from automodel.data import prepare, to_model_inputs
from automodel.data.sequences import lengths_of
from automodel.tasks import PADDING_VALUE

TASK = "sequence_classification"
LONGEST = 20


def ragged(n=48, features=2, seed=0, low=6, high=LONGEST):
    """``n`` series of ``low`` to ``high`` timesteps (one of each end), the class in their level."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high + 1, n)
    lengths[:2] = low, high
    y = np.arange(n) % 2
    x = [rng.normal(2.0 * label, 1.0, (length, features)).astype("float32") for length, label in zip(lengths, y)]
    return x, y


def padded_by_hand(series, length):
    x = np.full((len(series), length, series[0].shape[1]), PADDING_VALUE, dtype="float32")
    for i, s in enumerate(series):
        x[i, : len(s)] = s
    return x


# -- reading and padding -------------------------------------------------------


def test_series_are_padded_at_the_end_and_the_statistics_ignore_the_padding():
    x, y = ragged()
    before = [s.copy() for s in x]
    prepared = prepare(TASK, (x, y))
    spec = prepared.spec
    assert spec.input_shape == (LONGEST, 2) and spec.lengths == (6, LONGEST) and spec.padded
    assert prepared.summary()["padding"] == {"length": LONGEST, "shortest": 6, "longest": LONGEST,
                                             "value": PADDING_VALUE, "at": "end"}
    train = prepared.train[0]
    lengths = lengths_of(train)
    for row, length in zip(train, lengths):
        assert np.isfinite(row[:length]).all() and (row[:length] != PADDING_VALUE).all()
        assert (row[length:] == PADDING_VALUE).all()
    real = np.concatenate([row[:length] for row, length in zip(train, lengths)])
    assert spec.mean == pytest.approx(real.mean(axis=0).tolist(), rel=1e-5)
    assert spec.variance == pytest.approx(real.var(axis=0).tolist(), rel=1e-4)
    assert spec.value_range == pytest.approx((real.min(), real.max()))
    for series, copy in zip(x, before):
        np.testing.assert_array_equal(series, copy)  # the caller's series are untouched


def test_one_feature_series_and_object_arrays_are_read_too():
    x, y = ragged(features=1)
    flat = [s[:, 0] for s in x]
    as_objects = np.empty(len(flat), dtype=object)
    for i, s in enumerate(flat):
        as_objects[i] = s
    a, b = prepare(TASK, (flat, y)), prepare(TASK, (as_objects, y))
    assert a.spec.input_shape == (LONGEST, 1) and a.fingerprint == b.fingerprint


def test_data_of_one_length_is_not_padded():
    x, y = ragged(low=10, high=10)
    prepared = prepare(TASK, (x, y))
    assert prepared.spec.lengths is None and not prepared.spec.padded and "padding" not in prepared.summary()


def test_padded_by_hand_reads_like_ragged():
    x, _ = ragged(6)
    expected = to_model_inputs("sequence", x, (LONGEST, 2), padded=True)
    # padding past the model's length is cut; a shorter array is padded on
    longer = padded_by_hand(x, LONGEST + 5)
    np.testing.assert_array_equal(to_model_inputs("sequence", longer, (LONGEST, 2), True), expected)
    short = [s[:12] for s in x]
    np.testing.assert_array_equal(to_model_inputs("sequence", padded_by_hand(short, 12), (LONGEST, 2), True),
                                  to_model_inputs("sequence", short, (LONGEST, 2), True))


# -- bad input: a DataError before anything is written or trained --------------


def _with(series, i, value):
    return [value if j == i else s for j, s in enumerate(series)]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x, y: ((_with(x, 3, x[3][:, 0]), y), {}), r"mixes series of shape \(\d+,\) \(series 3\)"),
        (lambda x, y: ((_with(x, 2, np.zeros((0, 2), "float32")), y), {}), "Series 2 of x is empty"),
        (lambda x, y: ((_with(x, 1, np.where(np.eye(len(x[1]), 2) > 0, np.nan, x[1])), y), {}),
         "Series 1 of x holds 2 NaN"),
        (lambda x, y: ((_with(x, 4, np.zeros((5, 3), "float32")), y), {}),
         "Series 4 of x has 3 features per timestep, but series 0 has 2"),
        (lambda x, y: ((_with(x, 5, np.full((5, 2), PADDING_VALUE, "float32")), y), {}),
         "the value automodel pads series with"),
        (lambda x, y: ((x, y), {"validation_data": ([np.zeros((LONGEST + 3, 2), "float32")] * 4, y[:4])}),
         r"longer than the model's 20 timesteps: series 0 \(23 timesteps\)"),
        (lambda x, y: ((x, y), {"test_data": ([np.zeros((5, 3), "float32")] * 4, y[:4])}),
         r"x has 3 feature\(s\) per timestep, but the model takes 2"),
        (lambda x, y: (([s[:6] for s in x], y), {"validation_data": (x[:4], y[:4])}),
         "takes series of exactly 6 timesteps"),
    ],
    ids=["mixed-ranks", "empty-series", "nan", "features-differ", "padding-value-in-data", "validation-too-long",
         "test-features", "ragged-for-one-length"],
)
def test_bad_series_are_a_clear_data_error_before_training(tmp_path, make, message):
    x, y = ragged()
    data, extra = make(x, y)
    with pytest.raises(DataError, match=message):
        automodel.search(task=TASK, data=data, architectures=["rnn"], max_trials=1, epochs=1,
                         directory=tmp_path, name="bad", **extra)
    assert not any(tmp_path.iterdir())  # no run directory: nothing was written, nothing trained


def test_npz_with_an_object_array_says_to_pass_a_list(tmp_path):
    x, y = ragged(8)
    series = np.empty(len(x), dtype=object)
    for i, s in enumerate(x):
        series[i] = s
    np.savez(tmp_path / "ragged.npz", x=series, y=y)
    with pytest.raises(DataError, match="Python list of arrays"):
        prepare(TASK, str(tmp_path / "ragged.npz"))


def test_a_model_of_one_length_refuses_shorter_series():
    x, _ = ragged(4)
    with pytest.raises(DataError, match="exactly 20 timesteps.*does not mask padding"):
        to_model_inputs("sequence", x, (LONGEST, 2), padded=False)
    with pytest.raises(DataError, match="padding .* before real timesteps"):
        to_model_inputs("sequence", padded_by_hand(x, LONGEST)[:, ::-1], (LONGEST, 2), padded=True)


# -- the models mask the padding ---------------------------------------------------


@pytest.mark.parametrize(
    "name, values",
    [
        ("rnn", {"cell": "lstm"}),
        ("rnn", {"cell": "gru", "bidirectional": True, "layers": 2}),
        ("cnn", {"family": "fcn", "readout": "global_average"}),
        ("cnn", {"family": "resnet", "residual_blocks": 1, "readout": "global_average"}),
    ],
    ids=["lstm", "bidirectional-gru", "fcn", "resnet"],
)
def test_more_padding_does_not_change_a_series_output(name, values):
    import keras_tuner as kt

    from automodel import registry

    x, y = ragged(24)
    prepared = prepare(TASK, (x, y))
    architecture = registry.get_architecture(name)
    hp = kt.HyperParameters()
    for key, value in {"units": 16, "filters": 16, **values}.items():
        hp.Fixed(key, value)
    model = architecture.build(hp, prepared.spec)
    model.fit(*prepared.train, epochs=1, batch_size=8, verbose=0)  # batch norm's statistics move off their start
    series = [x[0], x[0][:3]]
    outputs = {}
    for length in (6, LONGEST, LONGEST + 10):  # exactly the longest of these series: no padding at all
        spec = dataclasses.replace(prepared.spec, input_shape=(length, 2))
        same = architecture.build(hp, spec)
        same.set_weights(model.get_weights())
        outputs[length] = same.predict(to_model_inputs("sequence", series, spec.input_shape, padded=True), verbose=0)
    np.testing.assert_allclose(outputs[LONGEST], outputs[LONGEST + 10], atol=1e-6)
    np.testing.assert_allclose(outputs[6], outputs[LONGEST], atol=1e-6)


# -- a real search, predictions and exports -----------------------------------------


@pytest.fixture(scope="module")
def ragged_run(tmp_path_factory):
    x, y = ragged(48)
    xt, yt = ragged(10, seed=1, high=LONGEST - 4)
    return automodel.search(
        task=TASK, data=(x, y), test_data=(xt, yt), architectures=["cnn", "rnn"], tuner="random",
        max_trials=2, epochs=1, directory=tmp_path_factory.mktemp("runs"), name="ragged",
        validation="split",  # 48 series would be cross-validated: five trainings a trial
    ), (xt, yt)


def test_a_search_trains_cnn_and_rnn_on_series_of_different_lengths(ragged_run):
    result, _ = ragged_run
    board = trials_only(result.leaderboard())
    assert set(board["architecture"]) == {"cnn", "rnn"}
    assert (board["status"] != "failed").all(), board[["architecture", "status", "reason"]]
    assert result.spec.padded and result.spec.input_shape == (LONGEST, 2)


def test_predict_on_ragged_series_matches_the_same_series_padded(ragged_run):
    result, (xt, yt) = ragged_run
    for trial in result.run.trial_ids():
        probabilities = result.predict_proba(xt, trial_id=trial)
        np.testing.assert_allclose(probabilities, result.predict_proba(padded_by_hand(xt, LONGEST), trial_id=trial),
                                   atol=1e-6)
        np.testing.assert_allclose(probabilities, result.predict_proba(padded_by_hand(xt, LONGEST + 7), trial_id=trial),
                                   atol=1e-6)
    assert set(result.predict(xt).tolist()) <= {0, 1}
    assert set(result.evaluate((xt, yt))) >= {"accuracy", "loss"}
    with pytest.raises(DataError, match="longer than the model's 20 timesteps"):
        result.predict([np.zeros((LONGEST + 1, 2), "float32")])
    with pytest.raises(DataError, match="1 feature"):
        result.predict([s[:, :1] for s in xt])


def test_exports_of_masked_models_reload_and_agree(ragged_run, tmp_path):
    import keras

    result, (xt, _) = ragged_run
    formats = ["keras", "saved_model", "tflite", "onnx"]
    for trial in result.run.trial_ids():  # the cnn and the rnn
        folder = tmp_path / f"trial-{trial}"
        # each artifact reloaded by its runtime and compared
        card = result.export(folder, formats=formats, trial=trial, include_samples=True)
        assert {name: info["status"] for name, info in card["formats"].items()} == dict.fromkeys(formats, "verified")
        samples = np.load(folder / "sample_inputs.npy")
        assert (samples == PADDING_VALUE).all(axis=-1).any()  # ... on padded series
        assert card["input"]["shape"] == [None, LONGEST, 2]
        assert "padded at the end to 20 timesteps" in (folder / "MODEL_CARD.md").read_text()
        reloaded = keras.models.load_model(folder / "model.keras")
        np.testing.assert_allclose(reloaded.predict(padded_by_hand(xt, LONGEST), verbose=0),
                                   result.predict_proba(xt, trial_id=trial), atol=1e-5)
