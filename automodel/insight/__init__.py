"""What a search learned and how its model does: numbers and plots from a run directory.

``search`` reads the trials (objective over time, parallel coordinates,
hyperparameter importance, learning curves, a per-architecture summary);
``diagnostics`` scores the chosen model on the test split (confusion matrix and
mistakes, or residuals) and finds a generation run's sample grid; ``figures``
draws both as matplotlib Figures. Nothing here imports TensorFlow, and matplotlib
and scikit-learn load on first use, so the notebook panel, the desktop app and
the HTML report can use it freely. ``SearchResult.plot_*`` are the same plots.
"""

from . import diagnostics, figures, search

__all__ = ["diagnostics", "figures", "search"]
