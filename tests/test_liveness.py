"""Honest run status: heartbeats, ``interrupted`` runs, Ctrl-C, one search per run directory."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from conftest import trials_only
from test_distributed import assert_no_processes_left

import automodel
from automodel import SearchError
from automodel.runs import liveness
from automodel.runs.rundir import RunDir, write_json


def fake_run(tmp_path, heartbeat: dict | None) -> RunDir:
    """A run directory that says ``running``, with the given search heartbeat."""
    run = RunDir(tmp_path / "r")
    run.write_meta({"status": "running", "task": "image_classification",
                    "objective": {"name": "val_accuracy", "direction": "max"}})
    if heartbeat is not None:
        (run.path / liveness.HEARTBEATS).mkdir()
        write_json(run.path / liveness.HEARTBEATS / "search.json", heartbeat)
    return run


def beat(age: float = 0.0, **changes) -> dict:
    """A heartbeat of this process ``age`` seconds ago, with ``changes``."""
    me = psutil.Process()
    return {"host": socket.gethostname(), "pid": me.pid, "process_started": me.create_time(),
            "time": time.time() - age, "ended": False, **changes}


@pytest.mark.parametrize("changes, status", [
    ({}, "running"),  # this process, still here
    ({"pid": 2**22 + 7}, "interrupted"),  # its process is gone
    ({"process_started": 1.0}, "interrupted"),  # the pid was reused by another process
    ({"ended": True}, "interrupted"),  # it ended without writing how
    ({"host": "elsewhere", "age": 5}, "running"),  # another machine, beating
    ({"host": "elsewhere", "age": 600}, "interrupted"),  # another machine, silent
    (None, "interrupted"),  # no heartbeat at all: made by a search that is long gone
])
def test_a_running_run_whose_search_is_gone_is_interrupted(tmp_path, changes, status):
    assert liveness.status(fake_run(tmp_path, None if changes is None else beat(**changes))) == status


def test_the_heartbeat_beats_while_the_block_runs_and_says_when_it_ended(tmp_path):
    run = fake_run(tmp_path, None)
    with liveness.beating(run):
        first = json.loads((run.path / "heartbeats" / "search.json").read_text())
        time.sleep(liveness.BEAT_SECONDS * 1.5)
        assert json.loads((run.path / "heartbeats" / "search.json").read_text())["time"] > first["time"]
        assert liveness.status(run) == "running"
    assert liveness.status(run) == "interrupted"  # run.json still says running: nobody will finish it


def test_the_panel_and_the_cli_show_an_interrupted_run_and_stop_watching_it(tmp_path, capsys):
    from automodel.cli import main
    from automodel.widgets.board import Leaderboard

    run = fake_run(tmp_path, beat(pid=2**22 + 7))
    board = Leaderboard(run_dir=run.path)
    board.refresh()
    assert board.status == "interrupted" and "interrupted" in board.heading.value
    assert main(["stop", str(run.path)]) != 0
    assert "not running (its status is 'interrupted')" in capsys.readouterr().err
    listed = subprocess.run([sys.executable, "-m", "automodel.cli", "leaderboard", str(run.path), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert json.loads(listed.stdout)["status"] == "interrupted", listed.stderr


SEARCH_SCRIPT = """
import sys, numpy as np, automodel
data = np.load(sys.argv[1])
automodel.search(task="image_classification", data=(data["x"], data["y"]), architectures=["dense"], workers=2,
    tuner="random", max_trials=20, epochs=400, patience=400, batch_size=64, directory=sys.argv[2], name="c")
"""


def start_search(digits_npz, directory):
    """A search with two workers in its own process group, as a terminal runs it."""
    return subprocess.Popen([sys.executable, "-c", SEARCH_SCRIPT, str(digits_npz), str(directory)],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_epochs(run_dir, search, epochs=2):
    give_up = time.monotonic() + 300
    while True:
        records = [json.loads(p.read_text()) for p in run_dir.glob("trial_*/automodel_trial.json")]
        if records and max(r.get("epochs", 0) for r in records) >= epochs:
            return
        assert search.poll() is None and time.monotonic() < give_up, search.stderr.read()
        time.sleep(0.1)


def test_ctrl_c_stops_a_search_with_workers_after_the_epoch_and_a_second_ends_it_now(
    tmp_path, installed_plugin, digits_npz
):
    run_dir = tmp_path / "c"
    search = start_search(digits_npz, tmp_path)
    wait_for_epochs(run_dir, search)
    # one search per run directory: a second one is refused while the first lives
    with pytest.raises(SearchError, match=f"is being searched now by process {search.pid} on"):
        automodel.search(data=str(digits_npz), task="image_classification", architectures=["dense"],
                         directory=tmp_path, name="c", max_trials=1)
    os.killpg(search.pid, signal.SIGINT)  # Ctrl-C reaches the search, its chief and its workers
    _, err = search.communicate(timeout=300)
    assert search.returncode == 0, err
    assert "stopping after the current epoch" in err
    result = automodel.open_run(run_dir)
    assert result.status == "stopped: interrupted"
    board = trials_only(result.leaderboard())
    assert (board["status"] == "completed").all() and (board["reason"] == "interrupted").all()
    assert (board["epochs"] < 400).all()
    assert_no_processes_left()

    resumed = start_search(digits_npz, tmp_path)  # it resumes, and two presses end it at once
    wait_for_epochs(run_dir, resumed, epochs=max(board["epochs"]) + 2)
    os.killpg(resumed.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(resumed.pid, signal.SIGINT)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode != 0 and "KeyboardInterrupt" in err
    assert automodel.open_run(run_dir).status == "stopped: interrupted"
    assert_no_processes_left()
