"""The wall clock of one search: its deadline, the user's stop request, the time kept for the refit.

Shared by the trial loop (``tuners.py``), the chief that decides whether another
trial starts (``chief.py``) and each worker process. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


class SearchStopped(Exception):
    """Raised between trials to end the trial loop (budget spent or stop asked)."""


class Budget:
    """The wall clock of one search call, and the user's stop request.

    The end is a wall-clock ``deadline`` (``time.time()``), so the processes of
    a search with workers share it; ``stop_request``, if given, returns the reason
    of a stop asked from outside the process (the run directory's stop file).
    """

    # a trial may train for at most this share of a time budget, so that the
    # portfolio's first trials and the refit fit in even a short one
    TRIAL_SHARE = 0.25

    def __init__(
        self,
        seconds: float | None = None,
        stop_event: threading.Event | None = None,
        *,
        deadline: float | None = None,
        stop_request: Callable[[], str | None] | None = None,
    ):
        self.seconds = seconds
        self.trial_cap = None if seconds is None else seconds * self.TRIAL_SHARE
        self.deadline = deadline if deadline is not None or seconds is None else time.time() + seconds
        self.stop_event = stop_event or threading.Event()
        self.stop_request = stop_request
        self.trial_seconds: list[float] = []
        self.reserve = 0.0  # seconds kept back from the trials for the final refit
        self.reserve_for: Callable[[], float] | None = None  # how long that refit would take now

    def cap_by_end_of(self, fold: int | None = None, folds: int = 1) -> float | None:
        """Training seconds a trial may have used by the end of this fold (None: no cap).

        A cross-validated trial shares its cap among its folds, cumulatively, so a
        fast fold's unused share goes to the next and every fold gets trained: a
        trial capped in its first fold would be scored on that fold alone and
        outrank the trials validated on all of them.
        """
        if self.trial_cap is None:
            return None
        return self.trial_cap if fold is None else self.trial_cap * (fold + 1) / folds

    def count_trial(self, record: dict) -> None:
        """Learn how long a trial takes from its record: one that ran to its end, neither failed nor stopped."""
        if record.get("status") in ("completed", "pruned") and "stopped" not in record and record.get("seconds"):
            self.trial_seconds.append(record["seconds"])

    def trial_ended(self) -> None:
        if self.reserve_for is not None:
            self.reserve = self.reserve_for()

    def remaining(self, reserved: bool = True) -> float:
        """Seconds left for trials (``reserved=False``: for the refit too)."""
        if self.deadline is None:
            return math.inf
        return self.deadline - time.time() - (self.reserve if reserved else 0.0)

    def why_stop_now(self, reserved: bool = True) -> str | None:
        if self.stop_event.is_set():
            return "stopped by user"
        requested = self.stop_request() if self.stop_request is not None else None
        if requested:
            return requested
        if self.remaining(reserved) <= 0:
            return "time budget reached"
        return None

    def why_not_start(self) -> str | None:
        """A reason not to start another trial, if there is one."""
        reason = self.why_stop_now()
        if reason is None and self.trial_seconds:
            typical = sum(self.trial_seconds) / len(self.trial_seconds)
            if typical > self.remaining():
                reason = "time budget too short for another trial"
        return reason


def capped_reason(cap: float, folds: int | None, trained: int | None = None) -> str:
    """Why a trial stopped at its time cap: a split trial, each fold at its share, or too slow for every fold."""
    if folds is None:
        return f"trained {cap:.0f}s, the most one trial may take of the time budget"
    if trained is not None:
        return f"trained {trained} of {folds} folds in the {cap:.0f}s one trial may take of the time budget"
    return (f"each of its {folds} folds trained at most its share of the {cap:.0f}s "
            "one trial may take of the time budget")
