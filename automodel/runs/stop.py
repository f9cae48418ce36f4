"""The stop request: a file every process of a search watches.

``stop.json`` is present once a stop was asked (by the searching process,
``SearchResult.request_stop`` or ``automodel stop``): trials stop after their
current epoch and no new one starts. A file, not a signal, carries it, so it
reaches workers on other machines and outlives the process that asked.
"""

from __future__ import annotations

import time

from .rundir import RunDir, read_json, write_json

STOP_FILE = "stop.json"


def forget_stop(run: RunDir) -> None:
    """A new search starts: a stop asked of an earlier one no longer counts."""
    (run.path / STOP_FILE).unlink(missing_ok=True)


def request_stop(run: RunDir, reason: str) -> None:
    if not (run.path / STOP_FILE).exists():
        write_json(run.path / STOP_FILE, {"reason": reason, "time": time.time()})


def stop_reason(run: RunDir) -> str | None:
    """The reason of the stop asked for this session, if one was."""
    path = run.path / STOP_FILE
    if not path.exists():
        return None
    try:
        return read_json(path).get("reason") or "stopped by user"
    except (FileNotFoundError, ValueError):
        return "stopped by user"
