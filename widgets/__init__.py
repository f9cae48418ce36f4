"""ipywidgets front ends; they use only the public API of automodel.

``SearchApp()`` is the point-and-click search panel; ``Leaderboard(run_dir)``
is a live view of any run directory, with ``Insight(run_dir)`` (its search
insight and diagnostics tabs) below its table; ``DesktopApp(directory)`` is what
``automodel ui`` serves: the panel and the runs under one folder. None imports
TensorFlow until a search or an export starts.
"""

from .app import SearchApp
from .board import Leaderboard
from .desktop import DesktopApp
from .insight import Insight
from .runs import RunBrowser

__all__ = ["DesktopApp", "Insight", "Leaderboard", "RunBrowser", "SearchApp"]
