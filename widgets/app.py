"""``SearchApp``: point-and-click model search in a notebook.

The panel is the settings form, Start and Stop, a progress line, the live
leaderboard with learning curves and the search insight and diagnostics tabs
(``insight.Insight``), and export. Start runs ``automodel.search``
in a background thread (TensorFlow loads then, not when the panel is shown),
with the progress view as its reporter and Stop wired to its ``stop_event``, so
a stop ends the search after the current epoch and keeps what finished. The
leaderboard refreshes on each trial event and also polls the run directory
while the search runs. Every
error (bad settings, bad data, a broken plugin, a failed search) ends up in the
panel's notice line.
"""

from __future__ import annotations

import threading
from pathlib import Path

import ipywidgets as widgets

import automodel
from automodel import AutomodelError
from automodel.runs.leaderboard import ENDED
from automodel.startup import load_tensorflow

from .board import Leaderboard
from .export_panel import ExportPanel
from .form import SearchForm
from .notice import Notice
from .progress import SearchProgress
from .worker import Job


class SearchApp(widgets.VBox):
    """One panel for a whole search; ``data`` adds notebook objects as data choices.

    ``data`` is a dict of named data (``{"mine": (x, y)}``) or one object;
    ``settings`` preset the form: ``task``, ``dataset``, ``architectures``,
    ``tuner``, ``max_trials``, ``epochs``, ``time_budget``, ``directory``, ``name``,
    ``browse_from`` (where the data file browser starts) and ``root`` (the one
    folder the panel's paths may lead into, data, runs and exports: the desktop
    app's ``--root``; default: anywhere).
    """

    def __init__(self, data=None, **settings):
        self.notice = Notice()
        self.start_button = widgets.Button(description="Start", icon="play", button_style="success")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="warning", disabled=True)
        self.progress = SearchProgress()
        self.board = Leaderboard(watch=False)
        self.exporter = ExportPanel(root=settings.get("root"))
        self.start_button.add_class("automodel-start")
        self.stop_button.add_class("automodel-stop")
        self.job: Job | None = None
        self.result = None  # the SearchResult of the last search that returned
        self.error: BaseException | None = None  # what ended the last search, if it failed
        self._stop = threading.Event()
        try:
            self.form = SearchForm(data, **settings)
        except AutomodelError as exc:  # e.g. a preset that names no installed architecture
            self.form = None
            self.notice.error(exc)
            self.start_button.disabled = True
        else:
            left_out = automodel.plugin_problems()  # a broken plugin leaves the others usable
            if left_out:
                self.notice.show("Left out: " + "; ".join(map(str, left_out)), "error")
        super().__init__(
            [
                widgets.HTML("<h3 style='margin:4px 0'>automodel · model search</h3>"),
                self.form or widgets.HTML(),
                widgets.HBox([self.start_button, self.stop_button]),
                self.notice,
                self.progress,
                self.board,
                self.exporter,
            ]
        )
        self.add_class("automodel-app")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.exporter.button.on_click(lambda _: self.export())
        self._show_earlier_run()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def _show_earlier_run(self) -> None:
        """A run directory that already holds trials (to be resumed) is shown at once."""
        try:
            run_dir = self.form.run_dir() if self.form else None
        except AutomodelError:
            return
        if run_dir is not None and run_dir.is_dir():
            self.board.show(run_dir)
            self._update_export_button()

    def _set_running(self, running: bool) -> None:
        self.start_button.disabled = running
        self.stop_button.disabled = not running
        if self.form:
            self.form.set_disabled(running)
        self._update_export_button(running)

    def _update_export_button(self, running: bool = False) -> None:
        self.exporter.button.disabled = running or not self.board.has_model

    # -- actions ---------------------------------------------------------------
    def start(self) -> Job | None:
        """Start the search set in the form, in the background; None if the form is wrong."""
        if self.running or self.form is None:
            return None
        try:
            options = self.form.options()
        except AutomodelError as exc:
            self.notice.error(exc)
            return None
        run_dir = Path(options["directory"]) / options["name"]
        self.board.show(run_dir)  # a resumed run's trials show at once
        earlier = None if options["overwrite"] else self.board.board
        done = 0 if earlier is None else int(earlier["status"].isin(ENDED).sum())
        self.progress.begin(options["max_trials"], options["epochs"], done)
        self.result = self.error = None
        self._stop.clear()
        self._set_running(True)
        self.notice.show(f"Searching; the run directory is {run_dir}.")
        self.job = Job(lambda: self._search(options), self._finished, name="automodel-search")
        self.job.start()
        # Trial events refresh the view at once; polling also shows what other
        # processes write (distributed workers report to the run directory).
        self.board.watch(until=lambda: not self.running)
        return self.job

    def _search(self, options: dict):
        load_tensorflow()
        return automodel.search(**options, reporter=self._on_event, stop_event=self._stop)

    def _on_event(self, event: str, **info) -> None:
        try:
            self.progress.handle(event, **info)
            self.board.refresh()
        except Exception as exc:  # the display must never fail a trial
            self.notice.error(exc)

    def _finished(self, error: BaseException | None) -> None:
        self.board.refresh()
        if error is None:
            self.result = self.job.value
            status = self.result.run.meta().get("status", "finished")
            text = "Search finished" if status == "finished" else f"Search {status.replace(': ', ' (', 1)})"
            self.progress.finish(text)
            self.notice.show(f"{text}. Results are in {self.result.path}; export a model below.", "success")
        else:
            self.error = error
            self.progress.finish("Search failed", failed=True)
            self.notice.error(error, self.job.trace)
        self._set_running(False)

    def stop(self) -> None:
        """End the search after the current epoch; finished trials are kept."""
        if self.running:
            self._stop.set()
            self.stop_button.disabled = True
            self.notice.show("Stopping after the current epoch; finished trials are kept.")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the search has ended (for scripts and tests); True if it has."""
        return self.job is None or self.job.join(timeout)

    def export(self) -> Job | None:
        """Export the trial chosen in the leaderboard (default: the best) with the panel's settings."""
        return self.exporter.export_chosen(self.board)
