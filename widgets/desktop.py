"""``DesktopApp``: what ``automodel ui`` shows, the search panel and the runs in tabs.

Everything sits under one runs folder: the panel searches into it, and the Runs
tab lists what is there (from this app, ``automodel search`` or workers) with
each run's leaderboard, insight and diagnostics tabs, and export.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

from .app import SearchApp
from .runs import RunBrowser


class DesktopApp(widgets.VBox):
    """``SearchApp`` searching into ``directory``, and a ``RunBrowser`` over it.

    ``browse_from`` is where the file chooser for data starts; ``root`` is the
    one folder every path from the page must lead into (``automodel ui`` passes
    its ``--root``; None: anywhere); ``settings`` preset the search form as for
    ``SearchApp``.
    """

    def __init__(self, directory, browse_from=None, root=None, **settings):
        directory = Path(directory)
        self.search = SearchApp(directory=str(directory), browse_from=browse_from, root=root, **settings)
        self.runs = RunBrowser(directory, root=root)
        self.tabs = widgets.Tab(children=[self.search, self.runs], titles=("New search", "Runs"))
        self.tabs.add_class("automodel-tabs")
        self.tabs.observe(self._tab_changed, "selected_index")
        super().__init__([self.tabs])
        self.add_class("automodel-desktop")

    def _tab_changed(self, change) -> None:
        if change["new"] == 1:
            self.runs.refresh()
