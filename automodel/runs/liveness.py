"""Is a run's search still alive? Its heartbeat says.

``run.json`` says ``running`` from the moment a search starts until it writes how
it ended, which a search killed with SIGKILL, a machine that went down or a chief
that exited hard never does. So the process that runs a search (and each worker)
rewrites ``heartbeats/NAME.json`` every few seconds while it runs: its host, pid,
process start time and the time of the beat. A ``running`` run whose search
heartbeat ended, whose process is gone (on this host) or whose beat is stale (on
another) is ``interrupted``; searching again resumes it as before.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import psutil

from .rundir import RunDir, read_json, write_json
from .stop import INTERRUPTED  # the status of a search that is gone, as of one stopped by Ctrl-C

HEARTBEATS = "heartbeats"
SEARCH = "search"  # the heartbeat of the process that owns run.json's status
BEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a beat this old from another host: that process is gone

_beating: set[Path] = set()  # heartbeats this process keeps now


def _path(run: RunDir, name: str) -> Path:
    return run.path / HEARTBEATS / f"{name}.json"


def _beat(path: Path, ended: bool = False) -> None:
    process = psutil.Process()
    write_json(path, {"host": socket.gethostname(), "pid": process.pid, "process_started": process.create_time(),
                      "time": time.time(), "ended": ended})


@contextlib.contextmanager
def beating(run: RunDir, name: str = SEARCH):
    """Keep ``name``'s heartbeat in ``run`` while the block runs; mark it ended after."""
    path = _path(run, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = threading.Event()

    def keep_beating():
        while not done.wait(BEAT_SECONDS):
            with contextlib.suppress(OSError):  # a full disk must not end the search
                _beat(path)

    _beat(path)
    _beating.add(path.resolve())
    thread = threading.Thread(target=keep_beating, name=f"automodel-heartbeat-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        _beating.discard(path.resolve())
        with contextlib.suppress(OSError):
            _beat(path, ended=True)


def alive(run: RunDir, name: str = SEARCH) -> bool:
    """Whether ``name``'s process still runs.

    A search starts beating before run.json says ``running``, so a running run
    without a heartbeat was made by a search that has gone (or by an automodel
    from before heartbeats).
    """
    path = _path(run, name)
    if path.resolve() in _beating:
        return True
    try:
        beat = read_json(path)
    except FileNotFoundError:
        return False
    except ValueError:  # being replaced this instant (writes are atomic, so rarely)
        return True
    if beat.get("ended"):
        return False
    if beat.get("host") != socket.gethostname():
        return time.time() - beat.get("time", 0) < STALE_SECONDS
    return _process_runs(beat.get("pid"), beat.get("process_started"))


def _process_runs(pid, started) -> bool:
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) < 1 and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, TypeError, ValueError):
        return False


def status(run: RunDir, meta: dict | None = None) -> str | None:
    """run.json's status, or ``interrupted`` for a ``running`` search that is gone."""
    meta = run.meta() if meta is None else meta
    current = meta.get("status")
    if current == "running" and not alive(run):
        return INTERRUPTED
    return current


def owner(run: RunDir) -> str:
    """Who keeps the search heartbeat, for messages: ``pid 123 on host``."""
    try:
        beat = read_json(_path(run, SEARCH))
    except (FileNotFoundError, ValueError):
        return "another process"
    here = "this process" if beat.get("pid") == os.getpid() and beat.get("host") == socket.gethostname() else None
    return here or f"process {beat.get('pid')} on {beat.get('host')}"
