"""``Leaderboard(run_dir)``: a live view of any run directory.

It reads only the run directory's JSON files (``automodel.runs.leaderboard``, no
TensorFlow), so a local search, a resumed one and one fed by distributed workers
look the same, and the view can watch a run written by another process. While
the run's status is ``running`` it re-reads every ``interval`` seconds; the
search panel instead refreshes it on each trial event of its own search. Each
re-read also goes to its ``Insight`` tabs (the search insight and diagnostics),
which redraw in the background only what changed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import ipywidgets as widgets

from automodel.runs import liveness
from automodel.runs.leaderboard import ENSEMBLE, STATUS_ORDER, WITH_MODEL, leaderboard
from automodel.runs.rundir import RunDir

from .curves import curves_png
from .insight import Insight
from .notice import Notice, describe
from .table import board_html


def _counts(board) -> str:
    trials = board[board["trial"] != ENSEMBLE]
    if trials.empty:
        return "no trials yet"
    counts = trials["status"].value_counts()
    parts = [f"{counts[s]} {s}" for s in STATUS_ORDER if s in counts]
    return f"{len(trials)} trial{'s' if len(trials) != 1 else ''} ({', '.join(parts)})"


class Leaderboard(widgets.VBox):
    """The trials of ``run_dir``, best first, with the learning curves of a chosen trial."""

    def __init__(self, run_dir=None, interval: float = 2.0, watch: bool = True, **kwargs):
        self.heading = widgets.HTML()
        self.table = widgets.HTML()
        self.trial = widgets.Dropdown(description="Trial", options=[("best", None)], layout={"width": "420px"})
        self.curves = widgets.Image(format="png", layout={"display": "none", "max_width": "640px"})
        self.notice = Notice()
        self.insight = Insight(interval=interval)  # search insight and diagnostics tabs, drawn in the background
        for widget, name in ((self.heading, "status"), (self.table, "leaderboard"), (self.trial, "trial"), (self.curves, "curves")):
            widget.add_class(f"automodel-{name}")
        super().__init__([self.heading, self.table, self.trial, self.curves, self.insight, self.notice], **kwargs)
        self.add_class("automodel-board")
        self.interval = interval
        self.run_dir: Path | None = None
        self.board = None  # the last leaderboard read, a DataFrame
        self.objective = None
        self.status = None  # the run's status from run.json
        self._lock = threading.RLock()
        self._updating = False
        self._curves_key = None
        self._stop_watching = threading.Event()
        self._watcher: threading.Thread | None = None
        self.trial.observe(self._on_select, "value")
        if run_dir is not None:
            self.show(run_dir, watch=watch)

    # -- what to show ----------------------------------------------------------
    def show(self, run_dir, watch: bool = False) -> None:
        """Show ``run_dir`` (which may not exist yet); ``watch`` keeps it fresh while it runs."""
        self.unwatch()
        with self._lock:
            self.run_dir = Path(run_dir)
            self._curves_key = None
        self.refresh()
        if watch and self.status in (None, "running"):  # a finished run does not change
            self.watch()

    @property
    def has_model(self) -> bool:
        """Whether a trial has completed, so that there is a model to export."""
        board = self.board
        return board is not None and not board.empty and bool(board["status"].isin(WITH_MODEL).any())

    @property
    def selected_trial(self) -> str | None:
        """The chosen trial's id; the best completed one while 'best' is chosen."""
        if self.trial.value is not None:
            return self.trial.value
        if self.board is None or self.board.empty:
            return None
        trained = self.board[self.board["status"].isin(WITH_MODEL)]
        return str((trained if not trained.empty else self.board).iloc[0]["trial"])

    def refresh(self):
        """Re-read the run directory and update the view; returns the leaderboard DataFrame."""
        with self._lock:
            if self.run_dir is None:
                return None
            run = RunDir(self.run_dir)
            try:
                if not run.is_run():
                    self.status, self.board = None, None
                    self.heading.value = f"<b>{self.run_dir}</b>: waiting for the search to start"
                    self.table.value = board_html(None, "")
                    self.insight.update(self.run_dir, None)
                    return None
                meta = run.meta()
                self.status = liveness.status(run, meta)  # "interrupted" once its search is gone
                self.objective = meta["objective"]["name"]
                self.board = leaderboard(run.path)
                self._update_heading()
                self._update_choices()
                self.table.value = board_html(self.board, self.objective, self.selected_trial)
                self._update_curves(run)
                self.insight.update(self.run_dir, self.board, self.status, self.trial.value)
                if self.notice.kind == "error":  # the problem has gone
                    self.notice.clear()
            except Exception as exc:  # a broken run directory is shown, not raised in a thread
                self.notice.show(f"Cannot read the run directory {self.run_dir}: {describe(exc)}", "error")
                return None
            return self.board

    def _update_heading(self) -> None:
        text = f"<b>{self.run_dir}</b> · {self.status} · {_counts(self.board)}"
        completed = self.board[self.board["status"].isin(WITH_MODEL)]
        if not completed.empty and self.objective in completed:
            best = completed.iloc[0]
            text += f" · best {self.objective} {best[self.objective]:.4g} (trial {best['trial']})"
        chosen = self.board[self.board["trial"] == ENSEMBLE]
        if not chosen.empty and self.objective in chosen:
            text += f" · ensemble {chosen.iloc[0][self.objective]:.4g}"
        self.heading.value = text

    def _update_choices(self) -> None:
        choices = [("best", None)]
        for row in self.board.to_dict("records"):
            score = row.get(self.objective)
            label = ENSEMBLE if row["trial"] == ENSEMBLE else f"trial {row['trial']} · {row['architecture']} · {row['status']}"
            if score is not None and score == score:  # not NaN
                label += f" · {self.objective} {score:.4g}"
            choices.append((label, str(row["trial"])))
        if choices != list(self.trial.options):
            chosen = self.trial.value
            self._updating = True
            try:
                self.trial.options = choices
                self.trial.value = chosen if chosen in {value for _, value in choices} else None
            finally:
                self._updating = False

    def _update_curves(self, run: RunDir) -> None:
        trial_id = self.selected_trial
        record = run.trial_record(trial_id) if trial_id is not None else {}
        history = record.get("history") or {}
        key = (trial_id, record.get("status"), max((len(v) for v in history.values()), default=0))
        if key == self._curves_key:
            return
        self._curves_key = key
        if not history:
            self.curves.layout.display = "none"
            return
        title = f"trial {trial_id} · {record.get('architecture') or ''} · {record.get('status') or ''}"
        self.curves.value = curves_png(history, title)
        self.curves.layout.display = None

    def _on_select(self, change) -> None:
        if not self._updating:
            self.refresh()

    # -- live updates --------------------------------------------------------
    def watch(self, until=None) -> None:
        """Re-read the run directory every ``interval`` seconds until the run is no longer
        running, or, given ``until`` (a function), until it returns True."""
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop_watching.clear()
        self._watcher = threading.Thread(target=self._watch, args=(until,), name="automodel-leaderboard", daemon=True)
        self._watcher.start()

    def _watch(self, until) -> None:
        while not self._stop_watching.wait(self.interval):
            self.refresh()
            if until() if until is not None else self.status not in (None, "running"):
                return

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def unwatch(self) -> None:
        self._stop_watching.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        self._watcher = None

    def close(self):
        self.unwatch()
        self.insight.close()
        super().close()
