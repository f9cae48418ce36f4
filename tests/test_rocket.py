"""The rocket plugin: random dilated kernels, PPV and max features, a ridge (or, on big data, trained) readout."""

import numpy as np
import pytest

import automodel
from automodel.plugins import rocket as rocket_plugin
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
    assert board.iloc[0]["rocket/readout"] == "ridge" and board.iloc[0]["epochs"] == 1  # solved, then measured once
    assert rocket_run.evaluate()["accuracy"] >= 0.9


def test_the_ridge_readout_is_scikit_learns_ridge_with_a_fitted_temperature():
    import keras
    import keras_tuner as kt
    from scipy.special import softmax
    from sklearn.linear_model import RidgeClassifierCV

    from automodel.data import prepare

    x, y = _waves(np.random.default_rng(2), 40)
    spec = prepare("sequence_classification", (x, y), seed=0).spec
    model = Rocket().build(kt.HyperParameters(), spec)
    rocket_plugin.solve_readout(model, spec, x, y, batch_size=32)

    features = keras.Model(model.inputs, model.get_layer("features").output).predict(x, verbose=0).astype("float64")
    spread = features.std(axis=0)
    standardised = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    reference = RidgeClassifierCV(alphas=rocket_plugin.ALPHAS).fit(standardised, y)
    scores = reference.decision_function(standardised)
    scores = np.stack([-scores, scores], axis=1)  # two classes: scikit-learn keeps one score, +1 for class 1
    probabilities = model.predict(x, verbose=0)
    temperature = np.log(probabilities[:, 1] / probabilities[:, 0]) / (2 * scores[:, 1])
    assert np.ptp(temperature) < 1e-2 * temperature.mean()  # one temperature on ridge's own scores, from the grid
    assert min(abs(temperature.mean() / t - 1) for t in rocket_plugin.TEMPERATURES) < 1e-2
    np.testing.assert_allclose(probabilities, softmax(temperature.mean() * scores, axis=1), atol=2e-3)


def test_a_rocket_regression_fits_the_series_and_big_data_trains_its_readout(tmp_path):
    rng = np.random.default_rng(3)
    x, _ = _waves(rng, 40)
    y = x[:, :, 0].std(axis=1) * 3  # a property of the whole series
    ridge = automodel.search(task="sequence_regression", data=(x, y), architectures=["rocket"], tuner="random",
                             max_trials=1, directory=tmp_path, name="ridge", seed=0, validation="split")
    predicted = ridge.predict(x).ravel()
    assert np.sqrt(np.mean((predicted - y) ** 2)) < 0.3 * y.std()  # far better than the mean

    trained = automodel.search(task="sequence_regression", data=(x, y), architectures=[Rocket(ridge_limit=10)],
                               tuner="random",
                               max_trials=1, epochs=3, directory=tmp_path, name="trained", seed=0, validation="split")
    row = trained.leaderboard().iloc[0]
    assert row["rocket/readout"] == "gradient" and row["epochs"] == 3 and row["rocket/learning_rate"] > 0
    model = trained.model(trained.best_trial_id)
    assert 0 < sum(int(np.prod(w.shape)) for w in model.trainable_weights) < model.count_params() / 2  # kernels frozen


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
    from automodel import selection

    names = [arch.name for arch in selection.choose("sequence_classification", None)]
    assert names[0] == "rocket" and {"cnn", "rnn"} <= set(names)
    assert [a.name for a in selection.choose("sequence_classification", ["cnn", "rocket"])] == ["cnn", "rocket"]
