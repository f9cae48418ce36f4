"""Background jobs for the panels: the notebook stays usable, and nothing leaks into its cells.

A search or an export runs in a daemon thread. Whatever that thread prints
(Keras and TensorFlow warnings, absl log lines) would otherwise land in the
notebook cell that happens to run next, so while any job runs, ``sys.stdout``
and ``sys.stderr`` are wrapped by a proxy that keeps the job threads' writes in
the job's own log and passes every other thread's writes through untouched.
An exception in the job is caught and handed to ``on_done``, so the panel can
show it; it never dies as a traceback nobody sees.
"""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Callable

MAX_LOG_CHARS = 20_000

_lock = threading.Lock()
_logs: dict[int, list[str]] = {}  # thread id -> captured text of a running job


class _RoutedStream:
    """Sends a job thread's writes to its log, everything else to the real stream."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        log = _logs.get(threading.get_ident())
        if log is None:
            return self.stream.write(text)
        log.append(text)
        return len(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _route(thread_id: int, log: list[str]) -> None:
    with _lock:
        if not _logs:
            for name in ("stdout", "stderr"):
                setattr(sys, name, _RoutedStream(getattr(sys, name)))
        _logs[thread_id] = log


def _unroute(thread_id: int) -> None:
    with _lock:
        _logs.pop(thread_id, None)
        if not _logs:
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if isinstance(stream, _RoutedStream):  # someone else's replacement stays
                    setattr(sys, name, stream.stream)


class Job:
    """Runs ``work()`` in a background thread, then ``on_done(error)`` in that thread.

    ``error`` is None on success. ``log`` holds what the job printed, ``trace``
    the formatted traceback of an unexpected error.
    """

    def __init__(self, work: Callable[[], object], on_done: Callable[[BaseException | None], None], name: str):
        self.work = work
        self.on_done = on_done
        self.value = None
        self.trace = ""
        self._log: list[str] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def log(self) -> str:
        return "".join(self._log)[-MAX_LOG_CHARS:]

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> "Job":
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job; True if it has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        thread_id = threading.get_ident()
        _route(thread_id, self._log)
        try:
            error = None
            try:
                self.value = self.work()
            except BaseException as exc:  # shown in the panel, not lost in the thread
                error = exc
                self.trace = traceback.format_exc()
            self.on_done(error)
        finally:
            _unroute(thread_id)
