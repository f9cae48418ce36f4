"""``Insight``: what the search learned and how its model does, in two tabs beside the leaderboard.

"Search insight" holds the objective of every trial over time with the best so
far, parallel coordinates, hyperparameter importance, the best trials' learning
curves overlaid and the per-architecture figure and table; "Diagnostics" holds
the chosen model's confusion matrix, per-class precision, recall and F1 and most
confident mistakes (or predicted against true values and the residuals), and a
generation run's sample grid, which its trial rewrites while it trains.

Everything comes from the run directory (``automodel.insight``), as the
leaderboard's table does, and the leaderboard hands each re-read (a poll or a
trial event) to ``update``. Matplotlib takes 50-100 ms a figure, so a tab is
drawn only when it is on show and what it shows has changed (each trial's
status and epochs; the diagnostics file), at most once per ``interval``, in a
thread of its own: neither the notebook nor the search waits for the plots, and
matplotlib and scikit-learn load on the first draw, not when the panel opens.
"""

from __future__ import annotations

import threading
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from automodel.runs import liveness
from automodel.runs.leaderboard import leaderboard
from automodel.runs.rundir import RunDir

from .notice import Notice, describe
from .table import STYLE

SEARCH, DIAGNOSTICS = "search", "diagnostics"
TABS = (SEARCH, DIAGNOSTICS)
TITLES = ("Search insight", "Diagnostics")
FIGURE_WIDTH = "640px"


def trials_key(board) -> tuple:
    """What the plots of a run depend on: each trial's id, status and epochs (so a running trial's epochs count)."""
    if board is None or board.empty:
        return ()
    return tuple(sorted(board[["trial", "status", "epochs"]].astype(str).itertuples(index=False, name=None)))


def _written(path: Path) -> int | None:
    """When ``path`` was last written (None if it is not there)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def frame_html(frame, css: str) -> str:
    """A small DataFrame as the panel's table style, numbers to 4 significant digits."""
    return STYLE + frame.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.4g}",
                                 classes=["automodel-table", css])


class FigureGrid(widgets.Box):
    """PNG figures side by side, one ``Image`` per name (CSS class ``PREFIX-NAME``), kept across redraws,
    between the widgets ``before`` and ``after``."""

    def __init__(self, prefix: str, before=(), after=()):
        super().__init__(layout={"flex_flow": "row wrap", "align_items": "flex-start"})
        self.prefix = prefix
        self.images: dict[str, widgets.Image] = {}
        self.before, self.after = list(before), list(after)  # widgets around the figures (tables)

    def show(self, pngs: dict[str, bytes]) -> None:
        """Show these figures in this order; the others leave the grid."""
        for name, data in pngs.items():
            image = self.images.get(name)
            if image is None:
                image = widgets.Image(format="png", layout={"max_width": FIGURE_WIDTH, "margin": "0 8px 8px 0"})
                image.add_class(f"{self.prefix}-{name.replace('_', '-')}")
                self.images[name] = image
            if image.value != data:
                image.value = data
        self.children = [*self.before, *(self.images[name] for name in pngs), *self.after]

    @property
    def shown(self) -> dict[str, bytes]:
        """The PNG of each figure on show, by name."""
        return {name: bytes(image.value) for name, image in self.images.items() if image in self.children}


class Insight(widgets.Tab):
    """The search insight and the diagnostics of ``run_dir``; ``update`` keeps them current."""

    def __init__(self, run_dir=None, interval: float = 2.0, **kwargs):
        margin = {"margin": "0 16px 8px 0"}
        self.search_note, self.summary = widgets.HTML(), widgets.HTML(layout=margin)
        self.search_figures = FigureGrid("automodel-insight", after=[self.summary])
        self.diagnostics_note, self.scores = widgets.HTML(), widgets.HTML(layout=margin)
        self.diagnostic_figures = FigureGrid("automodel-diagnostics", before=[self.scores])
        self.notice = Notice()
        for widget, name in ((self.search_note, "insight-note"), (self.summary, "insight-summary"),
                             (self.diagnostics_note, "diagnostics-note"), (self.scores, "diagnostics-scores")):
            widget.add_class(f"automodel-{name}")
        search = widgets.VBox([self.notice, self.search_note, self.search_figures])  # the notice names its tab
        diagnostics = widgets.VBox([self.notice, self.diagnostics_note, self.diagnostic_figures])
        search.add_class("automodel-insight-search")
        diagnostics.add_class("automodel-diagnostics")
        super().__init__(children=[search, diagnostics], titles=TITLES, **kwargs)
        self.add_class("automodel-insight")
        self.layout.display = "none"  # until there is a run to show
        self.interval = interval
        self._state: dict = {"run_dir": None, "board": None, "status": None, "trial": None}
        self._drawn: dict[str, tuple | None] = dict.fromkeys(TABS)  # the key each tab was last drawn for
        self._lock = threading.Lock()  # guards _state, _pending and _drawer
        self._drawing = threading.Lock()  # one draw at a time
        self._pending = False
        self._drawer: threading.Thread | None = None
        self._closed = threading.Event()
        self.observe(lambda change: self._schedule(), "selected_index")  # a tab opened is drawn then
        if run_dir is not None:
            self.update(run_dir)

    # -- what to show ----------------------------------------------------------
    def update(self, run_dir, board=None, status=None, trial: str | None = None) -> None:
        """The run (its leaderboard DataFrame and status, as just read) to show; drawn in the background.

        ``trial`` is the trial chosen in the leaderboard (None: the best), whose
        sample grid a generation run shows. Without a ``board`` it is read here.
        """
        with self._lock:
            self._state = {"run_dir": Path(run_dir), "board": board, "status": status, "trial": trial,
                           "read": board is not None}
        self.layout.display = None
        self._schedule()

    @property
    def tab(self) -> str:
        """The tab on show: ``"search"`` or ``"diagnostics"``."""
        return TABS[self.selected_index or 0]

    def draw(self) -> list[str]:
        """Draw the tab on show if what it shows changed since its last draw; the tabs drawn ([] or [tab])."""
        with self._drawing:
            with self._lock:
                state = dict(self._state)
            if state["run_dir"] is None:
                return []
            tab = self.tab
            try:
                if not state.get("read"):
                    state.update(self._read(state["run_dir"]))
                key = self._key(tab, state)
                if key == self._drawn[tab]:
                    return []
                self._drawn[tab] = key  # a failed draw is not retried until something changes
                (self._draw_search if tab == SEARCH else self._draw_diagnostics)(state)
                if self.notice.kind == "error":
                    self.notice.clear()
            except Exception as exc:  # the display must never fail a search or a poll
                self.notice.show(f"Cannot draw the {TITLES[TABS.index(tab)].lower()}: {describe(exc)}", "error")
            return [tab]

    @staticmethod
    def _read(run_dir: Path) -> dict:
        """The leaderboard and status, as ``Leaderboard.refresh`` reads them, for an ``Insight`` on its own."""
        run = RunDir(run_dir)
        if not run.is_run():
            return {"board": None, "status": None}
        return {"board": leaderboard(run.path), "status": liveness.status(run, run.meta())}

    @staticmethod
    def _key(tab: str, state: dict) -> tuple:
        """What ``tab`` shows depends on; run.json's time tells an overwritten run from the one it replaced."""
        key = (str(state["run_dir"]), _written(RunDir(state["run_dir"]).run_file), trials_key(state["board"]))
        if tab == SEARCH:
            return key
        from automodel.insight.diagnostics import DIAGNOSTICS

        return (*key, state["status"], state["trial"], _written(state["run_dir"] / DIAGNOSTICS))

    # -- the two tabs ------------------------------------------------------------
    def _draw_search(self, state: dict) -> None:
        run_dir = state["run_dir"]
        if not trials_key(state["board"]):
            self.search_figures.show({})
            self.summary.value = ""
            self.search_note.value = "The plots fill in as the search's trials end."
            return
        from automodel.insight import figures, search

        drawn = figures.search_figures(run_dir)
        pngs = {name: figures.png(figure) for name, figure in drawn.items()}
        missing = []
        if "objective" not in drawn:
            missing.append("the objective over time appears once a trial has ended")
        if "importance" not in drawn:
            needed = search.MIN_TRIALS_FOR_IMPORTANCE
            missing.append(f"hyperparameter importance needs {needed} trials with an objective")
        # the note and the table are set before the figures, so a reader who sees the figures finds them soon after
        self.search_note.value = ("Not drawn yet: " + "; ".join(missing) + ".") if missing else ""
        summary = search.architecture_summary(run_dir)
        self.summary.value = "<b>Per architecture</b>" + frame_html(summary, "automodel-insight-architectures")
        self.search_figures.show(pngs)

    def _draw_diagnostics(self, state: dict) -> None:
        from automodel.insight import diagnostics

        run_dir, status = state["run_dir"], state["status"]
        meta = RunDir(run_dir).meta() if state["board"] is not None else {}
        generation = (meta.get("spec") or {}).get("target") == "generation"
        pngs, notes = self._sample_grid(run_dir, state["trial"], meta) if generation else ({}, [])
        found = diagnostics.read(run_dir)
        if found is not None:
            from automodel.insight import figures

            pngs.update({name: figures.png(figure) for name, figure in figures.diagnostic_figures(run_dir).items()})
            notes.insert(0, diagnostics.describe(found))
        elif generation:
            pass  # its samples are its diagnostics
        elif status == "running":
            notes.append("The chosen model's diagnostics on the test split appear when the search has ended.")
        elif status is not None:
            notes.append("No diagnostics in this run directory: the search writes them at its end when the data "
                         "has a test split.")
        self.diagnostics_note.value = "<br>".join(notes)
        self.scores.value = scores_html(found)
        self.diagnostic_figures.show(pngs)

    @staticmethod
    def _sample_grid(run_dir: Path, trial: str | None, meta: dict) -> tuple[dict, list]:
        """The chosen trial's sample grid (else the best's, else the running one's), which it rewrites as it trains."""
        from automodel.insight import diagnostics

        grid = (trial is not None and diagnostics.sample_grid(run_dir, trial)) or diagnostics.sample_grid(run_dir)
        if grid is None:
            return {}, ["The generated samples appear once a trial has trained an epoch."]
        name = meta["objective"]["name"]
        return {"samples": grid.read_bytes()}, [
            f"Generated samples of {grid.parent.name.replace('_', ' ')}, drawn again at each epoch that improves "
            f"its {name}."]

    # -- drawing in the background ---------------------------------------------
    def _schedule(self) -> None:
        with self._lock:
            self._pending = True
            if self._drawer is None and not self._closed.is_set():
                self._drawer = threading.Thread(target=self._drain, name="automodel-insight", daemon=True)
                self._drawer.start()

    def _drain(self) -> None:
        """Draw until nothing is pending; after a draw, wait ``interval`` so that epochs in a row draw once."""
        while True:
            with self._lock:
                if not self._pending or self._closed.is_set():
                    self._drawer = None
                    return
                self._pending = False
            if self.draw():
                self._closed.wait(self.interval)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background drawing has caught up (for scripts and tests); True if it has."""
        with self._lock:
            drawer = self._drawer
        if drawer is not None:
            drawer.join(timeout)
            return not drawer.is_alive()
        return True

    def close(self):
        self._closed.set()
        super().close()


def scores_html(found: dict | None) -> str:
    """Per-class precision, recall, F1 and support, or the regression scores, as a table."""
    if not found:
        return ""
    if found.get("kind") == "classification":
        frame = pd.DataFrame.from_dict(found["report"], orient="index").reset_index(names="class")
        return "<b>Per class</b>" + frame_html(frame, "automodel-diagnostics-classes")
    names = ["rmse", "mae", "r2"]
    frame = pd.DataFrame({"metric": names, "value": [found.get(name) for name in names]})
    return frame_html(frame, "automodel-diagnostics-regression-scores")
