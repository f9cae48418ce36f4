"""The stop request: a file every process of a search watches.

``stop.json`` is present once a stop was asked (by the searching process,
``SearchResult.request_stop`` or ``automodel stop``): trials stop after their
current epoch and no new one starts. A file, not a signal, carries it, so it
reaches workers on other machines and outlives the process that asked.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from .rundir import RunDir, read_json, write_json

STOP_FILE = "stop.json"
INTERRUPTED = "interrupted"  # the reason Ctrl-C gives


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


@contextlib.contextmanager
def on_interrupt(run: RunDir):
    """Ctrl-C (or a notebook's interrupt): the first asks to stop after the current epoch, the next ends at once.

    Signal handlers belong to the main thread; a search in another (the panel's)
    is stopped by its stop event instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def first_press(signum, frame):
        request_stop(run, INTERRUPTED)
        signal.signal(signal.SIGINT, previous if callable(previous) else signal.default_int_handler)
        print("\nautomodel: stopping after the current epoch; press Ctrl-C again to stop now.", file=sys.stderr,
              flush=True)

    signal.signal(signal.SIGINT, first_press)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
