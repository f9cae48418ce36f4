"""The search's mechanisms for finding good models: protocol, portfolio, budget, pruning, refit.

Scores belong in ``benchmarks/``; these tests check that each mechanism does what
it says on tiny data.
"""

from __future__ import annotations

import time

import pytest
from conftest import plugin_of, registered, tiny_architecture, trials_only

import automodel
from automodel.engine import protocol
from automodel.engine.pruning import MedianPruner
from automodel.runs.rundir import RunDir


# -- the training protocol -----------------------------------------------------------------
@pytest.mark.parametrize(
    "samples, batch_size, epochs, patience",
    [
        (36, 4, 300, 50),  # a UCR set: thousands of small steps, as the published protocol
        (1_257, 32, 75, 12),  # digits' training split
        (50_000, 128, 20, 5),  # CIFAR-sized: a few passes of large batches
    ],
)
def test_protocol_follows_the_number_of_samples(samples, batch_size, epochs, patience):
    chosen = protocol.choose(samples)
    assert (chosen.batch_size, chosen.epochs, chosen.patience) == (batch_size, epochs, patience)
    assert chosen.given == ()
    assert chosen.epochs * chosen.steps_per_epoch >= min(protocol.TARGET_STEPS, protocol.MAX_EPOCHS * chosen.steps_per_epoch)


def test_protocol_keeps_what_the_user_fixed():
    chosen = protocol.choose(36, batch_size=8, epochs=12)
    assert (chosen.batch_size, chosen.epochs) == (8, 12)
    assert chosen.patience == 5 and chosen.given == ("batch_size", "epochs")
    assert protocol.choose(36, patience=3).patience == 3


# -- known-good first trials ---------------------------------------------------------------
def _portfolio_architecture(entries, name="tiny"):
    arch = tiny_architecture(name)
    arch.portfolio = lambda spec: entries
    return arch


@pytest.mark.parametrize("tuner", ["random", "bayesian", "hyperband", "grid"])
def test_portfolio_runs_first_then_the_tuner_explores(tuner, tmp_path, small_digits):
    arch = _portfolio_architecture([{"units": 24}, {"units": 16}])
    with registered(plugin_of(arch), "portfolio-test"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner=tuner, max_trials=4,
            epochs=3 if tuner == "hyperband" else 2, directory=tmp_path, name=tuner, seed=3,  # Hyperband: 2 brackets
        )
        units = [_values(result, trial)["tiny/units"] for trial in result.run.trial_ids()]
    assert units[:2] == [24, 16]
    assert len(units) >= 3  # the tuner's own proposals follow
    if tuner == "grid":  # the whole grid in its order, from its first point
        assert units[2:] == [8, 16]
    elif tuner != "hyperband":  # Hyperband continues good trials with the same values
        assert len(set(units)) == len(units)


def test_resumed_search_does_not_repeat_the_portfolio(tmp_path, small_digits):
    arch = _portfolio_architecture([{"units": 24}, {"units": 8}])
    options = dict(task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
                   epochs=1, directory=tmp_path, name="resumed", seed=5)
    with registered(plugin_of(arch), "portfolio-test"):
        first = automodel.search(max_trials=2, **options)
        assert [_values(first, t)["tiny/units"] for t in first.run.trial_ids()] == [24, 8]
        again = automodel.search(max_trials=4, **options)
        units = [_values(again, t)["tiny/units"] for t in again.run.trial_ids()]
    assert len(units) == 4 and units[:2] == [24, 8]
    assert units[2:].count(24) + units[2:].count(8) < 2  # no second run of both entries


def _values(result, trial_id):
    return result.run.keras_tuner_trial(trial_id)["hyperparameters"]["values"]


# -- the budget is the budget --------------------------------------------------------------
def test_time_budget_without_max_trials_runs_until_it_is_spent(tmp_path, small_digits):
    def build(arch, hp, spec):  # a space too large to run out of
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Dense(hp.Int("units", 8, 64))(keras.layers.Flatten()(x))
        return spec.compile(keras.Model(inputs, spec.head(x)), learning_rate=hp.Float("rate", 1e-4, 1e-1, sampling="log"))

    arch = tiny_architecture(build=build)
    with registered(plugin_of(arch), "budget-test"):
        started = time.monotonic()
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", epochs=1,
            time_budget=30, directory=tmp_path, name="budget", seed=0,
        )
        seconds = time.monotonic() - started
    board = trials_only(result.leaderboard())
    assert result.meta["max_trials"] is None
    assert result.meta["status"].startswith("stopped: time budget")  # not "finished" after some trial count
    assert len(board) >= 2 and board["status"].isin(["completed", "pruned"]).all()
    assert seconds >= 15  # the time was used ...
    assert seconds < 30 + 10  # ... and no trial (nor the refit) started that could not fit


# -- pruning -------------------------------------------------------------------------------
def _write_trial(run: RunDir, trial_id: str, values: list[float], status="completed"):
    run.write_trial_record(trial_id, {"trial_id": trial_id, "status": status, "history": {"val_accuracy": values}})


def test_median_rule_prunes_a_curve_below_the_others(tmp_path):
    run = RunDir(tmp_path)
    for trial_id, values in (("0", [0.5, 0.7, 0.8]), ("1", [0.6, 0.8, 0.9]), ("2", [0.4, 0.75])):
        _write_trial(run, trial_id, values)
    pruner = MedianPruner(run, "val_accuracy", "max", warmup_epochs=2)
    assert pruner.check("9", {"val_accuracy": [0.1]}) is None  # still warming up
    pruned = pruner.check("9", {"val_accuracy": [0.1, 0.2]})
    assert pruned == {"epoch": 2, "value": 0.2, "median": 0.75, "trials": 3}
    # the trial that ended at epoch 2 counts with its best value at epoch 3
    assert pruner.check("9", {"val_accuracy": [0.1, 0.2, 0.76]})["median"] == 0.8
    assert pruner.check("9", {"val_accuracy": [0.1, 0.2, 0.8]}) is None  # level with the median goes on


def test_median_rule_waits_for_enough_trials_and_follows_the_direction(tmp_path):
    run = RunDir(tmp_path)
    _write_trial(run, "0", [1.0, 0.5])
    _write_trial(run, "1", [1.0, 0.4])
    _write_trial(run, "2", [0.1], status="running")  # running trials are not compared against
    pruner = MedianPruner(run, "val_accuracy", "min", warmup_epochs=1)
    assert pruner.check("3", {"val_accuracy": [3.0, 2.0]}) is None  # two ended trials are too few
    _write_trial(run, "4", [0.9, 0.6])
    assert pruner.check("3", {"val_accuracy": [3.0, 2.0]})["median"] == 0.5
    assert pruner.check("3", {"val_accuracy": [3.0, 0.3]}) is None


def test_a_search_prunes_a_trial_that_cannot_learn(tmp_path, small_digits):
    def build(arch, hp, spec):
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Dense(hp.Int("units", 8, 32, step=8))(keras.layers.Flatten()(x))
        model = keras.Model(inputs, spec.head(x))
        # learning rate 0 for the 8-unit model: it stays at chance
        return spec.compile(model, learning_rate=1e-2 if hp.values["tiny/units"] != 8 else 1e-12, optimizer="sgd")

    arch = tiny_architecture(build=build)
    arch.portfolio = lambda spec: [{"units": 16}, {"units": 24}, {"units": 32}, {"units": 8}]
    with registered(plugin_of(arch), "pruning-test"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", max_trials=4,
            epochs=8, patience=3, directory=tmp_path, name="pruned", seed=0,
        )
    board = trials_only(result.leaderboard()).set_index("trial")
    bad = next(t for t in result.run.trial_ids() if _values(result, t)["tiny/units"] == 8)
    assert board.loc[bad, "status"] == "pruned"
    assert board.loc[bad, "epochs"] < 8
    assert board.loc[bad, "reason"].startswith("pruned at epoch 3: best val_accuracy")
    assert list(board["status"]).count("completed") == 3
    assert result.best_trial_id != bad


# -- the final refit -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def refit_run(tmp_path_factory, small_digits):
    arch = tiny_architecture("refitted")
    with registered(plugin_of(arch), "refit-test"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["refitted"], tuner="random",
            max_trials=2, epochs=4, directory=tmp_path_factory.mktemp("refit"), name="refit", seed=0,
            max_ensemble_size=1,  # the refit alone is the default model
        )
        yield result, arch


def test_refit_retrains_the_best_trial_on_training_and_validation_data(refit_run):
    import numpy as np

    result, _ = refit_run
    done = result.refit_record()
    split = result.meta["data"]["split"]
    assert done["trial"] == result.best_trial_id
    assert done["samples"] == split["train"] + split["validation"]
    record = result.run.trial_record(done["trial"])
    best_epochs = int(np.argmax(record["history"]["val_accuracy"])) + 1
    steps = best_epochs * protocol.steps_per_epoch(split["train"], done["batch_size"])
    assert done["steps"] == steps
    assert done["epochs"] == max(1, round(steps / protocol.steps_per_epoch(done["samples"], done["batch_size"])))
    assert result.meta["refit"]["trial"] == done["trial"]

    x, _ = result.test_split()
    refitted, single = result.model(), result.model(done["trial"])
    assert refitted is result.best_model() is result.model("refit")
    assert not np.allclose(refitted.predict(x[:8], verbose=0), single.predict(x[:8], verbose=0))
    assert result.model_source()["refit"] and not result.model_source(done["trial"])["refit"]


def test_a_refit_that_fits_its_data_worse_than_its_trial_is_not_used(tmp_path, small_digits):
    """An unstable training can land the refit on a bad epoch; checked on the data it trained on, it is refused."""

    def fit(arch, hp, model, spec, *args, **kwargs):
        if "validation_data" not in kwargs:  # the refit: it learns nothing, as if every step had gone astray
            model.optimizer.learning_rate = 0.0
        return model.fit(*args, **kwargs)

    with registered(plugin_of(tiny_architecture("unsteady", fit=fit)), "unsteady-test"):
        result = automodel.search(task="image_classification", data=small_digits, architectures=["unsteady"],
                                  tuner="random", max_trials=1, epochs=3, directory=tmp_path, name="unsteady",
                                  seed=0, validation="split", max_ensemble_size=1)
        assert result.refit_record() is None and not result.model_source()["refit"]
        assert "far worse than trial" in result.meta["refit"]["skipped"]
        assert result.evaluate()["accuracy"] > 0.5  # the trial's own model, which learned


def test_export_writes_the_refit_model_and_says_so(refit_run, tmp_path):
    import numpy as np

    result, _ = refit_run  # its architecture stays registered while the fixture lives
    card = result.export(tmp_path / "export", formats=["keras", "tflite"], include_samples=True)
    single = result.export(tmp_path / "single", formats=["keras"], trial=result.best_trial_id)
    assert card["trained_on"]["refit"] is True and single["trained_on"]["refit"] is False
    assert all(outcome["status"] == "verified" for outcome in card["formats"].values())
    assert "Final refit" in (tmp_path / "export" / "MODEL_CARD.md").read_text()
    import keras

    x = np.load(tmp_path / "export" / "sample_inputs.npy")
    exported = keras.saving.load_model(next((tmp_path / "export").glob("*.keras")))
    np.testing.assert_allclose(exported.predict(x, verbose=0), result.model().predict(x, verbose=0), atol=1e-5)


def test_a_search_stopped_by_the_user_is_not_refit(tmp_path, small_digits):
    import threading

    stop = threading.Event()

    def reporter(event, **info):
        if event == "trial_end":
            stop.set()

    arch = tiny_architecture()
    with registered(plugin_of(arch), "stop-test"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", max_trials=3,
            epochs=1, directory=tmp_path, name="stopped", seed=0, reporter=reporter, stop_event=stop,
        )
    assert result.refit_record() is None and not result.model_source()["refit"]
    with pytest.raises(automodel.SearchError, match="no final refit"):
        result.model("refit")


def test_a_trial_takes_at_most_a_quarter_of_the_time_budget(tmp_path, small_digits):
    arch = tiny_architecture()
    with registered(plugin_of(arch), "cap-test"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", epochs=10_000,
            patience=10_000, time_budget=16, directory=tmp_path, name="capped", seed=0, validation="split",
        )
    first = trials_only(result.leaderboard()).set_index("trial").loc[result.run.trial_ids()[0]]
    assert first["status"] == "completed" and first["epochs"] < 10_000
    assert first["reason"] == "trained 4s, the most one trial may take of the time budget"
    assert 4 <= first["seconds"] < 12  # stopped after the epoch that crossed the cap



def test_a_cross_validated_trial_shares_its_cap_among_its_folds(tmp_path, small_digits):
    from automodel.engine import predictions

    x, y = small_digits
    arch = tiny_architecture("slowfold")
    with registered(plugin_of(arch), "fold-cap-test"):
        result = automodel.search(
            task="image_classification", data=(x[:100], y[:100]), architectures=["slowfold"], tuner="random",
            epochs=10_000, patience=10_000, time_budget=100, max_trials=1, directory=tmp_path, name="fold-capped",
            seed=0, validation="cv",
        )
    trial_id = result.run.trial_ids()[0]
    record = result.run.trial_record(trial_id)
    # every fold trained, none to the end: the trial's score and out-of-fold predictions cover them all (a fold's
    # share, 5 s, leaves room for its first epoch on a loaded machine: at 2 s, CI trained 3 folds in the whole cap)
    assert len(record["folds"]) == 5 and all(1 <= fold["epochs"] < 10_000 for fold in record["folds"])
    assert record["reason"] == ("each of its 5 folds trained at most its share of the 25s "
                                "one trial may take of the time budget")
    assert 25 <= record["seconds"] < 40
    split = result.meta["data"]["split"]
    assert predictions.load(result.run, trial_id).shape == (split["train"] + split["validation"], 10)
    score = result.run.keras_tuner_trial(trial_id)["score"]
    assert score == pytest.approx(_folds_mean_curve(record).max())

# -- cross-validation on small data ----------------------------------------------------------
def test_validation_choice_follows_data_size_and_budget():
    from automodel.engine import validation

    assert validation.choose("auto", 200, None, None) == {"method": "cv", "folds": validation.FOLDS}
    assert validation.choose("auto", 200, 60, None) == {"method": "split"}  # too short for five trainings a trial
    assert validation.choose("auto", 200, 120, None)["method"] == "cv"
    assert validation.choose("auto", 200, 3600, None)["method"] == "cv"
    assert validation.choose("auto", 5000, None, None) == {"method": "split"}
    assert validation.choose("auto", 200, None, "the images stream from a folder") == {"method": "split"}
    assert validation.choose("cv", 5000, 60, None)["method"] == "cv"
    with pytest.raises(automodel.SearchError, match="validation_data was given"):
        validation.choose("cv", 100, None, "validation_data was given")
    with pytest.raises(automodel.SearchError, match="choose one of"):
        validation.choose("kfold", 100, None, None)


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory, small_digits):
    x, y = small_digits
    arch = tiny_architecture("folded")
    arch.portfolio = lambda spec: [{"units": 24}, {"units": 16}, {"units": 32}]
    with registered(plugin_of(arch), "cv-test"):
        yield automodel.search(
            task="image_classification", data=(x[:100], y[:100]), architectures=["folded"], tuner="random",
            max_trials=3, epochs=2, directory=tmp_path_factory.mktemp("cv"), name="cv", seed=0,
        )


def test_small_data_is_cross_validated(cv_run):
    import numpy as np

    result = cv_run
    assert result.meta["validation"] == {"method": "cv", "folds": 5}
    board = trials_only(result.leaderboard())
    assert "folds" in board.columns
    split = result.meta["data"]["split"]
    assert result.meta["protocol"]["samples"] == (split["train"] + split["validation"]) * 4 // 5
    for trial_id in result.run.trial_ids()[:3]:  # the portfolio: nothing to prune against yet
        record = result.run.trial_record(trial_id)
        assert len(record["folds"]) == 5
        mean_curve = _folds_mean_curve(record)
        score = result.run.keras_tuner_trial(trial_id)["score"]
        assert score == pytest.approx(mean_curve.max())  # one epoch for all folds: the best of their mean
        assert score <= np.mean([fold["best"] for fold in record["folds"]])  # not each fold's luckiest epoch
        row = board.set_index("trial").loc[trial_id]
        assert row["folds"] == 5 and row["val_accuracy"] == pytest.approx(mean_curve.max())
    done = result.refit_record()
    record = result.run.trial_record(done["trial"])
    best = int(np.argmax(_folds_mean_curve(record))) + 1
    assert done["search_epochs"] == best and done["samples"] == split["train"] + split["validation"]


def _folds_mean_curve(record: dict):
    """val_accuracy per epoch, the mean over the folds, up to the epoch every fold reached."""
    import numpy as np

    curves = [fold["history"]["val_accuracy"] for fold in record["folds"]]
    return np.mean([curve[:min(map(len, curves))] for curve in curves], axis=0)


def test_cross_validated_trials_are_ensembled_on_out_of_fold_predictions(cv_run):
    import numpy as np

    from automodel.engine import predictions

    result = cv_run
    split = result.meta["data"]["split"]
    targets = predictions.targets(result.run)
    assert len(targets) == split["train"] + split["validation"]  # every sample, held out once
    for trial_id in result.run.trial_ids()[:3]:
        kept = predictions.load(result.run, trial_id)
        assert kept.shape == (len(targets), 10) and np.allclose(kept.sum(axis=1), 1, atol=1e-4)
        assert not list(result.run.trial_dir(trial_id).glob("fold_predictions_*"))
    chosen = result.ensemble_record()
    assert chosen["scored_on"] == f"out-of-fold predictions on {len(targets)} training and validation samples"


def test_folds_are_pruned_against_the_other_trials_after_as_many_folds(tmp_path):
    run = RunDir(tmp_path)
    for trial_id, bests in (("0", [0.9, 0.8, 0.9]), ("1", [0.8, 0.8, 0.8]), ("2", [0.7, 0.9])):
        run.write_trial_record(trial_id, {"status": "completed", "history": {"val_accuracy": [0.5]},
                                          "folds": [{"best": b} for b in bests]})
    pruner = MedianPruner(run, "val_accuracy", "max", warmup_epochs=1)
    assert pruner.check_folds("9", [0.85]) is None  # above the median 0.8 of 0.9, 0.8, 0.7
    assert pruner.check_folds("9", [0.75]) == {"fold": 1, "value": 0.75, "median": 0.8, "trials": 3}
    assert pruner.check_folds("9", [0.9, 0.8]) is None  # mean 0.85 = the median of 0.85, 0.8, 0.8
    assert pruner.check_folds("9", [0.8, 0.8, 0.8]) is None  # only two trials trained three folds
