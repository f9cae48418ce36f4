"""ipywidgets front ends; they use only the public API of automodel.

``SearchApp()`` is the point-and-click search panel; ``Leaderboard(run_dir)``
is a live view of any run directory. Neither imports TensorFlow until a search
or an export starts.
"""

from .app import SearchApp
from .board import Leaderboard

__all__ = ["Leaderboard", "SearchApp"]
