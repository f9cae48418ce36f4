"""How trials are compared: one validation split, or k-fold cross-validation on small data.

With 60 training series, a 15 % validation split holds 9: one lucky sample
moves the objective by 0.11 and picks the wrong trial. Below ``CV_MAX_SAMPLES``
training and validation samples the search therefore scores each trial by
``FOLDS``-fold cross-validation over both splits (stratified for classification),
as Auto-sklearn and AutoGluon do on small data: a trial trains once per fold and
its objective is the best epoch of the folds' mean curve, one epoch for all folds
as the refit trains one (each fold's own best epoch would pick its luckiest). Folds are a successive
halving of their own: after each fold, a trial whose mean so far is below the
median of the other trials' after as many folds stops there (``pruned``).

Cross-validation costs a trial ``FOLDS`` trainings, so ``validation="auto"``
keeps one split when a time budget under ``CV_MIN_BUDGET`` seconds leaves room
for too few of them; at 2 minutes, where 2 or 3 trials fit, it scored at least
as well on the test sets of the quality benchmark's sequence sets as one split
(a trial too slow for every fold is compared on the folds it trained:
``runs/ranking.py``). ``"cv"`` and ``"split"`` choose outright. Data streamed from an image folder, a given
``validation_data`` and image generation always use the split. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import numpy as np

from ..errors import SearchError
from ..settings import VALIDATIONS as METHODS

FOLDS = 5
CV_MAX_SAMPLES = 300
CV_MIN_BUDGET = 120.0


def choose(method: str, samples: int, budget_seconds: float | None, why_not_folds: str | None) -> dict:
    """``{"method": "split"}`` or ``{"method": "cv", "folds": k}`` for this search.

    ``why_not_folds`` says why this data cannot be cross-validated (None if it can).
    """
    if method not in METHODS:
        raise SearchError(f"validation={method!r}: choose one of {', '.join(map(repr, METHODS))}.")
    if method == "cv":
        if why_not_folds:
            raise SearchError(f"validation='cv' is not possible here: {why_not_folds}. Use validation='split'.")
        return {"method": "cv", "folds": FOLDS}
    small = samples <= CV_MAX_SAMPLES and (budget_seconds is None or budget_seconds >= CV_MIN_BUDGET)
    if method == "auto" and small and not why_not_folds:
        return {"method": "cv", "folds": FOLDS}
    return {"method": "split"}


def fold_indices(y: np.ndarray | None, folds: int, seed: int, stratify: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, validation)`` index pairs of the folds, the same for the same data and seed."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if stratify:
        folds = min(folds, int(np.bincount(y).min()))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n), y))


def describe(validation: dict) -> str:
    """How the leaderboard's validation scores were measured, in words."""
    if validation.get("method") == "cv":
        return f"{validation['folds']}-fold cross-validation on the training and validation data"
    return "one validation split"
