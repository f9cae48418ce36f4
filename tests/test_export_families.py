"""Export of each task family (text, sequences, generation) in every format.

One tiny real search per family, shared by the module; every artifact is then
reloaded here by its own runtime and compared with the trained model.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest
from test_export import ALL_FORMATS, reload_outputs, run_onnx

FAMILIES = {
    "text": dict(task="text_classification", data="reviews", architectures=["rnn"]),
    "sequence": dict(task="sequence_classification", data="waveforms", architectures=["rnn"]),
    "sequence_regression": dict(task="sequence_regression", data="series", architectures=["cnn"]),
    "generation": dict(task="image_generation", data="digits", architectures=["gan"]),
}
# what TFLite cannot hold, and why: string ops need the Flex delegate
UNSUPPORTED = {"text": {"tflite"}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import automodel

    cache = {}

    def get(family):
        if family not in cache:
            root = tmp_path_factory.mktemp(family)
            result = automodel.search(
                tuner="random", max_trials=1, epochs=1, directory=root, name=family, seed=3, **FAMILIES[family]
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                card = result.export(root / "export", formats=ALL_FORMATS, include_samples=True)
            cache[family] = result, root / "export", card, [str(w.message) for w in caught]
        return cache[family]

    return get


def trained_outputs(result, x):
    import tensorflow as tf

    return result.model()(tf.constant(x.astype(object) if x.dtype.kind == "U" else x), training=False).numpy()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_exports_every_format_and_each_runtime_matches(exported, family, tmp_path):
    result, folder, card, _ = exported(family)
    unsupported = UNSUPPORTED.get(family, set())
    assert {name for name, info in card["formats"].items() if info["status"] != "verified"} == unsupported
    x = np.load(folder / "sample_inputs.npy")
    expected = trained_outputs(result, x)
    np.testing.assert_allclose(np.load(folder / "sample_outputs.npy"), expected, atol=1e-6)
    outputs = reload_outputs(folder, card, x, tmp_path)
    assert set(outputs) == set(ALL_FORMATS) - unsupported
    tolerance = 1e-4 * max(1.0, float(np.abs(expected).max()))
    for name, actual in outputs.items():
        np.testing.assert_allclose(actual, expected, atol=tolerance, rtol=0, err_msg=name)


def test_text_model_takes_raw_strings_in_every_runtime_that_can_hold_it(exported, tmp_path):
    import keras
    import tensorflow as tf

    result, folder, card, caught = exported("text")
    assert card["input"] == {"name": "inputs", "shape": [None], "dtype": "string"}
    assert card["processing_layers"] == ["TextVectorization"]
    assert card["class_names"] == ["negative", "positive"]
    reason = card["formats"]["tflite"]["reason"]
    assert card["formats"]["tflite"]["status"] == "unsupported"
    assert "StringLower" in reason and "Flex" in reason and "SavedModel or ONNX" in reason
    assert any("tflite skipped" in message for message in caught)
    assert not (folder / "model.tflite").exists()
    assert "| tflite | - | unsupported |" in (folder / "MODEL_CARD.md").read_text()
    assert card["formats"]["onnx"]["needs_onnxruntime_extensions"] is True

    # casing, punctuation, tabs, newlines and runs of spaces: tokenised alike everywhere
    texts = np.array(["The BATTERY is NOT good!!!", "  the\tscreen   is\nterrible,  honestly ", "zzz qqq", "",
                      "price: great; sound: awful."])
    keras_out = keras.models.load_model(folder / "model.keras")(tf.constant(texts.astype(object))).numpy()
    np.testing.assert_allclose(keras_out, trained_outputs(result, texts), atol=1e-6)
    assert np.ptp(keras_out[:, 0]) > 1e-3, "the outputs depend on the words, so a tokenising mistake would show"
    serve = tf.saved_model.load(str(folder / "text" / "1")).signatures["serving_default"]
    np.testing.assert_allclose(serve(inputs=tf.constant(texts))["probabilities"].numpy(), keras_out, atol=1e-6)
    np.testing.assert_allclose(run_onnx(folder / "model.onnx", texts, tmp_path, extensions=True), keras_out, atol=1e-5)


def test_text_saved_model_answers_saved_model_cli(exported, tmp_path):
    _, folder, _, _ = exported("text")
    done = subprocess.run(
        [shutil.which("saved_model_cli"), "run", "--dir", "text/1",
         "--tag_set", "serve", "--signature_def", "serving_default",
         "--inputs", "inputs=sample_inputs.npy", "--outdir", str(tmp_path)],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "probabilities.npy"), np.load(folder / "sample_outputs.npy"), atol=1e-6)


def test_recurrent_models_run_in_tflite_one_sample_at_a_time(exported):
    _, folder, card, _ = exported("sequence")
    assert card["input"]["shape"] == [None, 48, 1] and card["output"] == {"name": "probabilities", "shape": [None, 3]}
    assert card["formats"]["tflite"]["batch_size"] == 1
    assert "batch size 1" in (folder / "MODEL_CARD.md").read_text()


def test_regression_exports_predictions(exported):
    _, _, card, _ = exported("sequence_regression")
    assert card["output"] == {"name": "predictions", "shape": [None, 4]}
    assert card["class_names"] is None and set(card["metrics"]["test"]) == {"loss", "mae"}


def test_generation_exports_the_generator(exported):
    result, folder, card, _ = exported("generation")
    latent = result.best_hyperparameters()["gan/latent_dim"]
    assert card["input"]["shape"] == [None, latent] and card["input"]["dtype"] == "float32"
    assert card["output"] == {"name": "images", "shape": [None, 8, 8, 1]}
    assert card["verification"]["source"] == "seeded standard-normal inputs"
    assert card["processing_layers"] == ["Rescaling"]  # tanh to the data's value range, inside the model
    assert set(card["metrics"]["test"]) == {"fid"} and card["metrics"]["validation"]["fid"] > 0
    images = np.load(folder / "sample_outputs.npy")
    assert images.shape == (32, 8, 8, 1) and 0 <= images.min() and images.max() <= 16  # the data's range
