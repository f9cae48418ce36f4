"""KerasTuner's ready-made HyperModels (keras_tuner.applications) as automodel plugins, unchanged.

They compile for one-hot targets (categorical_crossentropy) where automodel's
labels are class indices; the engine gives them the equivalent sparse loss.
HyperResNet and HyperXception are searched, each at a small configuration of
its own space (a portfolio entry); HyperEfficientNet, which always loads
ImageNet weights that cannot be downloaded here, is built without them.
"""

import numpy as np
import pytest

import automodel
from automodel import Architecture

RESNET = {"version": "v1", "conv3_depth": 4, "conv4_depth": 6, "pooling": "avg", "optimizer": "adam",
          "learning_rate": 0.001}
XCEPTION = {"activation": "relu", "conv2d_num_filters": 32, "kernel_size": 3, "sep_num_filters": 128,
            "num_residual_blocks": 2, "pooling": "avg", "num_dense_layers": 1, "dropout_rate": 0.0,
            "dense_use_bn": False, "learning_rate": 0.001}
EFFICIENTNET = {"version": "B0", "pooling": "avg", "top_dropout_rate": 0.2, "learning_rate": 0.01}


class XceptionByBuild(Architecture):
    """A plugin written from the README: a plain ``build`` that returns KerasTuner's model as it compiled it."""

    name = "xception"
    tasks = ("image_classification",)

    def build(self, hp, spec):
        import keras_tuner as kt

        return kt.applications.HyperXception(input_shape=spec.input_shape, classes=spec.num_classes).build(hp)

    def portfolio(self, spec):
        return [dict(XCEPTION)]


def _images(n_per_class=24, size=32):
    """Three classes told apart by where the bright half is."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), n_per_class)
    x = rng.random((len(y), size, size, 3)).astype("float32")
    x[y == 1, : size // 2] += 1.0
    x[y == 2, :, : size // 2] += 1.0
    return x, y


@pytest.fixture(scope="module")
def applications_run(tmp_path_factory):
    import keras_tuner as kt

    def resnet(spec):
        return kt.applications.HyperResNet(input_shape=spec.input_shape, classes=spec.num_classes)

    architectures = [Architecture.from_hypermodel("resnet", resnet, ["image_classification"], portfolio=[RESNET]),
                     XceptionByBuild()]
    result = automodel.search(task="image_classification", data=_images(), architectures=architectures,
                              tuner="random", max_trials=2, epochs=1, directory=tmp_path_factory.mktemp("apps"),
                              name="apps", seed=0, validation="split", max_ensemble_size=1)
    return result, architectures


def test_keras_tuners_applications_train_on_class_indices(applications_run):
    result, _ = applications_run
    board = result.leaderboard().set_index("architecture")
    assert set(board.index) == {"resnet", "xception"}
    assert (board["status"] == "completed").all(), board["reason"].to_dict()
    assert board["val_accuracy"].notna().all() and board["val_loss"].notna().all()  # the objective, from their metrics
    assert board.loc["resnet", "resnet/version"] == "v1" and board.loc["xception", "xception/sep_num_filters"] == 128


def test_their_models_take_the_sparse_loss_and_rebuild_as_configured(applications_run, tmp_path):
    import keras

    result, architectures = applications_run
    for trial_id in result.leaderboard()["trial"]:
        assert isinstance(result.model(trial_id).loss, keras.losses.SparseCategoricalCrossentropy)
    x, y = _images(n_per_class=2)
    assert result.predict(x).shape == y.shape
    assert set(result.evaluate((x, y))) >= {"accuracy", "loss"}
    with pytest.raises(automodel.PluginError, match="pass it again"):  # not installed: configured in code
        automodel.open_run(result.path).model("0")
    reopened = automodel.open_run(result.path, architectures=architectures)
    np.testing.assert_allclose(reopened.predict_proba(x), result.predict_proba(x), rtol=1e-5, atol=1e-6)


def test_hyper_efficientnet_compiles_for_class_indices():
    """Its model is recompiled with the sparse loss and trains on class indices (built alone: a search would
    also build a few other versions while KerasTuner discovers the space, each needing its weights)."""
    import functools

    import keras
    import keras_tuner as kt
    from keras_tuner.src.applications import efficientnet

    from automodel.data import prepare
    from automodel.engine.hypermodel import for_task_targets

    x, y = _images(n_per_class=4)
    spec = prepare("image_classification", (x, y), seed=0).spec
    hp = kt.HyperParameters()
    hp.values.update(EFFICIENTNET)
    hypermodel = kt.applications.HyperEfficientNet(input_shape=spec.input_shape, classes=spec.num_classes)
    original = efficientnet.EFFICIENTNET_MODELS["B0"]
    efficientnet.EFFICIENTNET_MODELS["B0"] = functools.partial(original, weights=None)  # no download here
    try:
        model = for_task_targets(hypermodel.build(hp), spec)
    finally:
        efficientnet.EFFICIENTNET_MODELS["B0"] = original
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert isinstance(model.optimizer, keras.optimizers.SGD)  # its own optimizer kept
    logs = model.fit(x, y, epochs=1, batch_size=4, verbose=0).history
    assert np.isfinite(logs["loss"][0]) and "accuracy" in logs


def test_a_hypermodels_own_fit_is_used(tmp_path):
    import keras
    import keras_tuner as kt

    fitted = []

    class Dense(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(hp.Int("units", 8, 16, step=8)),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile("adam", keras.losses.CategoricalCrossentropy(), ["categorical_accuracy"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            fitted.append(hp.get("units"))
            return model.fit(*args, **kwargs)

    x, y = _images(n_per_class=20, size=8)
    arch = Architecture.from_hypermodel("dense", lambda spec: Dense(), ["image_classification"])
    result = automodel.search(task="image_classification", data=(x[..., :1], y), architectures=[arch],
                              tuner="random", max_trials=1, epochs=2, directory=tmp_path, name="fit", seed=0,
                              validation="split", max_ensemble_size=1)
    row = result.leaderboard().iloc[0]
    assert row["status"] == "completed" and row["val_accuracy"] >= 0  # categorical_accuracy alone hid the objective
    assert fitted == [row["dense/units"]] * 2  # the trial and the final refit both trained through its fit
