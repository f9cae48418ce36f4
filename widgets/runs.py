"""``RunBrowser``: the runs under one folder, each with its leaderboard and export.

The desktop app shows it beside the search panel, so that a search started
earlier (from the panel, ``automodel search`` or distributed workers) can be
looked at, stopped and exported without a notebook. A run is a sub-folder
holding a ``run.json``; the list is read again on Refresh and each time the tab
opens. Stop asks through the run directory (``SearchResult.request_stop``), so it
reaches a search in any process: one whose page was closed, a terminal's, workers.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

import automodel
from automodel import AutomodelError
from automodel.runs import liveness
from automodel.runs.rundir import RunDir

from .board import Leaderboard
from .export_panel import ExportPanel
from .notice import Notice
from .rooted import Root


def find_runs(directory: Path, root: Root = Root()) -> list[RunDir]:
    """The run directories directly under ``directory`` that lead inside ``root``, the most recently changed first."""
    runs = [RunDir(path.parent) for path in Path(directory).glob("*/run.json") if root.holds(path)]
    return sorted(runs, key=lambda run: run.run_file.stat().st_mtime, reverse=True)


def _label(run: RunDir) -> str:
    meta = run.meta()
    return f"{run.path.name} · {meta.get('task', '?')} · {liveness.status(run, meta) or '?'}"


class RunBrowser(widgets.VBox):
    """A run chooser over ``directory``, the chosen run's live leaderboard, Stop, and export.

    With a ``root``, runs that lead outside it (a link in ``directory``) are not
    listed, and exports go only inside it.
    """

    def __init__(self, directory, root=None, **kwargs):
        self.directory = Path(directory)
        self.root = Root(root)
        self.runs = widgets.Dropdown(description="Run", layout={"width": "520px"})
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="warning", disabled=True)
        self.notice = Notice()
        self.board = Leaderboard(watch=False)
        self.exporter = ExportPanel(root=root)
        self.empty = widgets.HTML()
        for widget, name in ((self.runs, "runs"), (self.refresh_button, "refresh"), (self.stop_button, "stop-run"),
                             (self.empty, "no-runs")):
            widget.add_class(f"automodel-{name}")
        super().__init__(
            [widgets.HBox([self.runs, self.refresh_button, self.stop_button]), self.empty, self.notice, self.board,
             self.exporter],
            **kwargs,
        )
        self.add_class("automodel-run-browser")
        self.runs.observe(self._on_choice, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.stop_button.on_click(lambda _: self.stop())
        self.exporter.button.on_click(lambda _: self.export())
        self.refresh()

    def refresh(self) -> None:
        """Read the list of runs again, keeping the chosen one if it is still there."""
        found = find_runs(self.directory, self.root)
        self.empty.value = "" if found else f"No runs in {self.directory.resolve()} yet: start a search."
        chosen = self.runs.value
        paths = [str(run.path) for run in found]
        self.runs.unobserve(self._on_choice, "value")  # new options pass through other values: show once
        try:
            self.runs.options = [(_label(run), str(run.path)) for run in found]
            self.runs.value = chosen if chosen in paths else (paths[0] if paths else None)
        finally:
            self.runs.observe(self._on_choice, "value")
        self._show_chosen()

    def _on_choice(self, change) -> None:
        self._show_chosen()

    def _show_chosen(self) -> None:
        if self.runs.value is None:
            self.board.unwatch()
            self.exporter.button.disabled = self.stop_button.disabled = True
            return
        if self.board.run_dir != Path(self.runs.value):
            self.notice.clear()
            self.board.show(self.runs.value, watch=True)
        else:
            self.board.refresh()
        self.exporter.button.disabled = not self.board.has_model
        self.stop_button.disabled = self.board.status != "running"

    def stop(self) -> None:
        """Ask the chosen run's search to stop after its current epoch."""
        if self.board.run_dir is None:
            return
        try:
            automodel.open_run(self.board.run_dir).request_stop()
        except AutomodelError as exc:
            self.notice.error(exc)
        else:
            self.notice.show("Asked the search to stop after its current epoch; finished trials are kept.")
        self.stop_button.disabled = True

    def export(self):
        """Export the trial chosen in the leaderboard (default: the best) of the chosen run."""
        return self.exporter.export_chosen(self.board)
