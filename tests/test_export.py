"""Export: every format written, reloaded by its own runtime and matched to the trained model.

The exports are shared per module (each is a few seconds of real conversion);
tests that need their own target write to a fresh folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from conftest import trials_only

from automodel import AutomodelError
from automodel.export.model_card import CARD_JSON, CARD_MARKDOWN

ALL_FORMATS = ["keras", "saved_model", "tflite", "onnx"]
ATOL = 1e-4

ONNX_RUNNER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import onnxruntime
    path, inputs, outputs, extensions = sys.argv[1:5]
    options = onnxruntime.SessionOptions()
    if extensions == "1":
        import onnxruntime_extensions
        options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    x = np.load(inputs)
    x = x.astype(object) if x.dtype.kind == "U" else x
    np.save(outputs, session.run(None, {session.get_inputs()[0].name: x})[0])
    """
)


def run_onnx(path, x, tmp_path, extensions=False):
    """ONNX Runtime in a process that has never imported TensorFlow, as on a server."""
    np.save(tmp_path / "onnx_x.npy", x)
    command = [sys.executable, "-c", ONNX_RUNNER, str(path), str(tmp_path / "onnx_x.npy"), str(tmp_path / "onnx_y.npy")]
    subprocess.run(command + ["1" if extensions else "0"], check=True, timeout=120)
    return np.load(tmp_path / "onnx_y.npy")


def reload_outputs(folder, card, x, tmp_path) -> dict:
    """Outputs of each verified artifact on ``x``, each loaded by its runtime here, not by automodel."""
    import keras
    import tensorflow as tf

    tensor = tf.constant(x.astype(object) if x.dtype.kind == "U" else x)
    formats = card["formats"]
    outputs = {}
    if formats.get("keras", {}).get("status") == "verified":
        outputs["keras"] = np.asarray(keras.models.load_model(folder / "model.keras")(tensor, training=False))
    if formats.get("saved_model", {}).get("status") == "verified":
        serve = tf.saved_model.load(str(folder / formats["saved_model"]["path"])).signatures["serving_default"]
        outputs["saved_model"] = serve(inputs=tensor)[card["output"]["name"]].numpy()
    if formats.get("tflite", {}).get("status") == "verified":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice that LiteRT replaces it
            interpreter = tf.lite.Interpreter(model_path=str(folder / "model.tflite"))
        runner = interpreter.get_signature_runner("serving_default")
        batches = np.split(x, len(x)) if formats["tflite"]["batch_size"] == 1 else [x]
        outputs["tflite"] = np.concatenate([runner(inputs=b)[card["output"]["name"]] for b in batches])
    if formats.get("onnx", {}).get("status") == "verified":
        extensions = formats["onnx"]["needs_onnxruntime_extensions"]
        outputs["onnx"] = run_onnx(folder / "model.onnx", x, tmp_path, extensions)
    return outputs


def hidden_leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def image_export(digits_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports") / "digits-model"
    card = digits_run.export(folder, formats=ALL_FORMATS, include_samples=True)  # the files the checks below load
    return folder, card


# -- image classification: every format --------------------------------------------


def test_image_export_writes_and_verifies_every_format(image_export, digits_run):
    folder, card = image_export
    assert set(card["formats"]) == set(ALL_FORMATS)
    for name, info in card["formats"].items():
        assert info["status"] == "verified", (name, info)
        assert 0 <= info["max_abs_diff"] <= info["tolerance"] == pytest.approx(1e-4)
        assert info["samples"] == 32
        assert (folder / info["path"]).exists()
    assert (folder / "digits" / "1" / "saved_model.pb").is_file()  # TF Serving's NAME/1/ layout
    assert json.loads((folder / CARD_JSON).read_text()) == card
    assert card["samples"] == {"inputs": "sample_inputs.npy", "outputs": "sample_outputs.npy"}  # asked for
    assert np.load(folder / "sample_inputs.npy").shape == (32, 8, 8, 1)
    assert hidden_leftovers(folder.parent) == []


def test_the_test_rows_stay_out_of_an_export_unless_asked_for(digits_run, tmp_path):
    card = digits_run.export(tmp_path / "out", formats=["keras"])
    assert sorted(os.listdir(tmp_path / "out")) == ["MODEL_CARD.md", "model.keras", "model_card.json"]
    assert card["samples"] is None and card["formats"]["keras"]["samples"] == 32  # verified on them all the same
    assert "not saved with the export: `include_samples=True` (`--include-samples`) saves them" in (
        tmp_path / "out" / CARD_MARKDOWN).read_text()


def test_model_card_records_the_model_and_its_scores(image_export, digits_run):
    folder, card = image_export
    best = digits_run.best_trial_id
    row = trials_only(digits_run.leaderboard()).set_index("trial").loc[best]
    assert card["task"] == "image_classification"
    assert card["trial"] == best and card["architecture"] == "cnn"  # digits_run keeps single models
    assert card["hyperparameters"] == {
        k: v for k, v in digits_run.best_hyperparameters().items() if k != "architecture"
    }
    assert card["input"] == {"name": "inputs", "shape": [None, 8, 8, 1], "dtype": "float32"}
    assert card["processing_layers"] == ["Normalization"]  # raw pixels in: normalisation travels inside
    assert card["output"] == {"name": "probabilities", "shape": [None, 10]}
    assert card["class_names"] == [str(c) for c in range(10)]
    assert card["metrics"]["validation"]["val_accuracy"] == pytest.approx(row["val_accuracy"])
    assert card["metrics"]["test"] == pytest.approx(digits_run.evaluate())
    assert card["data"]["fingerprint"] == digits_run.meta["data"]["fingerprint"]
    assert card["seed"] == 1
    assert card["versions"]["exported_with"]["tensorflow"] and card["versions"]["exported_with"]["tf2onnx"]
    assert card["formats"]["keras"]["custom_objects"] == []
    text = (folder / CARD_MARKDOWN).read_text()
    assert "image_classification" in text and "0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in text
    assert f"{card['metrics']['test']['accuracy']:.4g}" in text
    assert "saved_model_cli run --dir digits/1" in text


def test_every_artifact_reloads_in_its_runtime_with_matching_outputs(image_export, digits_run, tmp_path):
    folder, card = image_export
    x_raw, _ = digits_run.run.load_test_data()
    x = x_raw[:50]  # raw pixel values: preprocessing travels inside each artifact
    expected = digits_run.predict_proba(x)
    outputs = reload_outputs(folder, card, x, tmp_path)
    assert set(outputs) == set(ALL_FORMATS)
    for name, actual in outputs.items():
        np.testing.assert_allclose(actual, expected, atol=ATOL, err_msg=name)
    np.testing.assert_allclose(np.load(folder / "sample_outputs.npy"), digits_run.predict_proba(np.load(folder / "sample_inputs.npy")), atol=1e-6)


def test_keras_file_loads_without_automodel(image_export, tmp_path):
    folder, _ = image_export
    script = textwrap.dedent(
        """
        import sys
        sys.modules["automodel"] = None  # any attempt to import automodel now fails
        import keras, numpy as np
        model = keras.models.load_model(sys.argv[1])
        np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
        try:
            import automodel
        except ImportError:
            print("automodel not importable")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder / "model.keras"), str(folder / "sample_inputs.npy"), str(tmp_path / "y.npy")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "automodel not importable" in done.stdout
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), np.load(folder / "sample_outputs.npy"), atol=1e-6)


def test_saved_model_answers_saved_model_cli(image_export, tmp_path):
    folder, card = image_export
    cli = shutil.which("saved_model_cli")
    assert cli, "saved_model_cli ships with TensorFlow"
    done = subprocess.run(
        [cli, "run", "--dir", card["formats"]["saved_model"]["path"], "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs", "inputs=sample_inputs.npy",
         "--outdir", str(tmp_path)],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "probabilities.npy"), np.load(folder / "sample_outputs.npy"), atol=1e-6)


# -- bad arguments: refused before anything is written --------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(formats=["keras", "pickle"]), "Unknown export format(s) 'pickle'"),
        (dict(formats=[]), "formats is empty"),
        (dict(trial="999"), "Trial '999' is not in"),
    ],
)
def test_bad_arguments_are_refused(digits_run, tmp_path, kwargs, message):
    with pytest.raises(AutomodelError, match=None) as error:
        digits_run.export(tmp_path / "out", **kwargs)
    assert message in str(error.value)
    assert not (tmp_path / "out").exists() and hidden_leftovers(tmp_path) == []


def test_existing_target_needs_overwrite(digits_run, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(AutomodelError, match="already exists. Pass overwrite=True"):
        digits_run.export(target, formats=["keras"])
    with pytest.raises(AutomodelError, match="is not an automodel export"):
        digits_run.export(target, formats=["keras"], overwrite=True)
    assert (target / "notes.txt").read_text() == "mine" and sorted(os.listdir(target)) == ["notes.txt"]


def test_target_that_is_a_file_is_refused(digits_run, tmp_path):
    (tmp_path / "out").write_text("mine")
    with pytest.raises(AutomodelError, match="is a file"):
        digits_run.export(tmp_path / "out", formats=["keras"])
    assert (tmp_path / "out").read_text() == "mine"


def test_missing_onnx_extra_names_the_install_command(digits_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the extra were not installed
    with pytest.raises(AutomodelError, match=r'pip install "automodel\[onnx\]"'):
        digits_run.export(tmp_path / "out", formats=["keras", "onnx"])
    assert not (tmp_path / "out").exists()


def test_a_trial_without_a_model_is_refused(small_digits, tmp_path):
    from conftest import plugin_of, registered, tiny_architecture

    import automodel

    def broken(arch, hp, model, spec, *args, **kwargs):
        raise RuntimeError("no model today")

    with registered(plugin_of(tiny_architecture("broken", fit=broken)), "broken-plugin"):
        run = automodel.search(
            task="image_classification", data=small_digits, architectures=["broken"], tuner="random",
            max_trials=1, epochs=1, directory=tmp_path, name="broken",
        )
        with pytest.raises(AutomodelError, match="Trial 0 is failed .*no model today.*Completed trials: none"):
            run.export(tmp_path / "out", trial=0)
        with pytest.raises(AutomodelError, match="No trial in .* has completed"):
            run.export(tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- atomic: failures and interruptions leave the target as it was ---------------------


def _disagreeing(fmt, monkeypatch):
    """Make one runtime's outputs drift, as a broken converter would."""
    predict = type(fmt).predict
    monkeypatch.setattr(fmt, "predict", lambda *args: predict(fmt, *args) + 1e-3)


def test_failed_verification_leaves_nothing(digits_run, tmp_path, monkeypatch):
    from automodel.export import FORMATS

    _disagreeing(FORMATS["tflite"], monkeypatch)
    with pytest.raises(AutomodelError, match="The tflite export disagrees with the trained model.*Nothing was exported"):
        digits_run.export(tmp_path / "out", formats=["keras", "tflite"])
    assert os.listdir(tmp_path) == []


def test_a_failure_midway_leaves_neither_the_folder_nor_its_staging(digits_run, tmp_path, monkeypatch):
    from automodel.export import FORMATS

    def umask(*args):
        raise AssertionError("the exporter read or changed the process' umask")

    def half_written(*args):
        (args[2] / "model.tflite").write_bytes(b"half a flatbuffer")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "umask", umask)
    monkeypatch.setattr(FORMATS["tflite"], "write", half_written)
    with pytest.raises(OSError, match="No space left"):
        digits_run.export(tmp_path / "out", formats=["keras", "tflite"])
    assert os.listdir(tmp_path) == []

    monkeypatch.undo()
    monkeypatch.setattr(os, "umask", umask)
    digits_run.export(tmp_path / "out", formats=["keras"])
    (tmp_path / "like-any-folder").mkdir()  # the staging folder got the mode any new folder gets
    assert (tmp_path / "out").stat().st_mode == (tmp_path / "like-any-folder").stat().st_mode
    assert sorted(os.listdir(tmp_path)) == ["like-any-folder", "out"]


def test_overwrite_replaces_only_after_the_new_export_succeeded(digits_run, tmp_path, monkeypatch):
    from automodel.export import FORMATS

    target = tmp_path / "out"
    first = digits_run.export(target, formats=["keras"])
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    _disagreeing(FORMATS["tflite"], monkeypatch)
    with pytest.raises(AutomodelError, match="disagrees"):
        digits_run.export(target, formats=["keras", "tflite"], overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before  # the earlier export is intact

    def interrupted(*args):
        (args[2] / "half-written").write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(FORMATS["saved_model"], "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        digits_run.export(target, formats=["keras", "saved_model"], overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(os.listdir(tmp_path)) == ["out"]

    monkeypatch.undo()
    second = digits_run.export(target, formats=["tflite"], overwrite=True)
    assert sorted(second["formats"]) == ["tflite"] and sorted(first["formats"]) == ["keras"]
    assert not (target / "model.keras").exists() and (target / "model.tflite").is_file()
    assert sorted(os.listdir(tmp_path)) == ["out"]


# -- the command line ------------------------------------------------------------------


def test_cli_exports_verifies_and_refuses_to_overwrite(digits_run, tmp_path):
    target = tmp_path / "cli-export"
    command = [sys.executable, "-m", "automodel.cli", "export", str(digits_run.path), "--to", str(target)]
    done = subprocess.run(command + ["--format", "keras", "onnx", "--trial", digits_run.best_trial_id,
                                     "--include-samples"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "keras        model.keras      verified with keras" in done.stdout
    assert "onnx         model.onnx       verified with onnxruntime" in done.stdout
    assert json.loads((target / CARD_JSON).read_text())["formats"]["onnx"]["status"] == "verified"
    assert (target / "sample_inputs.npy").is_file() and (target / "sample_outputs.npy").is_file()  # asked for

    again = subprocess.run(command + ["--format", "keras"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 2
    assert "automodel: error:" in again.stderr and "already exists" in again.stderr
    assert (target / "model.onnx").is_file()
