"""The rocket plugin: MiniRocket's or ROCKET's dilated kernels, PPV (and max) features, a ridge (or trained) readout."""

import numpy as np
import pytest

import automodel
from automodel.plugins import minirocket
from automodel.plugins import rocket as rocket_plugin
from automodel.plugins.rocket import DILATIONS, SEED, Rocket, kernel_groups
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
    minirocket.fit_biases(model, spec, x, 10000, SEED)
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


def test_a_feature_beyond_its_training_range_counts_at_the_range_edge():
    import keras
    import keras_tuner as kt
    from sklearn.linear_model import RidgeCV

    from automodel.data import prepare

    x, _ = _waves(np.random.default_rng(4), 30)
    y = x[:, :, 0].std(axis=1) * 3
    spec = prepare("sequence_regression", (x, y), seed=0).spec
    model = Rocket().build(kt.HyperParameters(), spec)
    minirocket.fit_biases(model, spec, x, 10000, SEED)
    rocket_plugin.solve_readout(model, spec, x, y, batch_size=32)

    features = keras.Model(model.inputs, model.get_layer("features").output)
    trained = features.predict(x, verbose=0).astype("float64")
    mean, spread = trained.mean(axis=0), np.sqrt(np.where(trained.var(axis=0) > 0, trained.var(axis=0), 1.0)
                                                    + rocket_plugin.EPSILON)
    standardised = (trained - mean) / spread
    ridge = RidgeCV(alphas=rocket_plugin.ALPHAS).fit(standardised, y)
    np.testing.assert_allclose(model.predict(x, verbose=0).ravel(), ridge.predict(standardised), atol=1e-3)

    far = np.concatenate([x[:2] * 5, x[2:4] + np.linspace(0, 8, x.shape[1])[:, None]])  # louder, drifting
    new = (features.predict(far, verbose=0).astype("float64") - mean) / spread
    assert (new > standardised.max(axis=0) + 1).any()  # some feature well beyond what the readout saw
    held = np.clip(new, standardised.min(axis=0), standardised.max(axis=0))
    predicted = model.predict(far, verbose=0).ravel()
    np.testing.assert_allclose(predicted, ridge.predict(held), atol=1e-3)
    assert np.abs(predicted - ridge.predict(new)).max() > 0.1  # and unheld it would have counted


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


def _rocket_hp():
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Fixed("transform", "rocket")
    return hp


def _ragged_series(seed=1):
    x, y = _waves(np.random.default_rng(seed), 30)
    return [row[: 40 + i % 20] for i, row in enumerate(x)], y  # 40 to 59 steps


def _padded_one(spec, one):
    padded = np.full((1, spec.input_shape[0], 1), PADDING_VALUE, dtype="float32")
    padded[0, : len(one)] = one
    return padded


def _features(model, x):
    import keras

    return keras.Model(model.inputs, model.get_layer("features").output).predict(x, verbose=0)


def _same_outputs(real, weights, dilation=1):
    """The "same" convolution of ``real`` (timesteps,) with ``weights`` (length, count): zeros beyond the series."""
    length = weights.shape[0]
    reach = (length - 1) * dilation
    window = np.pad(real, (reach // 2, reach - reach // 2))
    return np.stack([window[t: t + reach + 1: dilation] @ weights for t in range(len(real))])


def test_rocket_features_of_a_padded_series_are_its_own():
    """PPV and max over the real timesteps only, as if the series were never padded."""
    import keras

    from automodel.data import prepare

    series, y = _ragged_series()
    spec = prepare("sequence_classification", (series, y), seed=0).spec
    assert spec.padded
    model = Rocket().build(_rocket_hp(), spec)
    one = series[0]  # 40 real steps
    features = _features(model, _padded_one(spec, one))[0]

    normalise = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    real = np.asarray(normalise(one[None]))[0, :, 0]
    weights, biases = model.get_layer("kernels_d1_same").get_weights()  # the first group: dilation 1, "same"
    count = weights.shape[2]
    outputs = _same_outputs(real, weights[:, 0, :]) + biases
    np.testing.assert_allclose(features[:count], (outputs > 0).mean(axis=0), atol=1.01 / len(real))  # a sign at 0
    np.testing.assert_allclose(features[count: 2 * count], outputs.max(axis=0), rtol=1e-4, atol=1e-4)


def _quantile_error(model, rows):
    """How far kernel 0's first biases at dilation 1 are from the quantiles of the nearest of ``rows``' outputs."""
    layer = model.get_layer("kernels_d1_same")
    count = minirocket.dilations(model.inputs[0].shape[1], 10000)[0][1]  # features per kernel at dilation 1
    levels = -layer.get_weights()[1][:count]
    assert np.all(levels != 0)
    weights = layer.get_weights()[0][:, 0, :1]
    return min(np.abs(np.quantile(_same_outputs(row, weights)[:, 0], minirocket.quantiles(count)) - levels).max()
               for row in rows)


def _normalised(model, series):
    import keras

    normalise = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    return [np.asarray(normalise(one[None]))[0, :, 0] for one in series]


def test_minirocket_features_of_a_padded_series_are_its_own():
    """MiniRocket's PPV of a padded series, and its biases, cover the real timesteps only, at every dilation."""
    import keras_tuner as kt

    from automodel.data import prepare

    series, y = _ragged_series()
    prepared = prepare("sequence_classification", (series, y), seed=0)
    spec = prepared.spec
    model = Rocket().build(kt.HyperParameters(), spec)
    minirocket.fit_biases(model, spec, prepared.train[0], 10000, SEED)
    assert _quantile_error(model, _normalised(model, series)) < 1e-4
    one = series[0]  # 40 real steps
    features = _features(model, _padded_one(spec, one))[0]
    real = _normalised(model, [one])[0]
    start = 0
    for dilation, count, groups in minirocket.plan(spec.input_shape[0], 10000, padded=True):
        assert [padding for padding, _ in groups] == ["same"]  # masks stay aligned
        weights, biases = model.get_layer(f"kernels_d{dilation}_same").get_weights()
        outputs = _same_outputs(real, weights[:, 0, :], dilation) + biases
        ppv = features[start: start + len(biases)]
        np.testing.assert_allclose(ppv, (outputs > 0).mean(axis=0), atol=1.01 / len(real))
        start += len(biases)
    assert start == len(features)


def test_minirocket_has_its_84_kernels_and_exponential_dilations():
    from itertools import combinations

    weights = minirocket.kernel_weights()
    assert weights.shape == (9, 84)
    assert {tuple(np.flatnonzero(column == 2)) for column in weights.T} == set(combinations(range(9), 3))
    assert set(np.unique(weights)) == {-1.0, 2.0} and np.all(weights.sum(axis=0) == 0)
    pairs = minirocket.dilations(427, 10000)
    assert pairs[0][0] == 1 and pairs[-1][0] <= (427 - 1) / 8 and sum(n for _, n in pairs) == 10000 // 84
    dilations = [d for d, _ in pairs]
    assert dilations == sorted(set(dilations))
    paddings = [dict(groups) for _, _, groups in minirocket.plan(427, 10000, padded=False)]
    assert paddings[0]["same"] == list(range(0, 84, 2)) and paddings[1]["same"] == list(range(1, 84, 2))


def test_minirocket_kernels_are_in_the_model_and_the_same_for_a_seed():
    import keras_tuner as kt

    from automodel.data import prepare

    x, y = _waves(np.random.default_rng(4), 20)
    spec = prepare("sequence_classification", (x, y), seed=0).spec
    models = []
    for _ in range(2):
        model = Rocket().build(kt.HyperParameters(), spec)
        minirocket.fit_biases(model, spec, x, 10000, SEED)
        models.append(model)
    count = minirocket.dilations(60, 10000)[0][1]  # each kernel once per feature
    np.testing.assert_array_equal(models[0].get_layer("kernels_d1_same").get_weights()[0][:, 0, :],
                                  np.repeat(minirocket.kernel_weights()[:, ::2], count, axis=1))  # all on the channel
    np.testing.assert_array_equal(_features(models[0], x), _features(models[1], x))


def test_minirocket_sums_each_kernel_over_a_random_subset_of_channels():
    import keras_tuner as kt

    from automodel.data import prepare

    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((20, 50, 12)).astype("float32"), np.arange(20) % 2
    model = Rocket().build(kt.HyperParameters(), prepare("sequence_classification", (x, y), seed=0).spec)
    count = minirocket.dilations(50, 10000)[0][1]
    used = np.abs(model.get_layer("kernels_d1_same").get_weights()[0][..., ::count]).sum(axis=0) > 0  # channels, kernels
    assert 1 <= used.sum(axis=0).min() and used.sum(axis=0).max() <= minirocket.MAX_CHANNELS
    assert len({tuple(column) for column in used.T}) > 10


def test_minirocket_biases_are_training_quantiles_and_survive_a_reload(rocket_run, tmp_path):
    import keras

    model = rocket_run.model(rocket_run.best_trial_id)
    x, _ = _waves(np.random.default_rng(0), 60)  # the fixture's data
    assert _quantile_error(model, _normalised(model, x)) < 1e-4  # one training series' quantiles

    model.save(tmp_path / "rocket.keras")
    again = keras.saving.load_model(tmp_path / "rocket.keras", compile=False)
    np.testing.assert_array_equal(again.get_layer("kernels_d1_same").get_weights()[1],
                                  model.get_layer("kernels_d1_same").get_weights()[1])
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_a_minirocket_model_exports_and_each_runtime_matches(rocket_run, tmp_path):
    card = rocket_run.export(tmp_path / "export", formats=["keras", "saved_model", "tflite", "onnx"])
    assert {name: info["status"] for name, info in card["formats"].items()} == dict.fromkeys(
        ["keras", "saved_model", "tflite", "onnx"], "verified")


def test_the_transform_matches_aeons_minirocket_given_its_biases():
    """With the reference implementation's biases, the model computes the reference's features."""
    aeon = pytest.importorskip("aeon.transformations.collection.convolution_based")
    import keras_tuner as kt

    from automodel.data import prepare

    x, y = _waves(np.random.default_rng(6), 15)
    spec = prepare("sequence_classification", (x, y), seed=0).spec
    model = Rocket().build(kt.HyperParameters(), spec)
    normalised = ((x - np.array(spec.mean)) / np.sqrt(np.array(spec.variance))).astype("float32").transpose(0, 2, 1)
    reference = aeon.MiniRocket(random_state=0).fit(normalised)
    biases, start, order = reference.parameters[4], 0, []
    for dilation, count, groups in minirocket.plan(60, 10000, padded=False):
        block = np.arange(start, start + 84 * count).reshape(84, count)
        for padding, kernels in groups:
            conv = model.get_layer(f"kernels_d{dilation}_{padding}")
            conv.set_weights([conv.get_weights()[0], -biases[block[kernels].ravel()]])
            order += block[kernels].ravel().tolist()
        start += 84 * count
    ours, theirs = _features(model, x), reference.transform(normalised)[:, order]
    assert np.mean(np.abs(ours - theirs) > 1e-6) < 1e-3  # a rare sign at a tie
    np.testing.assert_allclose(ours, theirs, atol=2.01 / 60)


def test_rocket_runs_first_when_every_sequence_architecture_takes_part():
    from automodel import selection

    assert Rocket().portfolio(None)[0] == {"transform": "minirocket", "features": 10000}  # MiniRocket as published

    names = [arch.name for arch in selection.choose("sequence_classification", None)]
    assert names[0] == "rocket" and {"cnn", "rnn"} <= set(names)
    assert [a.name for a in selection.choose("sequence_classification", ["cnn", "rocket"])] == ["cnn", "rocket"]
