"""What a cross-validated trial's folds add up to: one mean curve, and why a fold stopped early.

The objective of a cross-validated trial is the best epoch of its folds' mean
curve, one epoch for all folds as the refit trains one (``tuners.py``); each
fold's own best epoch would pick its luckiest. Nothing here imports TensorFlow.
"""

from __future__ import annotations


def mean_curves(histories: list[dict]) -> dict:
    """Per epoch, the mean over the folds, up to the epoch every fold reached (folds stop at different epochs)."""
    names = dict.fromkeys(name for history in histories for name in history)
    curves = {}
    for name in names:
        series = [history[name] for history in histories if history.get(name)]
        length = min((len(values) for values in series), default=0)
        curves[name] = [sum(values[i] for values in series) / len(series) for i in range(length)]
    return curves


def capped(cap: float, folds: int | None, trained: int | None = None) -> str:
    """Why a trial stopped at its time cap: a split trial, each fold at its share, or too slow for every fold."""
    if folds is None:
        return f"trained {cap:.0f}s, the most one trial may take of the time budget"
    if trained is not None:
        return f"trained {trained} of {folds} folds in the {cap:.0f}s one trial may take of the time budget"
    return (f"each of its {folds} folds trained at most its share of the {cap:.0f}s "
            "one trial may take of the time budget")
