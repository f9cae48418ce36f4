"""Searches with worker processes: real chief and workers over gRPC on 127.0.0.1.

The worker processes load the ``dense`` architecture from an installed test
distribution (``installed_plugin``), exactly as they load any plugin.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
from conftest import trials_only

import automodel
from automodel import SearchError
from automodel.distributed.plan import parse_size, plan

SEARCH = dict(task="image_classification", tuner="random", batch_size=64)


def automodel_children() -> list[psutil.Process]:
    """Live processes this test started that run automodel (a chief or a worker)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "automodel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def assert_no_processes_left():
    gone_by = time.monotonic() + 10
    while automodel_children() and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert automodel_children() == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def workers_of(result) -> dict:
    """trial id -> ids of the workers that ran it."""
    return {t: [s["worker"] for s in result.run.trial_record(t)["sessions"]] for t in result.run.trial_ids()}


# -- planning (no processes) ---------------------------------------------------


def test_auto_runs_in_this_process_without_gpus_or_with_one():
    assert not plan("auto", gpus=[]).distributed
    assert not plan("auto", gpus=["0"]).distributed
    assert not plan("auto", strategy="mirrored", gpus=["0", "1"]).distributed  # one trial over both


def test_workers_none_trains_in_this_process_whatever_gpus_are_visible():
    assert not plan(None, gpus=["0", "1"]).distributed and plan(None, gpus=["0", "1"]).workers == []
    with pytest.raises(SearchError, match="workers=None trains in this process, without a chief; drop bind="):
        plan(None, bind="127.0.0.1:0", gpus=[])
    from automodel.cli.options import workers_value

    assert workers_value("none") is None and workers_value("auto") == "auto" and workers_value("3") == 3


def test_auto_pins_one_worker_per_gpu():
    chosen = plan("auto", gpus=["2", "5"])
    assert chosen.bind == "127.0.0.1:0"
    assert chosen.workers == [{"CUDA_VISIBLE_DEVICES": "2"}, {"CUDA_VISIBLE_DEVICES": "5"}]


def test_trials_per_gpu_share_a_gpu_with_memory_growth():
    chosen = plan("auto", trials_per_gpu=2, gpus=["0", "1"])
    assert [env["CUDA_VISIBLE_DEVICES"] for env in chosen.workers] == ["0", "0", "1", "1"]
    assert all(env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for env in chosen.workers)


def test_mirrored_workers_split_the_gpus_and_cpu_workers_split_the_threads():
    mirrored = plan(2, strategy="mirrored", gpus=["0", "1", "2", "3"])
    assert [env["CUDA_VISIBLE_DEVICES"] for env in mirrored.workers] == ["0,1", "2,3"]
    cpu = plan(2, gpus=[])
    assert len(cpu.workers) == 2 and all("CUDA_VISIBLE_DEVICES" not in env for env in cpu.workers)
    assert int(cpu.workers[0]["TF_NUM_INTRAOP_THREADS"]) == max(1, os.cpu_count() // 2)


def test_sizes_and_memory_limits():
    assert parse_size("512MB") == 512 * 2**20 and parse_size("1.5GiB") == int(1.5 * 2**30) and parse_size(4096) == 4096
    assert plan(2, gpus=[], max_worker_memory="2GB").max_worker_memory == 2 * 2**30
    assert 0 < plan(2, gpus=[]).max_worker_memory < psutil.virtual_memory().total  # a share of the host's memory


def test_binding_beyond_this_machine_warns_that_grpc_is_not_encrypted(recwarn):
    plan(1, bind="127.0.0.1:0", gpus=[])
    assert not [w for w in recwarn if "not encrypted" in str(w.message)]
    with pytest.warns(UserWarning, match="authenticated by the session's token but not encrypted"):
        plan(1, bind="0.0.0.0:0", gpus=[])


def test_the_session_token_is_private_and_a_chosen_one_must_be_long(tmp_path, monkeypatch):
    from automodel.distributed import auth
    from automodel.runs.rundir import RunDir

    run = RunDir(tmp_path)
    token = auth.issue(run)
    assert len(token) >= 32 and auth.stored_token(run) == token and auth.issue(run) != token  # one per session
    assert (tmp_path / "chief_token").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("AUTOMODEL_TOKEN", "cluster-script-secret")
    assert auth.issue(run) == auth.worker_token(run, None) == "cluster-script-secret"
    monkeypatch.setenv("AUTOMODEL_TOKEN", "short")
    with pytest.raises(SearchError, match="AUTOMODEL_TOKEN must be at least 16"):
        plan(2, gpus=[])  # before a search writes anything


@pytest.mark.parametrize(
    "options, message",
    [
        ({"workers": -1}, "workers=-1"),
        ({"workers": "many"}, "workers='many'"),
        ({"workers": 1.5}, "workers=1.5"),
        ({"workers": 0}, "workers=0 trains nothing here"),
        ({"workers": None, "bind": "127.0.0.1:0"}, "workers=None trains in this process"),
        ({"trials_per_gpu": 0}, "trials_per_gpu=0"),
        ({"strategy": "ring"}, "strategy='ring' is unknown"),
        ({"workers": 1, "bind": "nowhere"}, "'nowhere' is not an address"),
        ({"workers": 2, "max_worker_memory": "lots"}, "max_worker_memory='lots' is not a size"),
        ({"max_params": 0}, "max_params=0"),
        ({"max_consecutive_failures": 0}, "max_consecutive_failures=0"),
    ],
)
def test_bad_scale_settings_fail_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(SearchError, match=message):
        automodel.search(data="digits", directory=tmp_path, name="bad", **options)
    assert not (tmp_path / "bad").exists()


def test_an_address_this_machine_cannot_listen_on_is_refused_before_anything_is_written(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        for address, message in ((busy, "Address already in use"), ("192.0.2.1:8765", "Cannot assign")):
            with pytest.raises(SearchError, match=f"cannot listen on {address} .*{message}"):
                automodel.search(data="digits", workers=1, bind=address, directory=tmp_path, name="b")
    assert not (tmp_path / "b").exists()


def test_architectures_workers_cannot_make_are_refused_or_trained_here(tmp_path, small_digits, monkeypatch):
    from conftest import plugin_of, registered, tiny_architecture

    with registered(plugin_of(tiny_architecture("local")), "local"):  # its class is defined inside a function
        with pytest.raises(SearchError, match="Worker processes cannot make these architectures: 'local': its class"
                                              ", 'tiny_architecture.<locals>.Tiny', is defined inside a function"):
            automodel.search(data=small_digits, architectures=["local"], workers=2, directory=tmp_path, name="l", **SEARCH)
        assert not (tmp_path / "l").exists()
        # workers="auto" on a server with two GPUs: the notebook that works on a laptop works here too
        monkeypatch.setenv("AUTOMODEL_GPUS", "0,1")
        assert plan("auto").distributed
        with pytest.warns(UserWarning, match="trains in this process, not in 2 worker processes"):
            result = automodel.search(data=small_digits, architectures=["local"], max_trials=1, epochs=1,
                                      directory=tmp_path, name="l", **SEARCH)
    assert trials_only(result.leaderboard())["status"].tolist() == ["completed"]
    assert not (result.path / "logs").exists()  # no chief, no workers


# -- real chief and workers ----------------------------------------------------

AUTOMODEL_CLI = [sys.executable, "-m", "automodel.cli"]


def start_cli_chief(address, data, directory, name, max_trials, epochs, stdout):
    """``automodel chief`` serving a search of the ``dense`` architecture, as a cluster script starts it."""
    return subprocess.Popen(
        [*AUTOMODEL_CLI, "chief", "--bind", address, "--task", "image_classification", "--data", str(data),
         "--architectures", "dense", "--tuner", "random", "--max-trials", str(max_trials), "--epochs", str(epochs),
         "--dir", str(directory), "--name", name],
        stdout=stdout, stderr=subprocess.PIPE, text=True,
    )


def test_chief_and_two_workers_finish_exactly_max_trials_on_one_leaderboard(tmp_path, installed_plugin, digits_npz):
    address = f"127.0.0.1:{free_port()}"
    chief = start_cli_chief(address, digits_npz, tmp_path, "cluster", max_trials=6, epochs=4, stdout=subprocess.PIPE)
    run_dir = tmp_path / "cluster"
    workers = [
        subprocess.Popen([*AUTOMODEL_CLI, "worker", "--chief", address, "--dir", str(run_dir), "--id", name],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for name in ("w1", "w2")
    ]
    out, err = chief.communicate(timeout=600)
    worker_errors = [worker.communicate(timeout=60)[1] for worker in workers]
    assert chief.returncode == 0, err
    assert [worker.returncode for worker in workers] == [0, 0], worker_errors
    token = (run_dir / "chief_token").read_text().strip()  # the workers took it from there
    assert f"automodel worker --chief {address} --dir {run_dir} --token {token}" in out  # the chief says how to join

    result = automodel.open_run(run_dir)
    board = trials_only(result.leaderboard())
    assert sorted(board["trial"]) == ["0", "1", "2", "3", "4", "5"]
    # the median rule may prune some after the first three; the others train all 4 epochs
    assert board["status"].isin(["completed", "pruned"]).all()
    assert (board.loc[board["status"] == "completed", "epochs"] == 4).all() and (board["epochs"] <= 4).all()
    assert board["dense/units"].nunique() == 6  # distinct trials
    assert {w for ran in workers_of(result).values() for w in ran} == {"w1", "w2"}  # both trained
    assert result.run.meta()["status"] == "finished"
    assert 0.3 < result.evaluate()["accuracy"] <= 1.0


def test_the_chief_refuses_calls_and_workers_without_its_token(tmp_path, installed_plugin, digits_npz):
    import grpc
    from keras_tuner.src import protos

    from automodel.distributed import session
    from automodel.runs import stop
    from automodel.runs.rundir import RunDir

    address = f"127.0.0.1:{free_port()}"
    chief = start_cli_chief(address, digits_npz, tmp_path, "locked", max_trials=1, epochs=1, stdout=subprocess.DEVNULL)
    run = RunDir(tmp_path / "locked")
    try:
        give_up = time.monotonic() + 300
        while not (session.read(run) or {}).get("chief") and chief.poll() is None and time.monotonic() < give_up:
            time.sleep(0.2)
        token = (run.path / "chief_token").read_text().strip()
        stub = protos.get_service_grpc().OracleStub(grpc.insecure_channel(address))
        for metadata in ((), (("automodel-token", "not-" + token),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetSpace(protos.get_service().GetSpaceRequest(), metadata=metadata, timeout=60)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "--token" in refused.value.details()
        stub.GetSpace(protos.get_service().GetSpaceRequest(), metadata=(("automodel-token", token),), timeout=60)

        worker = subprocess.run([*AUTOMODEL_CLI, "worker", "--chief", address, "--dir", str(run.path), "--id", "w",
                                 "--token", "wrong-token-0123456789"], capture_output=True, text=True, timeout=300)
        assert worker.returncode == 2 and "Traceback" not in worker.stderr, worker.stderr
        assert worker.stderr.strip().splitlines()[-1] == (
            f"automodel: error: The chief at {address} refused this worker's token: pass --token as printed by "
            "`automodel chief` (or set AUTOMODEL_TOKEN).")
        assert chief.poll() is None  # still serving, the refused worker never counted
    finally:
        stop.request_stop(run, "test over")
        chief.communicate(timeout=120)
    assert_no_processes_left()


def test_an_architecture_configured_in_code_is_rebuilt_by_workers_and_by_open_run(
    tmp_path, installed_plugin, small_digits
):
    from automodel_test_dense import Narrow

    result = automodel.search(data=small_digits, architectures=[Narrow(max_units=6)], workers=2, max_trials=3,
                              epochs=2, directory=tmp_path, name="n", **SEARCH)
    meta = result.run.meta()
    assert meta["configured"] == {"narrow": {"class": "automodel_test_dense:Narrow", "args": [], "kwargs": {"max_units": 6}}}
    board = trials_only(result.leaderboard())
    assert len(board) == 3 and board["status"].isin(["completed", "pruned"]).all()
    assert set(board["narrow/units"]) <= {2, 4, 6}  # each worker searched the configured space, not a default one
    assert len({w for ran in workers_of(result).values() for w in ran}) == 2
    reopened = automodel.open_run(result.path)  # no instance passed: run.json says how to make it
    assert reopened.evaluate() == result.evaluate()
    with pytest.raises(SearchError, match="configured"):  # resuming with another configuration
        automodel.search(data=small_digits, architectures=[Narrow(max_units=8)], workers=2, max_trials=4,
                         directory=tmp_path, name="n", **SEARCH)


def test_a_stop_request_ends_workers_after_their_epoch_and_no_process_outlives_the_search(
    tmp_path, installed_plugin, small_digits
):
    stop = threading.Event()
    events = []

    def reporter(event, **info):
        events.append(event)
        if event == "epoch_end":
            stop.set()

    result = automodel.search(
        data=small_digits, architectures=["dense"], workers=2, max_trials=50, epochs=500, patience=500,
        directory=tmp_path, name="s", reporter=reporter, stop_event=stop, **SEARCH,
    )
    assert_no_processes_left()
    assert result.run.meta()["status"] == "stopped: stopped by user"
    board = trials_only(result.leaderboard())
    assert 1 <= len(board) <= 2 and (board["status"] == "completed").all()
    assert (board["reason"] == "stopped by user").all() and (board["epochs"] < 500).all()
    assert events[:2] == ["search_start", "chief_ready"] and "trial_start" in events and events.count("trial_end") == len(board)


def test_time_budget_with_workers_stops_on_time_and_keeps_what_finished(tmp_path, installed_plugin, small_digits):
    started = time.monotonic()
    result = automodel.search(
        data=small_digits, architectures=["dense"], workers=2, max_trials=50, epochs=1000, patience=1000,
        time_budget="30s", directory=tmp_path, name="t", **SEARCH,
    )
    elapsed = time.monotonic() - started
    assert_no_processes_left()
    assert result.run.meta()["status"].startswith("stopped: time budget")
    board = trials_only(result.leaderboard())
    assert len(board) >= 1 and (board["status"] == "completed").all()
    # each trial stops at the budget, or at the quarter of it that one trial may train
    assert board["reason"].isin(["time budget reached", "trained 8s, the most one trial may take of the time budget"]).all()
    assert elapsed < 30 + 40  # 1000 epochs take minutes; the budget ended them after an epoch
    assert result.best_trial_id in set(board["trial"])


def test_consecutive_failures_in_workers_stop_the_search_with_a_clear_error(tmp_path, installed_plugin, small_digits):
    with pytest.raises(SearchError, match="2 trials in a row failed.*this plugin always fails"):
        automodel.search(
            data=small_digits, architectures=["failing"], workers=2, max_trials=20, epochs=1,
            max_consecutive_failures=2, directory=tmp_path, name="f", **SEARCH,
        )
    assert_no_processes_left()
    board = trials_only(automodel.open_run(tmp_path / "f").leaderboard())
    assert 2 <= len(board) < 20 and (board["status"] == "failed").all()
    assert board["reason"].str.contains("ValueError: this plugin always fails").all()


def test_a_killed_worker_is_replaced_and_resumes_its_trial_and_big_workers_are_recycled(
    tmp_path, installed_plugin, small_digits
):
    killed = []
    record = tmp_path / "k" / "trial_0" / "automodel_trial.json"

    def kill_mid_trial():
        give_up = time.monotonic() + 300
        while time.monotonic() < give_up:
            state = json.loads(record.read_text()) if record.exists() else {}
            if state.get("status") == "running" and state.get("epochs", 0) >= 3:
                killed.append(state["sessions"][-1]["pid"])
                os.kill(killed[0], signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_mid_trial, daemon=True)
    killer.start()
    result = automodel.search(
        data=small_digits, architectures=["dense"], workers=1, max_trials=2, epochs=60, patience=100,
        max_worker_memory="1MB", directory=tmp_path, name="k", **SEARCH,
    )
    killer.join()
    assert_no_processes_left()
    assert killed and result.run.meta()["status"] == "finished"
    first, second = (result.run.trial_record(t) for t in ("0", "1"))
    assert [s["pid"] for s in first["sessions"]][0] == killed[0] and len(first["sessions"]) == 2
    assert 2 <= first["sessions"][1]["first_epoch"] < 60  # continued from its backup (at most one behind)
    assert first["epochs"] == len(first["history"]["loss"]) == 60
    # every trial ran in a fresh process: 1 MB is below any worker's size
    assert len({s["pid"] for r in (first, second) for s in r["sessions"]}) == 3
    assert (trials_only(result.leaderboard())["status"] == "completed").all()


def test_worker_processes_end_when_the_search_process_is_killed(tmp_path, installed_plugin, digits_npz):
    script = (
        "import sys, numpy as np, automodel\n"
        "data = np.load(sys.argv[1])\n"
        "automodel.search(task='image_classification', data=(data['x'], data['y']), architectures=['dense'],\n"
        "    tuner='random', workers=1, max_trials=50, epochs=500, patience=500, directory=sys.argv[2], name='o')\n"
    )
    search = subprocess.Popen([sys.executable, "-c", script, str(digits_npz), str(tmp_path)])
    give_up = time.monotonic() + 300
    while not list(tmp_path.glob("o/trial_*/automodel_trial.json")) and time.monotonic() < give_up:
        time.sleep(0.2)
    children = psutil.Process(search.pid).children(recursive=True)
    assert len(children) >= 2  # a chief and a worker
    search.kill()
    search.wait()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--chief", "nowhere"], "'nowhere' is not an address"),
        (["--id", "chief-2"], "must not contain 'chief'"),
        (["--wait", "0"], "holds no running search after 0s"),
    ],
)
def test_worker_command_errors_are_one_clear_line(tmp_path, args, message):
    command = [sys.executable, "-m", "automodel.cli", "worker", "--dir", str(tmp_path / "none"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("automodel: error:") and message in done.stderr
