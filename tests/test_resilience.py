"""Never lose finished work: a killed search resumes mid-trial; too-large models and strategies."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import plugin_of, registered, tiny_architecture, trials_only
from test_distributed import assert_no_processes_left

import automodel
from automodel import SearchError

EPOCHS = 40
SEARCH_SCRIPT = f"""
import sys, numpy as np, automodel
data = np.load(sys.argv[1])
automodel.search(task="image_classification", data=(data["x"], data["y"]), architectures=["dense"],
    tuner="random", max_trials=3, epochs={EPOCHS}, patience=1000, directory=sys.argv[2], name="r", seed=5)
"""


def read(path):
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_search_killed_mid_trial_resumes_that_trial_from_its_last_epoch(tmp_path, installed_plugin, digits_npz):
    """Trial 1 is killed mid-training; trials that had finished by then (trial 0, when trials run one
    after another) are not run again. On a machine that shows two GPUs the trials run side by side in
    worker processes, which end with the search that started them."""
    run = tmp_path / "r"
    search = subprocess.Popen([sys.executable, "-c", SEARCH_SCRIPT, str(digits_npz), str(tmp_path)])
    give_up = time.monotonic() + 300
    while read(run / "trial_1" / "automodel_trial.json").get("epochs", 0) < 3:
        assert search.poll() is None and time.monotonic() < give_up, "the search ended before it could be killed"
        time.sleep(0.05)
    children = psutil.Process(search.pid).children(recursive=True)
    search.send_signal(signal.SIGKILL)
    search.wait()
    psutil.wait_procs(children, timeout=60)  # worker processes notice their search has gone
    assert_no_processes_left()

    ended = [t for t in ("trial_0", "trial_1", "trial_2") if read(run / t / "trial.json").get("status") == "COMPLETED"]
    finished = {(t, name): (run / t / name).read_bytes() for t in ended for name in ("trial.json", "automodel_trial.json")}
    interrupted = read(run / "trial_1" / "automodel_trial.json")
    assert "trial_1" not in ended and interrupted["status"] == "running"
    if not os.environ.get("AUTOMODEL_GPUS"):  # one trial after another
        assert ended == ["trial_0"]
    assert 3 <= interrupted["epochs"] < EPOCHS

    subprocess.run([sys.executable, "-c", SEARCH_SCRIPT, str(digits_npz), str(tmp_path)], check=True, timeout=600)

    for (trial, name), content in finished.items():  # a finished trial was not run again
        assert (run / trial / name).read_bytes() == content
    resumed = read(run / "trial_1" / "automodel_trial.json")
    first = resumed["sessions"][1]["first_epoch"]
    # from the backup, not from epoch 0; the record is written just before the backup, so it may be one ahead
    assert len(resumed["sessions"]) == 2 and max(2, interrupted["epochs"] - 1) <= first <= interrupted["epochs"]
    history = resumed["history"]
    assert resumed["epochs"] == len(history["loss"]) == EPOCHS  # continued, not restarted
    assert history["loss"][:first] == interrupted["history"]["loss"][:first]
    loss = history["loss"]
    assert abs(loss[first] - loss[first - 1]) < abs(loss[first] - loss[0])  # trained weights, not fresh ones
    assert not (run / "trial_1" / "backup").exists()  # the backup goes once the trial is done

    result = automodel.open_run(run)
    board = trials_only(result.leaderboard()).set_index("trial")
    assert list(board["status"]) == ["completed"] * 3 and result.run.meta()["status"] == "finished"
    # ranked on all of its epochs, before and after the interruption
    assert board.loc["1", "val_accuracy"] == pytest.approx(max(history["val_accuracy"]))
    assert read(run / "trial_1" / "trial.json")["score"] == pytest.approx(max(history["val_accuracy"]))


def test_a_model_over_max_params_fails_its_trial_with_the_reason(tmp_path, small_digits):
    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="grid", max_trials=4,
            epochs=1, max_params=1000, max_consecutive_failures=4, directory=tmp_path, name="big",
        )
    board = trials_only(result.leaderboard())
    completed, failed = board[board["status"] == "completed"], board[board["status"] == "failed"]
    assert list(completed["tiny/units"]) == [8] and sorted(failed["tiny/units"]) == [16, 24, 32]
    assert (completed["params"] <= 1000).all() and (failed["params"] > 1000).all()
    for _, row in failed.iterrows():
        assert row["reason"] == (
            f"FailedTrialError: model too large: {row['params']:,} parameters, over max_params=1,000. "
            "Narrow the architecture's search space or raise max_params."
        )


def test_too_large_models_in_a_row_stop_the_search(tmp_path, small_digits):
    with registered(plugin_of(tiny_architecture()), "tiny"):
        with pytest.raises(SearchError, match="2 trials in a row failed.*over max_params=10"):
            automodel.search(
                task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
                max_trials=5, epochs=1, max_params=10, max_consecutive_failures=2, directory=tmp_path, name="b",
            )


def test_mirrored_strategy_trains_on_a_machine_without_gpus(tmp_path, small_digits):
    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(
            task="image_classification", data=small_digits, architectures=["tiny"], tuner="random", max_trials=1,
            epochs=2, strategy="mirrored", directory=tmp_path, name="m",
        )
        record = result.run.trial_record(result.best_trial_id)
        assert record["status"] == "completed" and record["epochs"] == 2 and record["replicas"] == 1
        assert 0.0 <= result.evaluate()["accuracy"] <= 1.0


# -- every file automodel writes: whole, or not at all ----------------------------------


def test_a_write_that_fails_midway_leaves_neither_a_partial_target_nor_a_temporary_file(tmp_path):
    import numpy as np

    from automodel.runs.atomic import atomic_write
    from automodel.runs.rundir import save_array, write_json

    target = tmp_path / "run.json"
    write_json(target, {"status": "running"})
    with pytest.raises(TypeError, match="not JSON serialisable"):  # json.dump has written the first key by then
        write_json(target, {"status": "finished", "oops": object()})
    assert read(target) == {"status": "running"} and os.listdir(tmp_path) == ["run.json"]

    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "best.weights.h5") as temporary:
            assert temporary.parent == tmp_path and temporary.name.startswith(".")
            assert temporary.name.endswith(".weights.h5")  # Keras' save_weights insists on the suffix
            temporary.write_bytes(b"half the weights")
            raise KeyboardInterrupt
    with pytest.raises(OSError, match="No space left"):
        with atomic_write(tmp_path / "export", folder=True) as staging:
            (staging / "model.keras").write_bytes(b"half a model")
            raise OSError(28, "No space left on device")

    def refused(source, destination):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(PermissionError):  # the rename itself fails
        with atomic_write(tmp_path / "grid.png", move=refused) as temporary:
            temporary.write_bytes(b"a whole picture")
    assert os.listdir(tmp_path) == ["run.json"]

    save_array(tmp_path / "targets.npy", np.arange(3))
    (tmp_path / "like-any-file").write_text("")  # mkstemp's 0600 would make the run private to its writer
    assert (tmp_path / "targets.npy").stat().st_mode == (tmp_path / "like-any-file").stat().st_mode
    assert np.load(tmp_path / "targets.npy").tolist() == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["like-any-file", "run.json", "targets.npy"]


def test_a_backup_cut_off_mid_write_leaves_the_last_whole_one_and_outlives_fit(tmp_path, monkeypatch):
    import keras
    import numpy as np

    from automodel.engine import resume

    def model():
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        net.compile("adam", "mse")
        return net

    x, y = np.ones((8, 3)), np.zeros((8, 2))
    backup = resume.backup_callback(tmp_path)
    model().fit(x, y, epochs=2, verbose=0, callbacks=[backup])
    folder = Path(backup.backup_dir)
    whole = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert json.loads(Path(backup._training_metadata_path).read_text())["epoch"] == 2  # kept after fit

    def killed_mid_write(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"\x89HDF\r\n half the weights")
        raise KeyboardInterrupt  # the process dies here
    with monkeypatch.context() as patched:
        patched.setattr(keras.Model, "save_weights", killed_mid_write)
        with pytest.raises(KeyboardInterrupt):
            model().fit(x, y, epochs=4, verbose=0, callbacks=[resume.backup_callback(tmp_path)])
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == whole  # the last whole backup

    left = folder / f".{Path(backup._weights_path).name}.tmp-0a1b2c.weights.h5"
    left.write_bytes(b"what a SIGKILL mid-write leaves")
    history = model().fit(x, y, epochs=3, verbose=0, callbacks=[resume.backup_callback(tmp_path)])
    assert len(history.history["loss"]) == 1  # went on from epoch 2
    assert not left.exists() and sorted(path.name for path in folder.iterdir()) == sorted(whole)

    phases, net = resume.backup_callback(tmp_path / "phases"), model()  # a plugin's fit in two phases
    net.fit(x, y, epochs=2, verbose=0, callbacks=[phases])
    net.compile("sgd", "mse")  # the second phase's own optimizer
    second = net.fit(x, y, epochs=3, initial_epoch=1, verbose=0, callbacks=[phases])
    assert len(second.history["loss"]) == 2  # from the model in memory, not the first phase's backup
    resume.discard_backup(tmp_path)
    assert not folder.exists()


def test_a_trial_that_ended_but_whose_end_the_oracle_never_heard_is_not_trained_again(tmp_path, small_digits):
    """As when the chief is killed between a worker recording a trial and telling the chief."""
    options = dict(task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
                   max_trials=1, epochs=2, directory=tmp_path, name="e", seed=1)
    with registered(plugin_of(tiny_architecture()), "tiny"):
        automodel.search(**options)
        run = tmp_path / "e"
        before = read(run / "trial_0" / "automodel_trial.json")
        trial, oracle = read(run / "trial_0" / "trial.json"), read(run / "oracle.json")
        trial["status"], trial["score"] = "RUNNING", None
        oracle["ongoing_trials"] = {"tuner0": "0"}
        (run / "trial_0" / "trial.json").write_text(json.dumps(trial))
        (run / "oracle.json").write_text(json.dumps(oracle))
        result = automodel.search(**options)
    after = read(run / "trial_0" / "automodel_trial.json")
    assert [s.get("replayed") for s in after["sessions"]] == [None, True]
    assert after["history"] == before["history"] and after["sessions"][1].get("epochs") is None  # not trained
    assert read(run / "trial_0" / "trial.json")["status"] == "COMPLETED"
    assert result.leaderboard().loc[0, "val_accuracy"] == pytest.approx(max(before["history"]["val_accuracy"]))


# -- faults at random points: nothing lost, nothing trained twice, the status true -------------


FAULT_SCRIPT = """
import sys, numpy as np, automodel
data = np.load(sys.argv[1])
automodel.search(task="image_classification", data=(data["x"], data["y"]), architectures=["dense"], workers=2,
    tuner="random", max_trials=3, epochs=4, patience=4, batch_size=64, directory=sys.argv[2], name="f", seed=2)
"""


def trained_epochs(run) -> int:
    return sum(read(path).get("epochs", 0) for path in run.glob("trial_*/automodel_trial.json"))


def command_line(process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # it has ended meanwhile (a zombie, or gone)
        return ""


def kill_one(search, role: str, rng) -> None:
    """SIGKILL one of the search's chief or worker processes, whatever it is doing (if the search still runs)."""
    marker = "automodel.distributed.chief" if role == "chief" else " worker "
    give_up = time.monotonic() + 120
    while search.poll() is None:
        found = [p for p in psutil.Process(search.pid).children(recursive=True) if marker in command_line(p)]
        if found:
            rng.choice(found).kill()
            return
        assert time.monotonic() < give_up, f"no {role} process to kill"
        time.sleep(0.1)


def test_killing_workers_and_the_chief_at_random_points_loses_no_trial_and_trains_none_twice(
    tmp_path, installed_plugin, digits_npz
):
    rng = random.Random(3)
    run = tmp_path / "f"
    command = [sys.executable, "-c", FAULT_SCRIPT, str(digits_npz), str(tmp_path)]
    for _ in range(2):  # twice: a worker killed (it is replaced), then the chief (the search fails)
        search = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        for victim in ("worker", "chief"):
            target, give_up = trained_epochs(run) + rng.randint(1, 3), time.monotonic() + 300
            while trained_epochs(run) < target and search.poll() is None:
                assert time.monotonic() < give_up
                time.sleep(0.05)
            if search.poll() is None:
                kill_one(search, victim, rng)
        _, err = search.communicate(timeout=300)
        meta = read(run / "run.json")
        if search.returncode == 0:
            break  # the search outran the kills
        assert meta["status"] == "failed" and "chief process failed" in err, err  # it says what happened
        assert automodel.open_run(run).status == "failed"
    subprocess.run(command, check=True, timeout=600)  # resumed to the end

    result = automodel.open_run(run)
    assert result.status == "finished"
    board = trials_only(result.leaderboard())
    assert len(board) == 3 and board["status"].isin(["completed", "pruned"]).all()
    assert board["dense/units"].nunique() == 3  # three distinct trials, none run twice over
    for trial_id in board["trial"]:
        record = result.run.trial_record(trial_id)
        sessions = record["sessions"]
        assert len(record["history"]["loss"]) == record["epochs"]  # one unbroken history
        # each process went on from the last epoch's backup: at most one epoch trained again per interruption
        assert sum(s.get("epochs", 0) for s in sessions) - record["epochs"] <= len(sessions) - 1, sessions
    assert_no_processes_left()
