"""Ensemble selection over a search's trials: the selection itself, a real search's ensemble, its export."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import plugin_of, registered, tiny_architecture
from test_export import reload_outputs

import automodel
from automodel.engine import ensemble, predictions
from automodel.runs.rundir import RunDir, save_array

ALL_FORMATS = ["keras", "saved_model", "tflite", "onnx"]


# -- the selection, on predictions made by hand -----------------------------------------------
def _two_class(correct: list[float]) -> np.ndarray:
    """Probabilities of classes 0 and 1 where every sample's class is 0 and p(0) is ``correct``."""
    p = np.asarray(correct)
    return np.stack([p, 1 - p], axis=1)


def test_selection_finds_the_pair_that_is_right_together():
    y = np.zeros(10, dtype=int)
    first = _two_class([0.9] * 6 + [0.4] * 4)  # right on the first six
    second = _two_class([0.4] * 4 + [0.9] * 6)  # right on the last six
    useless = _two_class([0.45] * 10)
    counts, metrics = ensemble.select([first, second, useless], y, "classification")
    assert counts.tolist() == [1, 1, 0]  # the even pair; more of either only raises the loss
    assert metrics["val_accuracy"] == 1.0
    assert metrics["val_loss"] == pytest.approx(-np.mean(np.log([0.65] * 8 + [0.9] * 2)))
    counts, metrics = ensemble.select([first, second, useless], y, "classification", max_size=1)
    assert counts.tolist() == [1, 0, 0] and metrics["val_accuracy"] == 0.6


def test_selection_averages_regression_values():
    y = np.arange(6, dtype="float32").reshape(-1, 1)
    high, low, far = y + 1.0, y - 1.0, y + 5.0
    counts, metrics = ensemble.select([high, far, low], y, "regression")
    assert counts.tolist() == [1, 0, 1] and metrics["val_loss"] == 0.0 and metrics["val_mae"] == 0.0


def test_an_ensemble_that_only_fits_the_predictions_it_was_selected_on_fails_held_out():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((20, 1))
    good = y + 0.1 * rng.standard_normal(y.shape)
    candidates = [good] + [y + rng.standard_normal(y.shape) for _ in range(30)]  # noisy, each its own noise
    counts, metrics = ensemble.select(candidates, y, "regression")
    alone = ensemble.scores(good, y, "regression")
    assert np.count_nonzero(counts) > 1 and metrics["val_loss"] < alone["val_loss"] / 2  # on its own predictions
    check = ensemble.held_out(candidates, y, "regression")
    assert check["halves"] == 2 * ensemble.HALVINGS
    assert check["ensemble"]["val_loss"] > 2 * check["best_single"]["val_loss"]  # the noise it fitted does not hold
    assert check["best_single"]["val_loss"] == pytest.approx(alone["val_loss"])  # each half's best is the good one
    assert check == ensemble.held_out(candidates, y, "regression")  # the same halvings every time

    first = _two_class([0.9] * 6 + [0.4] * 4)  # a pair right together holds up held out
    second = _two_class([0.4] * 4 + [0.9] * 6)
    pair = ensemble.held_out([first, second], np.zeros(10, dtype=int), "classification")
    assert pair["ensemble"]["val_loss"] < pair["best_single"]["val_loss"]
    assert ensemble.held_out([first[:3], second[:3]], np.zeros(3, dtype=int), "classification") is None


def test_image_generation_has_no_ensemble(tmp_path):
    run = RunDir(tmp_path / "gan")
    run.write_meta({"spec": {"target": "generation"}, "objective": {"name": "fid", "direction": "min"}})
    done = ensemble.build(run)
    assert "image generation has no ensemble" in done["skipped"]
    assert run.ensemble_record()["skipped"] == done["skipped"]


def test_an_ensemble_is_not_the_default_when_the_best_trial_did_not_train_every_fold(tmp_path):
    # 0002 trained 2 of 5 folds and ranks first on them (ranking.py): its predictions cover 2/5 of the samples
    run = RunDir(tmp_path / "cv")
    run.write_meta({"status": "finished", "spec": {"target": "classification"}, "validation": {"method": "cv"},
                    "objective": {"name": "val_accuracy", "direction": "max"}})
    y = np.zeros(10, dtype=int)
    predictions.save_targets(run, y)
    made = {"0000": _two_class([0.9] * 6 + [0.4] * 4), "0001": _two_class([0.4] * 4 + [0.9] * 6)}
    for trial_id, curves in {"0000": [0.6] * 5, "0001": [0.6] * 5, "0002": [0.95, 0.95]}.items():
        mean = {"val_accuracy": [sum(curves) / len(curves)]}
        run.write_trial_record(trial_id, {"status": "completed", "history": mean,
                                          "folds": [{"history": {"val_accuracy": [v]}} for v in curves]})
        if trial_id in made:
            run.trial_dir(trial_id).mkdir(parents=True, exist_ok=True)
            save_array(run.trial_dir(trial_id) / predictions.PREDICTIONS, made[trial_id].astype("float32"))
    done = ensemble.build(run)
    assert [m["trial"] for m in done["members"]] == ["0000", "0001"] and done["metrics"]["val_accuracy"] == 1.0
    assert done["better"] is False  # it beats each of its members, but 0002 was never weighed against it
    assert done["why_not_used"].startswith("trial 0002, first on the leaderboard, has no predictions for all 10 ")


# -- a real search -------------------------------------------------------------------------
OPTIONS = dict(task="image_classification", architectures=["widths"], tuner="random", max_trials=3, epochs=3,
               name="ensembled", seed=1, validation="split")


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory, small_digits):
    arch = tiny_architecture("widths")
    arch.portfolio = lambda spec: [{"units": 16}, {"units": 32}, {"units": 24}]
    with registered(plugin_of(arch), "ensemble-test"):
        yield automodel.search(data=small_digits, directory=tmp_path_factory.mktemp("ensemble"), **OPTIONS)


def test_a_search_ends_with_an_ensemble_row_of_its_trials(ensemble_run):
    result = ensemble_run
    chosen = result.ensemble_record()
    board = result.leaderboard().set_index("trial")
    assert chosen["members"] and chosen["candidates"] == 3
    assert sum(m["count"] for m in chosen["members"]) <= ensemble.ROUNDS
    assert sum(m["weight"] for m in chosen["members"]) == pytest.approx(1.0, abs=1e-5)
    row = board.loc["ensemble"]
    assert row["status"] == "ensemble" and row["val_accuracy"] == pytest.approx(chosen["metrics"]["val_accuracy"])
    assert row["params"] == sum(board.loc[m["trial"], "params"] for m in chosen["members"])
    assert all(f"{m['trial']} (" in row["reason"] for m in chosen["members"])
    # the predictions are the best epoch's: they score what KerasTuner scored
    best = chosen["best_single"]
    assert best["trial"] == result.best_trial_id
    assert best["metrics"]["val_accuracy"] == pytest.approx(board.loc[best["trial"], "val_accuracy"], abs=1e-6)
    assert chosen["scored_on"] == f"predictions on the {result.meta['data']['split']['validation']} validation samples"


def test_the_ensemble_is_the_default_when_it_scores_better(ensemble_run):
    result = ensemble_run
    chosen = result.ensemble_record()
    ensemble_key = chosen["metrics"]["val_accuracy"], -chosen["metrics"]["val_loss"]
    single_key = chosen["best_single"]["metrics"]["val_accuracy"], -chosen["best_single"]["metrics"]["val_loss"]
    check = chosen["held_out"]
    held_out_key = [(scores["val_accuracy"], -scores["val_loss"]) for scores in (check["ensemble"], check["best_single"])]
    assert chosen["better"] == (ensemble_key > single_key and held_out_key[0] > held_out_key[1])
    assert chosen["better"], "three trials of different widths: their average should beat the best alone, held out too"
    assert result.resolve() == ("ensemble", False)
    assert result.best_model() is result.model("ensemble")
    x, y = result.test_split()
    source = result.model_source()
    members = {m["trial"]: ("refit" if m["refit"] else m["trial"], m["weight"]) for m in source["members"]}
    expected = sum(weight * result.predict_proba(x, trial_id=choice) for choice, weight in members.values())
    np.testing.assert_allclose(result.predict_proba(x), expected, atol=1e-5)
    assert result.evaluate()["accuracy"] == pytest.approx(np.mean(result.predict(x) == np.asarray(result.classes)[y]))
    refit = result.refit_record()
    if refit["trial"] in members:  # the refit trial's member is the refit model
        assert members[refit["trial"]][0] == "refit"


def test_the_ensemble_exports_in_every_format_and_loads_without_automodel(ensemble_run, tmp_path):
    result = ensemble_run
    folder = tmp_path / "ensemble-model"
    card = result.export(folder, formats=ALL_FORMATS, trial="ensemble", include_samples=True)
    assert {name: outcome["status"] for name, outcome in card["formats"].items()} == dict.fromkeys(ALL_FORMATS, "verified")
    assert card["trial"] == "ensemble" and card["architecture"] == "ensemble"
    assert [m["trial"] for m in card["members"]] == [m["trial"] for m in result.ensemble_record()["members"]]
    inference = card["inference"]
    assert inference["params"] == sum(m["params"] for m in card["members"])
    assert inference["best_single"]["trial"] == result.best_trial_id
    assert inference["seconds_per_sample"] > 0 and inference["best_single"]["seconds_per_sample"] > 0
    text = (folder / "MODEL_CARD.md").read_text()
    assert "## Members" in text and "ms per sample" in text

    x = np.load(folder / "sample_inputs.npy")
    expected = result.predict_proba(x, trial_id="ensemble")
    for name, actual in reload_outputs(folder, card, x, tmp_path).items():
        np.testing.assert_allclose(actual, expected, atol=1e-4, err_msg=name)
    script = textwrap.dedent(
        """
        import sys
        sys.modules["automodel"] = None  # any import of automodel now fails
        import keras, numpy as np
        np.save(sys.argv[3], keras.models.load_model(sys.argv[1]).predict(np.load(sys.argv[2]), verbose=0))
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(folder / "model.keras"), str(folder / "sample_inputs.npy"),
                           str(tmp_path / "y.npy")], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


def test_build_ensemble_reselects_with_a_cap(ensemble_run):
    result = ensemble_run
    before = result.ensemble_record()
    try:
        assert "single model" in result.build_ensemble(max_size=1)["skipped"]
        assert "ensemble" not in set(result.leaderboard()["trial"])
        with pytest.raises(automodel.SearchError, match="has no ensemble: max_ensemble_size=1"):
            result.model("ensemble")
        capped = result.build_ensemble(max_size=2)
        assert 1 <= len(capped["members"]) <= 2
        with pytest.raises(automodel.SearchError, match="max_ensemble_size=0"):
            result.build_ensemble(max_size=0)
    finally:
        again = result.build_ensemble()
    assert again["members"] == before["members"]


def test_a_resumed_search_selects_the_same_ensemble(ensemble_run, small_digits):
    before = ensemble_run.ensemble_record()
    again = automodel.search(data=small_digits, directory=ensemble_run.path.parent, **OPTIONS)  # still registered
    assert len(again.run.trial_ids()) == 3  # nothing left to try: the same trials
    after = again.ensemble_record()
    assert after["members"] == before["members"] and after["metrics"] == before["metrics"]


def test_one_completed_trial_has_no_ensemble_and_says_why(tmp_path, small_digits):
    arch = tiny_architecture()
    with registered(plugin_of(arch), "single-test"):
        result = automodel.search(task="image_classification", data=small_digits, architectures=["tiny"],
                                  tuner="random", max_trials=1, epochs=1, directory=tmp_path, name="one", seed=0,
                                  validation="split")
    assert "ensemble" not in set(result.leaderboard()["trial"])
    assert result.ensemble_record()["skipped"] == "only one trial with validation predictions: an ensemble needs two"
    assert result.resolve()[0] == result.best_trial_id
    with pytest.raises(automodel.SearchError, match="only one trial"):
        result.predict(small_digits[0][:2], trial_id="ensemble")
    run_file = json.loads((result.path / "run.json").read_text())
    assert "ensemble" not in run_file  # the record is ensemble.json


def test_a_wrong_max_ensemble_size_is_refused_before_anything_is_written(tmp_path, small_digits):
    with pytest.raises(automodel.SearchError, match="max_ensemble_size='3'"):
        automodel.search(task="image_classification", data=small_digits, architectures=["cnn"],
                         max_ensemble_size="3", directory=tmp_path, name="refused")
    assert not (tmp_path / "refused").exists()
