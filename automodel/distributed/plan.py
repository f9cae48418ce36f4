"""Searches with worker processes: one trial per GPU, several per GPU, many machines.

KerasTuner's own distributed mode does the work: a chief serves the oracle over
gRPC and each worker (``KERASTUNER_TUNER_ID``) asks it for trials, trains them
and reports back. automodel starts and stops those processes itself:

- ``plan`` turns ``workers=``/``trials_per_gpu=``/``strategy=`` into one
  environment per local worker process (``CUDA_VISIBLE_DEVICES``, memory growth
  when trials share a GPU, a fair share of the CPU threads), before anything is
  written;
- ``search_with_workers`` stores what workers need in the run directory (see
  ``session.py``) with the session's token (``auth.py``, checked on every call
  to the chief), starts the chief (``chief.py``) and the workers
  (``automodel worker``, the same command other machines run), relays progress
  from the run directory to the reporter (``relay.py``), restarts a worker that
  died or outgrew its memory limit (it resumes its trial from the last epoch),
  and ends every process it started, whatever happens.

The chief always runs in its own process, without GPUs: it builds models only to
learn the search space, and must not take GPU memory from the workers.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

from ..addresses import is_loopback, parse_address, probe_port
from ..errors import SearchError
from ..runs import stop
from ..runs.rundir import RunDir, now
from ..settings import STRATEGIES, whole
from . import auth, session
from .relay import Relay

ASSUMED_GPUS = "AUTOMODEL_GPUS"  # ids of GPUs to plan for instead of those TensorFlow sees
LOCAL_BIND = "127.0.0.1:0"  # the chief listens here unless told otherwise; 0: any free port
RECYCLE_EXIT = 75  # a worker ends with this to be replaced by a fresh process
ERROR_EXIT = 2  # a worker's setup is wrong (a plugin, the data): restarting will not help
ORPHAN_EXIT = 70  # a chief or worker whose search process has gone
MAX_RESTARTS = 3  # crashes per worker before the search gives up
POLL_SECONDS = 0.25
CHIEF_START_SECONDS = 300
STOP_SECONDS = 10  # how long a process may take to end once asked
ORPHAN_CHIEF_SECONDS = 30  # chief still up this long after every local worker ended
MEMORY_SHARE = 0.8  # of the host's memory, split between the local workers
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


@dataclasses.dataclass
class Plan:
    """Which processes a search runs: none (in this process), or a chief and workers."""

    workers: list[dict]  # the environment of each local worker process
    bind: str | None  # where the chief listens; None: no chief
    max_worker_memory: int | None  # bytes of RSS after which a worker is replaced

    @property
    def distributed(self) -> bool:
        return self.bind is not None


def plan(
    workers="auto",
    trials_per_gpu: int = 1,
    strategy: str | None = None,
    bind: str | None = None,
    max_worker_memory=None,
    gpus: list[str] | None = None,
) -> Plan:
    """Check the scale-out settings and decide the processes; ``gpus`` defaults to the visible ones."""
    if strategy is not None and strategy not in STRATEGIES:
        raise SearchError(f"strategy={strategy!r} is unknown. Use one of: {', '.join(STRATEGIES)}, or None.")
    if not whole(trials_per_gpu) or trials_per_gpu < 1:
        raise SearchError(f"trials_per_gpu={trials_per_gpu!r}: pass a whole number of at least 1.")
    if workers is None:  # asked for: every trial here, whatever GPUs are visible (debugging on a GPU server)
        if bind is not None:
            raise SearchError("workers=None trains in this process, without a chief; drop bind=, or pass workers=0 "
                              "to train only on other machines.")
        return Plan([], None, None)
    if workers != "auto" and (not whole(workers) or workers < 0):
        raise SearchError(
            f"workers={workers!r}: pass 'auto' (one worker per GPU), None (no worker processes: train in "
            "this process) or a whole number of worker processes (0 with bind= to train only on other machines)."
        )
    if bind is not None:
        _check_bindable(*parse_address(bind))
        warn_if_exposed(bind)
    if workers == 0 and bind is None:
        raise SearchError("workers=0 trains nothing here; pass bind='HOST:PORT' for remote workers, or workers >= 1.")
    gpus = visible_gpus() if gpus is None else list(gpus)
    slots = _slots(gpus, trials_per_gpu, strategy)
    count = max(len(slots), 1) if workers == "auto" else workers
    if count == 1 and workers == "auto" and bind is None:
        return Plan([], None, None)  # one worker: this process, as without workers
    environments = _environments(count, gpus, slots, strategy)
    if os.environ.get(auth.TOKEN_ENV):
        auth.check_token(os.environ[auth.TOKEN_ENV])  # a chosen token: now, before anything is written
    limit = parse_size(max_worker_memory) if max_worker_memory is not None else _default_memory(count)
    return Plan(environments, bind or LOCAL_BIND, limit)


def _slots(gpus: list[str], trials_per_gpu: int, strategy: str | None) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` of each worker "auto" starts."""
    if not gpus:
        return []
    if strategy is not None:
        return [",".join(gpus)]  # one trial over every GPU
    return [gpu for gpu in gpus for _ in range(trials_per_gpu)]


def _environments(count: int, gpus: list[str], slots: list[str], strategy: str | None) -> list[dict]:
    if not gpus:
        threads = str(max(1, (os.cpu_count() or 1) // max(count, 1)))
        return [{"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads} for _ in range(count)]
    if strategy is not None:
        if count > len(gpus):
            raise SearchError(
                f"strategy={strategy!r} with {count} workers needs at least {count} GPUs; "
                f"{len(gpus)} are visible. Use fewer workers."
            )
        slots = [",".join(gpus[len(gpus) * i // count : len(gpus) * (i + 1) // count]) for i in range(count)]
    devices = [slots[i % len(slots)] for i in range(count)]
    shared = len(set(devices)) < len(devices)
    return [
        {"CUDA_VISIBLE_DEVICES": device, **({"TF_FORCE_GPU_ALLOW_GROWTH": "true"} if shared else {})}
        for device in devices
    ]


def visible_gpus() -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` ids of the GPUs TensorFlow sees here.

    ``AUTOMODEL_GPUS=0,1`` names them instead: the plan of a multi-GPU server,
    rehearsed where there is none (the workers then train on the CPU).
    """
    assumed = os.environ.get(ASSUMED_GPUS)
    if assumed is not None:
        return [gpu.strip() for gpu in assumed.split(",") if gpu.strip()]
    from ..startup import load_tensorflow

    count = len(load_tensorflow().config.list_physical_devices("GPU"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else [str(i) for i in range(count)]
    return ids[:count]


def _check_bindable(host: str, port: int) -> None:
    """Fail now, not in the chief process, on an address this machine cannot listen on."""
    try:
        probe_port(host, port)
    except OSError as exc:
        raise SearchError(
            f"The chief cannot listen on {host}:{port} ({exc.strerror}). Choose a free port, and an "
            "address of this machine."
        ) from None


def warn_if_exposed(bind: str) -> None:
    host, port = parse_address(bind)
    if not is_loopback(host):
        warnings.warn(
            f"The chief listens on {host}:{port}. Its gRPC channel is authenticated by the session's token "
            "but not encrypted: anyone who can watch the network can read the search and the token. "
            "Bind to a private network only, or to 127.0.0.1 and reach it through an ssh tunnel.",
            UserWarning,
            stacklevel=3,
        )


def parse_size(value) -> int:
    """Bytes from ``1_000_000``, ``"512MB"``, ``"4GB"`` or ``"1.5GiB"``."""
    if whole(value) and value > 0:
        return value
    match = _SIZE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise SearchError(f"max_worker_memory={value!r} is not a size. Use bytes or e.g. '512MB', '4GB'.")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _default_memory(count: int) -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return int(psutil.virtual_memory().total * MEMORY_SHARE / max(count, 1))


def keep_in_process(plan: Plan, unportable: dict[str, str], workers, bind: str | None) -> Plan:
    """Workers rebuild architectures from run.json (``automodel.portable``); some cannot be.

    With ``workers="auto"`` and no ``bind`` the search then trains here, as on a
    machine with one GPU, and says so; asked for workers explicitly, it refuses.
    """
    if not plan.distributed or not unportable:
        return plan
    why = "; ".join(f"{name!r}: {reason}" for name, reason in unportable.items())
    if workers == "auto" and bind is None:
        warnings.warn(f"automodel: this search trains in this process, not in {len(plan.workers)} worker processes, "
                      f"because worker processes cannot make these architectures ({why}).", UserWarning, stacklevel=3)
        return Plan([], None, None)
    raise SearchError(f"Worker processes cannot make these architectures: {why}. Fix that, or search without workers.")


# -- the local processes -----------------------------------------------------


class _Process:
    """One child process with its log file in the run directory."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name, self.command, self.env = name, command, env
        self.log_path = log_dir / f"{name}.log"
        self.restarts = 0
        self.done = False
        self.popen = None
        self.start()

    def start(self) -> None:
        with open(self.log_path, "a") as log:  # stdout only carries KerasTuner's debugging prints
            self.popen = subprocess.Popen(
                self.command, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=log,
                stdin=subprocess.DEVNULL,
            )

    def poll(self):
        return self.popen.poll()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return ""
        return " | ".join(text[-lines:])

    def end(self) -> None:
        """Ask the process to end, then make sure it has."""
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def supervised_by(parent_pid: int | None) -> None:
    """A chief or worker started by a search: end when ``parent_pid`` ends, leave Ctrl-C to it.

    No child outlives its search (checked every second). Ctrl-C in a terminal
    reaches the whole process group; the search answers it by asking every process
    to stop after its epoch (the stop file), so the children ignore the signal.
    """
    if not parent_pid:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(ORPHAN_EXIT)

    threading.Thread(target=watch, name="automodel-parent-watch", daemon=True).start()


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def search_with_workers(plan: Plan, run: RunDir, prepared, settings: dict, budget, reporter=None) -> None:
    """Run the search in a chief and worker processes, until it ends or fails."""
    from ..engine.tuners import consecutive_failures_error

    session.save_splits(run, prepared)
    token = auth.issue(run)  # before the session: a worker that finds the session finds its token
    session.start(run, settings, budget.deadline)
    logs = run.path / "logs"
    logs.mkdir(exist_ok=True)
    relay = Relay(run, reporter)
    parent = str(os.getpid())
    processes: list[_Process] = []
    try:
        chief = _Process(
            "chief", _python("automodel.distributed.chief", str(run.path), "--bind", plan.bind, "--parent-pid", parent),
            {"CUDA_VISIBLE_DEVICES": "-1"}, logs,
        )
        processes.append(chief)
        for index, env in enumerate(plan.workers):  # they start while the chief does, and find it in the session
            command = _python(
                "automodel.cli", "worker", "--dir", str(run.path), "--id", f"worker{index}", "--parent-pid", parent,
                *(("--max-memory", str(plan.max_worker_memory)) if plan.max_worker_memory else ()),
            )
            processes.append(_Process(f"worker{index}", command, env, logs))
        address = _wait_for_chief(run, chief)
        relay.emit("chief_ready", address=address, run_dir=str(run.path), token=token)
        _supervise(chief, processes[1:], run, relay, budget, plan)
    except KeyboardInterrupt:  # a second Ctrl-C: end everything now
        run.update_meta(status=f"stopped: {stop.INTERRUPTED}", updated=now())
        raise
    finally:
        for process in reversed(processes):  # workers first, the chief last
            process.end()
        relay.poll(final=True)
        if run.meta().get("status") == "running":  # the chief never got to say
            run.update_meta(status="failed", updated=now())
    meta = run.meta()
    if meta.get("status") == "failed":
        raise consecutive_failures_error(settings["max_consecutive_failures"], meta.get("error") or "unknown")


def _wait_for_chief(run: RunDir, chief: _Process) -> str:
    give_up = time.monotonic() + CHIEF_START_SECONDS
    while time.monotonic() < give_up:
        address = (session.read(run) or {}).get("chief")
        if address:
            return address
        if chief.poll() is not None:
            raise SearchError(f"The chief process could not start: {chief.log_tail()} (log: {chief.log_path}).")
        time.sleep(POLL_SECONDS)
    raise SearchError(f"The chief process did not start listening within {CHIEF_START_SECONDS}s (log: {chief.log_path}).")


def _supervise(chief: _Process, workers: list[_Process], run: RunDir, relay: Relay, budget, plan: Plan) -> None:
    """Until the chief ends: relay progress, pass on a stop, replace workers that ended early."""
    local_only = is_loopback(parse_address(plan.bind)[0])
    idle_since = None
    while chief.poll() is None:
        relay.poll()
        if budget.stop_event.is_set():
            stop.request_stop(run, "stopped by user")
        for worker in workers:
            _check_worker(worker)
        if workers and local_only and all(worker.done for worker in workers):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > ORPHAN_CHIEF_SECONDS:
                chief.end()  # every worker has gone, so nobody will end the trials it waits for
        time.sleep(POLL_SECONDS)
    if chief.poll() not in (0, None) and run.meta().get("status") != "failed":
        raise SearchError(f"The chief process failed (exit {chief.poll()}): {chief.log_tail()} (log: {chief.log_path}).")


def _check_worker(worker: _Process) -> None:
    code = worker.poll()
    if code is None or worker.done:
        return
    if code == 0:
        worker.done = True  # the chief had no more trials for it
    elif code == RECYCLE_EXIT:
        worker.start()  # over its memory limit: a fresh process goes on
    elif code == ERROR_EXIT or worker.restarts >= MAX_RESTARTS:
        raise SearchError(
            f"Worker process {worker.name} failed (exit {code}): {worker.log_tail()} (log: {worker.log_path}). "
            "The run directory keeps what finished; search again to resume."
        )
    else:
        worker.restarts += 1
        worker.start()  # same id: the chief hands it its unfinished trial, which resumes
