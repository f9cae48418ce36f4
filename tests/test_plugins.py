"""The built-in plugins: their search spaces, and real training on the demo data."""

import os
import subprocess
import sys

import keras_tuner as kt
import numpy as np
import pytest
from conftest import trials_only

import automodel
from automodel.data import prepare
from automodel.plugins.cnn import CNN
from automodel.plugins.gan import GAN
from automodel.plugins.rnn import RNN
from automodel.plugins.vgg16 import VGG16Transfer


@pytest.fixture(scope="module")
def prepared():
    """The demo data sets, validated and split once for the module."""
    return {
        "digits": prepare(None, "digits"),
        "waveforms": prepare(None, "waveforms"),
        "series": prepare(None, "series"),
        "reviews": prepare(None, "reviews"),
        "generation": prepare("image_generation", "digits"),
    }


def declared(arch, spec, **values):
    """Build ``arch`` once; return the hyperparameters it declared and the model."""
    hp = kt.HyperParameters()
    hp.values.update(values)
    model = arch.build(hp, spec)
    return {p.name: p for p in hp.space}, model


def layer_types(model):
    found = set()
    for layer in model.layers:
        found.add(type(layer).__name__)
        if hasattr(layer, "layers"):  # a nested model
            found |= layer_types(layer)
        if hasattr(layer, "forward_layer"):  # Bidirectional
            found.add(type(layer.forward_layer).__name__)
    return found


def test_every_plugin_is_listed_with_its_tasks():
    rows = {row.name: set(row.tasks) for row in automodel.list_plugins()}
    assert rows["cnn"] == {"image_classification", "sequence_classification", "sequence_regression"}
    assert rows["rnn"] == {"sequence_classification", "sequence_regression", "text_classification"}
    assert rows["vgg16"] == {"image_classification"}
    assert rows["gan"] == {"image_generation"}


# -- search spaces ---------------------------------------------------------------


def test_cnn_image_search_space(prepared):
    space, model = declared(CNN(), prepared["digits"].spec)
    assert {"conv_blocks", "filters_0", "kernel_size", "batch_norm", "dropout", "pooling", "global_pooling",
            "dense_units", "learning_rate", "optimizer"} <= set(space)
    assert set(space["optimizer"].values) == {"adam", "rmsprop", "sgd"}
    assert model.output_shape == (None, 10) and "Conv2D" in layer_types(model)


@pytest.mark.parametrize("family, layer", [("fcn", "Conv1D"), ("resnet", "Add")])
def test_cnn_sequence_families(prepared, family, layer):
    space, model = declared(CNN(), prepared["waveforms"].spec, family=family)
    assert set(space["family"].values) == {"fcn", "resnet"} and "filters" in space
    assert layer in layer_types(model) and "GlobalAveragePooling1D" in layer_types(model)
    assert model.output_shape == (None, 3)


def test_cnn_forecasts_several_steps(prepared):
    _, model = declared(CNN(), prepared["series"].spec)
    assert model.output_shape == (None, 4)


@pytest.mark.parametrize("cell, layer", [("lstm", "LSTM"), ("gru", "GRU"), ("simple_rnn", "SimpleRNN")])
def test_rnn_cells(prepared, cell, layer):
    space, model = declared(RNN(), prepared["waveforms"].spec, cell=cell, bidirectional=True, layers=2)
    assert {"cell", "bidirectional", "layers", "units", "dropout", "recurrent_dropout", "learning_rate"} <= set(space)
    assert {layer, "Bidirectional"} <= layer_types(model)


def test_rnn_text_model_takes_raw_strings(prepared):
    space, model = declared(RNN(), prepared["reviews"].spec)
    assert {"vocabulary_size", "sequence_length", "embedding_size"} <= set(space)
    assert {"TextVectorization", "Embedding"} <= layer_types(model)
    assert model.inputs[0].dtype == "string"
    assert model.predict(np.array(["the screen is not bright", "great"], dtype=object), verbose=0).shape == (2, 2)


def test_gan_search_space_and_generator(prepared):
    spec = prepared["generation"].spec
    space, model = declared(GAN(), spec)
    assert {"latent_dim", "depth", "filters", "generator_batch_norm", "discriminator_dropout",
            "generator_learning_rate", "discriminator_learning_rate", "label_smoothing"} <= set(space)
    generator = GAN().final_model(model)
    images = generator.predict(np.zeros((3, generator.input_shape[-1])), verbose=0)
    assert images.shape == (3, 8, 8, 1)
    low, high = spec.value_range
    assert low <= images.min() and images.max() <= high  # in the data's units


def test_vgg16_search_space_depends_on_pretraining(prepared):
    spec = prepared["digits"].spec
    pretrained, model = declared(VGG16Transfer(), spec)
    assert {"unfreeze_blocks", "frozen_epochs", "fine_tune_lr_ratio", "dense_units", "learning_rate"} <= set(pretrained)
    scratch, _ = declared(VGG16Transfer(weights=None), spec)
    assert "unfreeze_blocks" not in scratch
    # grey 8x8 in, resized to 32x32 with three channels inside the model
    assert model.input_shape == (None, 8, 8, 1)
    assert model.get_layer("vgg16").input_shape == (None, 32, 32, 3)


def test_vgg16_preprocessing_matches_keras(prepared):
    """The fixed 1x1 convolution equals keras.applications.vgg16.preprocess_input."""
    import keras

    from automodel.plugins.vgg16 import _vgg16_preprocessing

    rgb = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    layer = _vgg16_preprocessing((0.0, 255.0), 3)
    expected = keras.applications.vgg16.preprocess_input(rgb.copy())
    np.testing.assert_allclose(np.asarray(layer(rgb)), expected, atol=1e-3)
    grey = rgb[..., :1] / 255 * 16  # digits' 0-16 range
    np.testing.assert_allclose(
        np.asarray(_vgg16_preprocessing((0.0, 16.0), 1)(grey)),
        keras.applications.vgg16.preprocess_input(np.repeat(grey * 255 / 16, 3, axis=-1)),
        atol=1e-3,
    )


# -- learning on the demo data ----------------------------------------------------


def fit_fixed(arch, data, epochs, **values):
    _, model = declared(arch, data.spec, **values)
    history = model.fit(*data.train, validation_data=data.validation, epochs=epochs, batch_size=32, verbose=0)
    return max(history.history["val_accuracy"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])  # SimpleRNN learns these slowly; the search ranks it
def test_recurrent_cells_beat_chance_on_waveforms(prepared, cell):
    accuracy = fit_fixed(RNN(), prepared["waveforms"], 12, cell=cell, learning_rate=0.01)
    assert accuracy > 0.6, accuracy  # chance: 1/3


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_cells_read_negations_in_text(prepared, cell):
    accuracy = fit_fixed(RNN(), prepared["reviews"], 10, cell=cell)
    assert accuracy > 0.8, accuracy  # chance: 1/2; "not good" needs word order


def test_sequence_search_compares_recurrent_and_convolutional_models(tmp_path, prepared):
    result = automodel.search(
        data="series", architectures=["cnn", "rnn"], tuner="random", max_trials=3, epochs=6,
        directory=tmp_path, seed=4,
    )
    board = trials_only(result.leaderboard())
    assert set(board["architecture"]) == {"cnn", "rnn"}
    baseline = float(np.var(prepared["series"].validation[1]))  # always predicting the mean
    assert board.iloc[0]["val_loss"] < 0.6 * baseline
    forecast = result.predict(prepared["series"].test[0][:5])
    assert forecast.shape == (5, 4)


def test_image_generation_search(tmp_path):
    result = automodel.search(
        task="image_generation", data="digits", architectures=["gan"], tuner="random", max_trials=2,
        epochs=8, directory=tmp_path, seed=0,
    )
    board = trials_only(result.leaderboard())
    assert list(board.columns[:4]) == ["trial", "architecture", "status", "fid"]
    best = result.run.trial_record(result.best_trial_id)
    assert board.iloc[0]["fid"] * 3 <= best["fid_untrained"]  # at least 3x better than untrained
    for trial_id in result.run.trial_ids():
        assert (result.run.trial_dir(trial_id) / "samples.png").is_file()
    assert result.evaluate()["fid"] * 3 <= best["fid_untrained"]  # on the held-out test images
    images = result.generate(5)
    assert images.shape == (5, 8, 8, 1)
    assert result.best_model().input_shape[-1] == result.best_hyperparameters()["gan/latent_dim"]


def test_image_generation_without_labels(tmp_path, digits):
    images = digits[0][:400]
    result = automodel.search(
        task="image_generation", data=images, tuner="random", max_trials=1, epochs=2, directory=tmp_path,
    )
    assert result.classes is None and trials_only(result.leaderboard()).iloc[0]["status"] == "completed"
    assert np.isfinite(result.evaluate()["fid"])


# -- VGG16 weights ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg16_weights_file(tmp_path_factory):
    """A VGG16 base written to disk, as a user would bring the ImageNet file."""
    import keras

    path = tmp_path_factory.mktemp("weights") / "vgg16_notop.weights.h5"
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.save_weights(path)
    return path, base.get_layer("block1_conv1").kernel.numpy()


def test_vgg16_loads_a_local_weights_file_and_trains(tmp_path, small_digits, vgg16_weights_file):
    path, first_kernel = vgg16_weights_file
    result = automodel.search(
        task="image_classification", data=small_digits, architectures=[VGG16Transfer(weights=str(path))],
        tuner="random", max_trials=1, epochs=1, directory=tmp_path,
    )
    board = trials_only(result.leaderboard())
    assert board.iloc[0]["status"] == "completed" and board.iloc[0]["architecture"] == "vgg16"
    assert board.iloc[0]["vgg16/frozen_epochs"] >= 1
    base = result.best_model().get_layer("vgg16")
    np.testing.assert_array_equal(base.get_layer("block1_conv1").kernel.numpy(), first_kernel)  # frozen, loaded
    assert result.predict(small_digits[0][:3]).shape == (3,)


def test_vgg16_download_failure_says_what_to_do(tmp_path, small_digits, monkeypatch):
    import automodel.plugins.vgg16 as vgg16

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached copy
    monkeypatch.delenv("AUTOMODEL_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(vgg16, "WEIGHTS_URL", "http://127.0.0.1:9/vgg16.h5")  # nothing listens there
    with pytest.raises(automodel.PluginError) as error:
        automodel.search(task="image_classification", data=small_digits, architectures=["vgg16"],
                         directory=tmp_path, max_trials=1)
    message = str(error.value)
    assert vgg16.WEIGHTS_FILE in message and "AUTOMODEL_VGG16_WEIGHTS" in message and "weights=None" in message
    assert not (tmp_path / "image_classification" / "trial_0").exists()  # nothing trained


def test_a_default_search_leaves_out_what_cannot_get_its_weights(tmp_path, small_digits, monkeypatch):
    """Offline, the default image search trains what needs no download, and says what it left out and why."""
    import automodel.plugins.vgg16 as vgg16

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("AUTOMODEL_VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(vgg16, "WEIGHTS_URL", "http://127.0.0.1:9/vgg16.h5")
    with pytest.warns(UserWarning, match="left out architecture 'vgg16'.*AUTOMODEL_VGG16_WEIGHTS"):
        result = automodel.search(task="image_classification", data=small_digits, directory=tmp_path, name="offline",
                                  max_trials=1, epochs=1, max_ensemble_size=1, validation="split")
    assert "vgg16" not in result.run.meta()["architectures"] and "cnn" in result.run.meta()["architectures"]
    assert vgg16.WEIGHTS_FILE in result.run.meta()["left_out"]["vgg16"]
    assert result.leaderboard().iloc[0]["status"] == "completed"


def test_vgg16_missing_local_file(tmp_path, small_digits):
    with pytest.raises(automodel.PluginError, match="does not exist"):
        automodel.search(task="image_classification", data=small_digits, directory=tmp_path,
                         architectures=[VGG16Transfer(weights=str(tmp_path / "nope.h5"))])


def test_cnn_and_vgg16_share_one_leaderboard(tmp_path, small_digits):
    result = automodel.search(
        task="image_classification", data=small_digits, architectures=["cnn", VGG16Transfer(weights=None)],
        tuner="random", max_trials=3, epochs=1, directory=tmp_path, seed=2,
    )
    assert set(trials_only(result.leaderboard())["architecture"]) == {"cnn", "vgg16"}


# -- from the command line -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--data", "waveforms", "--architectures", "rnn"],
        ["--data", "series", "--architectures", "cnn"],
        ["--data", "reviews", "--architectures", "rnn"],
        ["--task", "image_generation", "--data", "digits", "--architectures", "gan"],
    ],
    ids=["waveforms-rnn", "series-cnn", "reviews-rnn", "digits-gan"],
)
def test_each_plugin_searches_from_the_cli(tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-m", "automodel.cli", "search", *args, "--tuner", "random", "--max-trials", "1",
         "--epochs", "2", "--validation", "split", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert " completed " in done.stdout and "on the held-out test split:" in done.stdout


def test_vgg16_searches_from_the_cli_with_a_local_weights_file(tmp_path, small_digits, vgg16_weights_file):
    data = tmp_path / "digits.npz"
    np.savez(data, x=small_digits[0][:200], y=small_digits[1][:200])
    done = subprocess.run(
        [sys.executable, "-m", "automodel.cli", "search", "--task", "image_classification", "--data", str(data),
         "--architectures", "vgg16", "--tuner", "random", "--max-trials", "1", "--epochs", "1", "--validation", "split",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "AUTOMODEL_VGG16_WEIGHTS": str(vgg16_weights_file[0])},
    )
    assert done.returncode == 0, done.stderr
    assert " vgg16 " in done.stdout and " completed " in done.stdout
