"""The rocket plugin: random dilated kernels, PPV and max features, a trained readout."""

import numpy as np
import pytest

import automodel
from automodel.plugins.rocket import DILATIONS, Rocket, kernel_groups
from automodel.tasks import PADDING_VALUE


def test_kernels_are_spread_over_dilations_and_paddings():
    groups = kernel_groups(2000, 9, 427, padded=False)
    assert sum(count for _, _, count in groups) == 2000
    dilations = sorted({d for d, _, _ in groups})
    assert dilations[0] == 1 and len(dilations) <= DILATIONS
    assert (9 - 1) * dilations[-1] <= 427  # the widest kernel still spans the series
    assert {p for _, p, _ in groups} == {"same", "valid"}
    assert all(p == "same" for _, p, _ in kernel_groups(2000, 9, 427, padded=True))  # masks stay aligned
    assert kernel_groups(100, 9, 5, padded=False) == [(1, "same", 100)]  # shorter than a kernel


def _waves(rng, n, length=60):
    t = np.linspace(0, 1, length)
    freq = rng.uniform(3, 6, (n, 1))
    sine, square = np.sin(2 * np.pi * freq * t), np.sign(np.sin(2 * np.pi * freq * t))
    x = np.concatenate([sine, square]) + 0.3 * rng.standard_normal((2 * n, length))
    return x[..., None].astype("float32"), np.repeat([0, 1], n)


@pytest.fixture(scope="module")
def rocket_run(tmp_path_factory):
    x, y = _waves(np.random.default_rng(0), 60)
    return automodel.search(task="sequence_classification", data=(x, y), architectures=["rocket"], tuner="random",
                            max_trials=1, epochs=5, directory=tmp_path_factory.mktemp("rocket"), name="waves",
                            seed=0, validation="split")


def test_a_rocket_search_learns_the_waves(rocket_run):
    board = rocket_run.leaderboard()
    assert board.iloc[0]["status"] == "completed" and board.iloc[0]["val_accuracy"] >= 0.9
    assert rocket_run.evaluate()["accuracy"] >= 0.9
    model = rocket_run.model(rocket_run.best_trial_id)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable < model.count_params() / 2  # the kernels are frozen: only the readout learned


def test_the_same_configuration_draws_the_same_kernels(rocket_run):
    import keras_tuner as kt

    trained = rocket_run.model(rocket_run.best_trial_id)
    hp = kt.HyperParameters()
    again = Rocket().build(hp, rocket_run.spec)
    layer = "kernels_d1_same"
    np.testing.assert_array_equal(trained.get_layer(layer).get_weights()[0], again.get_layer(layer).get_weights()[0])


def test_features_of_a_padded_series_are_its_own(tmp_path):
    """PPV and max over the real timesteps only, as if the series were never padded."""
    import keras

    x, y = _waves(np.random.default_rng(1), 30)
    series = [row[: 40 + i % 20] for i, row in enumerate(x)]  # 40 to 59 steps
    result = automodel.search(task="sequence_classification", data=(series, y), architectures=["rocket"],
                              tuner="random", max_trials=1, epochs=2, directory=tmp_path, name="ragged", seed=0,
                              validation="split")
    assert result.spec.padded
    model = result.model(result.best_trial_id)
    one = series[0]  # 40 real steps
    padded = np.full((1, result.spec.input_shape[0], 1), PADDING_VALUE, dtype="float32")
    padded[0, : len(one)] = one
    features = keras.Model(model.inputs, model.get_layer("features").output).predict(padded, verbose=0)[0]

    normalise = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    real = np.asarray(normalise(one[None]))[0, :, 0]
    conv = model.get_layer("kernels_d1_same")  # the first group: dilation 1, "same" padding
    weights, biases = conv.get_weights()
    length, count = weights.shape[0], weights.shape[2]
    window = np.pad(real, ((length - 1) // 2, length // 2))  # zeros beyond the series, as "same" pads
    outputs = np.stack([window[t: t + length] @ weights[:, 0, :] for t in range(len(real))]) + biases
    np.testing.assert_allclose(features[:count], (outputs > 0).mean(axis=0), atol=1.01 / len(real))  # a sign at 0
    np.testing.assert_allclose(features[count: 2 * count], outputs.max(axis=0), rtol=1e-4, atol=1e-4)


def test_rocket_runs_first_when_every_sequence_architecture_takes_part():
    from automodel.engine import _choose_architectures

    names = [arch.name for arch in _choose_architectures("sequence_classification", None)]
    assert names[0] == "rocket" and {"cnn", "rnn"} <= set(names)
    assert [a.name for a in _choose_architectures("sequence_classification", ["cnn", "rocket"])] == ["cnn", "rocket"]
