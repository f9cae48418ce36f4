"""Real searches on digits: training, leaderboard, results, resume and failures."""

import json
import time

import numpy as np
import pytest
from conftest import plugin_of, registered, tiny_architecture, trials_only

import automodel
from automodel import DataError, SearchError


def test_search_trains_and_ranks_trials(digits_run):
    board = trials_only(digits_run.leaderboard())
    assert list(board["trial"]) and len(board) == 2
    assert set(board["status"]) == {"completed"}
    assert (board["architecture"] == "cnn").all()
    scores = board["val_accuracy"].tolist()
    assert scores == sorted(scores, reverse=True)  # best first
    assert scores[0] > 0.5  # 4 epochs on digits clearly beat chance (0.1)
    for column in ("val_loss", "params", "epochs", "seconds", "cnn/conv_blocks", "cnn/learning_rate", "reason"):
        assert column in board.columns
    assert (board["params"] > 0).all() and (board["seconds"] > 0).all()


def test_best_model_evaluates_on_the_held_out_test_split(digits_run):
    scores = digits_run.evaluate()
    assert set(scores) == {"accuracy", "loss"}
    assert 0.5 < scores["accuracy"] <= 1.0
    meta = digits_run.run.meta()
    assert meta["data"]["split"] == {"train": 1257, "validation": 270, "test": 270}
    # the best model's validation accuracy is the leaderboard's top score
    assert digits_run.best_trial_id == str(trials_only(digits_run.leaderboard()).iloc[0]["trial"])


def test_predict_returns_class_labels(digits_run, digits):
    x, y = digits
    predicted = digits_run.predict(x[:50])
    assert predicted.shape == (50,)
    assert set(predicted.tolist()) <= set(range(10))
    assert (predicted == y[:50]).mean() > 0.5
    probabilities = digits_run.predict_proba(x[:5])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_evaluate_on_given_data_and_best_hyperparameters(digits_run, digits):
    x, y = digits
    assert 0.0 <= digits_run.evaluate((x[:100], y[:100]))["accuracy"] <= 1.0
    hps = digits_run.best_hyperparameters()
    assert hps["architecture"] == "cnn" and "cnn/conv_blocks" in hps
    with pytest.raises(DataError, match="not a class"):
        digits_run.evaluate((x[:3], np.array([1, 2, 99])))
    with pytest.raises(DataError, match="shape"):
        digits_run.predict(np.zeros((2, 9, 9)))


def test_open_run_reads_the_same_results(digits_run):
    reopened = automodel.open_run(digits_run.path)
    assert reopened.best_trial_id == digits_run.best_trial_id
    assert reopened.evaluate() == pytest.approx(digits_run.evaluate())


def test_trial_records_hold_per_epoch_curves(digits_run):
    record = digits_run.run.trial_record(digits_run.best_trial_id)
    assert record["status"] == "completed" and record["architecture"] == "cnn"
    assert len(record["history"]["val_accuracy"]) == record["epochs"] >= 1


def test_resume_keeps_finished_trials_and_runs_only_new_ones(tmp_path, small_digits):
    options = dict(task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", epochs=2, directory=tmp_path, name="r", seed=3)
    with registered(plugin_of(tiny_architecture()), "tiny"):
        first = automodel.search(max_trials=2, **options)
        before = {t: first.run.keras_tuner_trial(t) for t in first.run.trial_ids()}
        resumed = automodel.search(max_trials=3, **options)
        assert resumed.run.trial_ids() == ["0", "1", "2"]
        for trial_id, state in before.items():
            assert resumed.run.keras_tuner_trial(trial_id) == state  # untouched
        # a finished run resumes to nothing new
        again = automodel.search(max_trials=3, **options)
        assert again.run.trial_ids() == ["0", "1", "2"]
        assert "resumed" not in again.run.meta()  # nothing was changed
        # changed training settings apply to the trials still to run, and run.json says so
        assert first.meta["batch_size"] != 8
        with pytest.warns(UserWarning, match=r"changed training settings \(batch_size: \d+ -> 8;"):
            changed = automodel.search(max_trials=4, batch_size=8, **options)
        meta = changed.run.meta()
        assert meta["batch_size"] == 8 and meta["resumed"][-1]["changed"]["batch_size"] == [first.meta["batch_size"], 8]
        assert changed.run.trial_ids() == ["0", "1", "2", "3"]


def test_resume_with_other_data_or_settings_is_refused(tmp_path, small_digits):
    x, y = small_digits
    options = dict(task="image_classification", architectures=["tiny"], tuner="random", max_trials=1, epochs=1, directory=tmp_path, name="r")
    with registered(plugin_of(tiny_architecture()), "tiny"):
        automodel.search(data=(x, y), **options)
        with pytest.raises(DataError, match="differs from the run being resumed"):
            automodel.search(data=(x[:300], y[:300]), **options)
        with pytest.raises(SearchError, match="tuner"):
            automodel.search(data=(x, y), **{**options, "tuner": "bayesian"})
        # overwrite=True starts over
        fresh = automodel.search(data=(x[:300], y[:300]), overwrite=True, **options)
        assert fresh.run.meta()["data"]["split"]["train"] < 300


def test_a_failing_plugin_is_recorded_and_the_search_goes_on(tmp_path, small_digits):
    calls = []

    def fit_fails_every_other_time(arch, hp, model, spec, *args, **kwargs):
        calls.append(1)
        if len(calls) % 2 == 1:
            raise RuntimeError("plugin exploded")
        return model.fit(*args, **kwargs)

    with registered(plugin_of(tiny_architecture(fit=fit_fails_every_other_time)), "tiny"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
            max_trials=4, epochs=1, directory=tmp_path, name="f",
        )
    board = trials_only(result.leaderboard())
    assert sorted(board["status"]) == ["completed", "completed", "failed", "failed"]
    failed = board[board["status"] == "failed"]
    assert failed["reason"].str.contains("RuntimeError: plugin exploded").all()
    assert board.iloc[0]["status"] == "completed"  # failures rank last
    assert result.run.meta()["status"] == "finished"


def test_nan_loss_fails_the_trial_with_its_reason(tmp_path, small_digits):
    def nan_model(arch, hp, spec):
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(4, kernel_initializer=keras.initializers.Constant(float("nan")))(x)
        return keras.Model(inputs, spec.head(x))

    with registered(plugin_of(tiny_architecture("nan", build=nan_model), tiny_architecture()), "p"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["nan", "tiny"], tuner="grid",
            max_trials=2, epochs=2, directory=tmp_path, name="n",
        )
    rows = trials_only(result.leaderboard()).set_index("architecture")
    assert rows.loc["nan", "status"] == "failed"
    assert "NaN" in rows.loc["nan", "reason"]
    assert rows.loc["tiny", "status"] == "completed"


def test_consecutive_failures_stop_the_search_with_a_clear_error(tmp_path, small_digits):
    def always_fails(arch, hp, model, spec, *args, **kwargs):
        raise ValueError("bad plugin")

    with registered(plugin_of(tiny_architecture(fit=always_fails)), "tiny"):
        with pytest.raises(SearchError, match="2 trials in a row failed.*bad plugin"):
            automodel.search(
                task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
                max_trials=5, epochs=1, directory=tmp_path, name="c", max_consecutive_failures=2,
            )
    board = trials_only(automodel.open_run(tmp_path / "c").leaderboard())
    assert len(board) == 2 and (board["status"] == "failed").all()


def test_several_architectures_share_one_search_and_one_leaderboard(tmp_path, small_digits):
    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["cnn", "tiny"], tuner="random",
            max_trials=5, epochs=1, directory=tmp_path, name="mixed", seed=0,
        )
    board = trials_only(result.leaderboard())
    assert set(board["architecture"]) == {"cnn", "tiny"}
    tiny_rows = board[board["architecture"] == "tiny"]
    # conditional scopes: each row holds only its own architecture's hyperparameters
    assert tiny_rows["cnn/conv_blocks"].isna().all() and tiny_rows["tiny/units"].notna().all()


def test_time_budget_stops_the_search_and_keeps_finished_trials(tmp_path, small_digits):
    with registered(plugin_of(tiny_architecture()), "tiny"):
        started = time.monotonic()
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
            max_trials=200, epochs=1000, patience=1000, time_budget="4s", directory=tmp_path, name="t",
        )
        elapsed = time.monotonic() - started
    assert result.run.meta()["status"].startswith("stopped: time budget")
    board = trials_only(result.leaderboard())
    assert 1 <= len(board) < 200 and (board["status"] == "completed").all()
    assert elapsed < 60  # 1000 epochs would take minutes; the budget ended it


def test_stop_event_ends_the_search_after_the_current_epoch(tmp_path, small_digits):
    import threading

    stop = threading.Event()

    def reporter(event, **info):
        if event == "epoch_end" and info["epoch"] == 2:
            stop.set()

    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
            max_trials=5, epochs=50, patience=50, directory=tmp_path, name="s", reporter=reporter, stop_event=stop,
        )
    board = trials_only(result.leaderboard())
    assert len(board) == 1 and board.iloc[0]["epochs"] == 2
    assert board.iloc[0]["reason"] == "stopped by user"
    assert result.run.meta()["status"] == "stopped: stopped by user"


def test_a_stop_asked_through_the_run_directory_ends_the_search_and_is_forgotten_by_the_next(tmp_path, small_digits):
    def reporter(event, **info):  # as another process would: only the run directory is shared
        if event == "epoch_end" and info["epoch"] == 2:
            automodel.open_run(tmp_path / "s").request_stop()

    options = dict(
        task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
        epochs=50, patience=50, directory=tmp_path, name="s",
    )
    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(max_trials=5, reporter=reporter, **options)
        board = trials_only(result.leaderboard())
        assert len(board) == 1 and board.iloc[0]["epochs"] == 2
        assert result.run.meta()["status"] == "stopped: stopped by user"
        with pytest.raises(SearchError, match="is not running .*'stopped: stopped by user'.*nothing to stop"):
            result.request_stop()

        (tmp_path / "s" / "stop.json").write_text('{"reason": "left over"}')  # asked of the earlier search
        resumed = automodel.search(max_trials=2, epochs=2, **{k: v for k, v in options.items() if k != "epochs"})
    assert resumed.run.meta()["status"] == "finished" and len(trials_only(resumed.leaderboard())) == 2


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tuner": "genetic"}, "Unknown tuner 'genetic'"),
        ({"max_trials": 0}, "max_trials=0"),
        ({"epochs": 1.5}, "epochs=1.5"),
        ({"time_budget": "soon"}, "not a duration"),
        ({"architectures": ["transformer"]}, "Unknown architecture 'transformer'"),
        ({"architectures": []}, "architectures is empty"),
        ({"data": "mnist"}, "Unknown data set 'mnist'"),
        ({"data": "digits", "task": "text_classification"}, "is for 'image_classification' or 'image_generation', not 'text_classification'"),
    ],
)
def test_bad_settings_fail_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(automodel.AutomodelError, match=message):
        automodel.search(directory=tmp_path, name="bad", **{"data": "digits", **options})
    assert not (tmp_path / "bad").exists()


def test_architecture_for_another_task_is_refused(tmp_path, clean_registry):
    arch = tiny_architecture("seq")
    with registered(plugin_of(arch), "seq"):
        arch.tasks = ()  # not for images
        with pytest.raises(automodel.AutomodelError):
            automodel.search(data="digits", architectures=["seq"], directory=tmp_path)


def test_existing_folder_that_is_not_a_run_is_never_written_to(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(SearchError, match="not an automodel run directory"):
        automodel.search(data="digits", architectures=["cnn"], directory=tmp_path, name="mine", overwrite=True, max_trials=1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_run_json_records_the_search(digits_run):
    meta = json.loads((digits_run.path / "run.json").read_text())
    assert meta["task"] == "image_classification" and meta["tuner"] == "random"
    assert meta["classes"] == list(range(10)) and meta["spec"]["input_shape"] == [8, 8, 1]
    assert meta["versions"]["keras-tuner"] and len(meta["data"]["fingerprint"]) == 16
    assert sum(meta["data"]["class_balance"].values()) == meta["data"]["split"]["train"]
