"""The live display of ``automodel search`` in a terminal: the trials training, the best so far, the budget left.

``SearchProgress`` is fed the reporter's events (``automodel/runs/events.py``) one
at a time, beside the plain lines the command prints anyway, and rich's ``Live``
redraws it below those lines a few times a second. While it is drawn rich takes
over ``sys.stdout`` (and ``sys.stderr`` where that is a terminal too), and the
logging handlers that wrote to them follow, so prints, warnings, TensorFlow's
log lines and the Ctrl-C notice land above the display instead of through it.
It is transient: when the search ends it is erased, leaving the plain lines, the
leaderboard and the summary, as in a log. The command draws it only when stdout
is a terminal; in pipes, logs and with ``--json`` the output is the plain lines.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..runs.leaderboard import WITH_MODEL
from ..settings import TRIALS_WITHOUT_BUDGET, parse_duration
from ..tasks import OBJECTIVES

DIRECTIONS = dict(OBJECTIVES.values())  # objective -> "max" or "min"
# the objective is named by the first trial's end; until then, the first of these in the logs
GUESSED_OBJECTIVES = ("val_accuracy", "fid", "val_loss")
SHOWN_TRIALS = 8  # rows for trials training at once (worker processes), at most
BAR_WIDTH = 24


class SearchProgress:
    """What a search is doing now, from its events; rich renders it (``__rich__``) and ``shown()`` draws it live."""

    def __init__(self, max_trials: int | None = None, time_budget: float | None = None, console=None,
                 clock=time.monotonic):
        self.max_trials, self.time_budget = max_trials, time_budget
        self.console = console or Console()
        self.clock = clock
        self.started = clock()
        self.phase = "preparing the data and the trials"
        self.epochs = None
        self.objective = None
        self.running: dict[str, dict] = {}  # trial id -> architecture, fold, epoch, value
        self.best = None  # (trial id, objective value)
        self.ended = {"completed": 0, "pruned": 0, "failed": 0}
        self._live = None

    @classmethod
    def for_options(cls, options: dict, console=None) -> SearchProgress:
        """The display of a search run with ``automodel.search``'s ``options``: its trial limit and time budget."""
        budget = parse_duration(options.get("time_budget"))
        trials = options.get("max_trials")
        return cls(TRIALS_WITHOUT_BUDGET if trials is None and budget is None else trials, budget, console)

    def __call__(self, event: str, **fields) -> None:
        """A reporter: take in one event and redraw."""
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(**fields)
        if self._live is not None:
            self._live.refresh()

    def _on_search_start(self, max_trials, epochs, batch_size, patience):
        self.started, self.epochs, self.phase = self.clock(), epochs, "waiting for the first trial"
        if max_trials is not None:
            self.max_trials = max_trials

    def _on_chief_ready(self, address, run_dir, token):
        self.phase = f"chief listening on {address}: waiting for workers"

    def _on_trial_start(self, trial_id, architecture, resumed):
        self.running[trial_id] = _training(architecture)

    def _on_epoch_end(self, trial_id, epoch, logs):
        trial = self.running.setdefault(trial_id, _training(None))  # began before the display
        if epoch <= trial["epoch"]:  # a cross-validated trial began its next fold
            trial["fold"] += 1
        trial["epoch"] = epoch
        name = self.objective or next((name for name in GUESSED_OBJECTIVES if name in logs), None)
        if name in logs:
            trial["value"] = (name, logs[name])

    def _on_trial_end(self, record, objective, score):
        self.objective = objective
        trial_id, status = record["trial_id"], record.get("status")
        self.running.pop(trial_id, None)
        self.ended[status] = self.ended.get(status, 0) + 1
        if score is None or score != score or status not in WITH_MODEL:
            return
        higher = DIRECTIONS.get(objective, "max") == "max"
        if self.best is None or (score > self.best[1] if higher else score < self.best[1]):
            self.best = (trial_id, score)

    def _on_ensemble(self, record, objective):
        self.running.clear()
        self.phase = "choosing the final model"

    def _on_refit_start(self):
        self.phase = "refit: retraining the best trial on training and validation data"

    def _on_refit_end(self, record):
        self.phase = "scoring the chosen model on the test split"

    def __rich__(self):
        trials = self._trials_table() if self.running else Text(self.phase)
        return Group(trials, self._best_line(), self._trials_line(), self._time_line())

    def _trials_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for trial_id, trial in list(self.running.items())[:SHOWN_TRIALS]:
            epoch = f"epoch {trial['epoch']}/{self.epochs}" if self.epochs else f"epoch {trial['epoch']}"
            if trial["fold"] > 1:
                epoch = f"fold {trial['fold']}, {epoch}"
            total = self.epochs or max(trial["epoch"], 1)
            bar = ProgressBar(total=total, completed=min(trial["epoch"], total), width=BAR_WIDTH)
            value = f"{trial['value'][0]}={trial['value'][1]:.4f}" if trial["value"] else ""
            table.add_row(Text(f"trial {trial_id}", style="bold"), trial["architecture"] or "?", epoch, bar, value)
        return table

    def _best_line(self) -> Text:
        if self.best is None:
            return Text("best so far: none yet")
        line = Text("best so far: ")
        return line.append(f"trial {self.best[0]}, {self.objective}={self.best[1]:.4f}", style="bold green")

    def _trials_line(self) -> Text:
        ended = self.ended
        line = f"trials: {ended['completed']} completed, {ended['pruned']} pruned, {ended['failed']} failed"
        if self.max_trials is not None:
            line += f"; {max(self.max_trials - sum(ended.values()), 0)} left of {self.max_trials}"
        return Text(line)

    def _time_line(self):
        elapsed = self.clock() - self.started
        if self.time_budget is None:
            return Text(f"elapsed {_duration(elapsed)}")
        table = Table.grid(padding=(0, 2))
        bar = ProgressBar(total=self.time_budget, completed=min(elapsed, self.time_budget), width=BAR_WIDTH)
        left = _duration(max(self.time_budget - elapsed, 0.0))
        table.add_row(f"elapsed {_duration(elapsed)}, time left {left} of {_duration(self.time_budget)}", bar)
        return table

    @contextlib.contextmanager
    def shown(self):
        """Draw the display live for the block, with prints and log lines above it; erase it after."""
        streams = sys.stdout, sys.stderr
        live = Live(self, console=self.console, refresh_per_second=4, transient=True, redirect_stdout=True,
                    redirect_stderr=sys.stderr.isatty())
        with live:
            now = sys.stdout, sys.stderr
            replaced = {before: after for before, after in zip(streams, now) if before is not after}
            self._live = live
            try:
                with _logging_to(replaced):
                    yield self
            finally:
                self._live = None


def _training(architecture: str | None) -> dict:
    """A trial being trained, as the display knows it: the epochs it finished and its latest objective value."""
    return {"architecture": architecture, "fold": 1, "epoch": 0, "value": None}


@contextlib.contextmanager
def _logging_to(replaced: dict):
    """Logging handlers writing to a stream in ``replaced`` write to its replacement for the block."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {handler for logger in loggers for handler in getattr(logger, "handlers", ())
                if type(handler) is logging.StreamHandler and handler.stream in replaced}
    moved = [(handler, handler.setStream(replaced[handler.stream])) for handler in handlers]
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


def _duration(seconds: float) -> str:
    """``1:05`` or ``2:03:07``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
