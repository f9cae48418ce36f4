"""How the chosen model does on the held-out test split: the numbers behind its diagnostic plots.

``classification`` and ``regression`` take arrays (true values and the model's
outputs) and return plain, JSON-ready dicts, scored by scikit-learn. A search
writes the chosen model's diagnostics to ``RUN/diagnostics.json`` when it ends
(``SearchResult.diagnostics(save=True)``), so the panel, the report and
``figures.diagnostic_figures`` show them without loading the model or TensorFlow.
Image generation has none: its sample grid (``sample_grid``) is what to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..runs.leaderboard import WITH_MODEL, leaderboard
from ..runs.rundir import RunDir, read_json, write_json
from .search import run_of

DIAGNOSTICS = "diagnostics.json"
SAMPLE_GRID = "samples.png"  # what a generation trial rewrites at each better epoch (engine/generation.py)
MISTAKES_SHOWN = 8


def classification(y_true, probabilities, classes, top: int = MISTAKES_SHOWN) -> dict:
    """Confusion matrix, per-class precision/recall/F1, accuracy and the ``top`` most confident mistakes.

    ``y_true`` holds labels of ``classes`` (as the data gave them); ``probabilities``
    has one column per class, in the order of ``classes``. A mistake's ``index``
    is its row in ``y_true``.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    classes = list(classes)
    probabilities = np.asarray(probabilities, dtype=float)
    true = _class_indices(y_true, classes)
    if probabilities.ndim != 2 or probabilities.shape != (len(true), len(classes)):
        raise DataError(f"probabilities have shape {probabilities.shape}; expected ({len(true)}, {len(classes)}): "
                        "one row per sample and one column per class. Pass the model's predict_proba output.")
    predicted = probabilities.argmax(axis=1)
    indices = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=indices,
                                                                     zero_division=0)
    confidence = probabilities[np.arange(len(true)), predicted]
    wrong = np.flatnonzero(predicted != true)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:top]
    return {
        "kind": "classification",
        "classes": [_plain(c) for c in classes],
        "confusion": confusion_matrix(true, predicted, labels=indices).tolist(),
        "report": {str(c): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                   for c, p, r, f, s in zip(classes, precision, recall, f1, support)},
        "accuracy": float(accuracy_score(true, predicted)),
        "mistakes": [{"index": int(i), "true": _plain(classes[true[i]]), "predicted": _plain(classes[predicted[i]]),
                      "confidence": float(confidence[i])} for i in wrong],
    }


def _class_indices(y_true, classes: list) -> np.ndarray:
    """Each label's position in ``classes``; a label the model does not know is a ``DataError``."""
    position = {_plain(c): i for i, c in enumerate(classes)}
    labels = [_plain(label) for label in np.asarray(y_true).ravel()]
    unknown = sorted({str(label) for label in labels if label not in position})
    if unknown:
        raise DataError(f"y holds labels the model was not trained on: {', '.join(unknown[:5])}. "
                        f"Its classes are {', '.join(map(str, classes))}.")
    return np.array([position[label] for label in labels], dtype=int)


def _plain(value):
    """A label as JSON holds it (numpy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def regression(y_true, y_pred) -> dict:
    """True and predicted values, residuals (true - predicted), RMSE, MAE and R^2 (scikit-learn's).

    Multi-step forecasts are flattened: every step of every sample is one point.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    true = np.asarray(y_true, dtype=float).ravel()
    predicted = np.asarray(y_pred, dtype=float).ravel()
    if true.shape != predicted.shape:
        raise DataError(f"y has {true.size} values but the predictions {predicted.size}. "
                        "Pass the predictions of the same samples.")
    return {
        "kind": "regression",
        "true": true.tolist(),
        "predicted": predicted.tolist(),
        "residuals": (true - predicted).tolist(),
        "rmse": float(np.sqrt(mean_squared_error(true, predicted))),
        "mae": float(mean_absolute_error(true, predicted)),
        "r2": float(r2_score(true, predicted)) if true.size > 1 else float("nan"),
    }


def write(run_dir, diagnostics: dict) -> Path:
    """Store ``diagnostics`` as ``RUN/diagnostics.json`` (atomically) and return its path."""
    path = RunDir(run_dir).path / DIAGNOSTICS
    write_json(path, diagnostics)
    return path


def read(run_dir) -> dict | None:
    """``RUN/diagnostics.json``: the diagnostics, with ``model`` (which model) and ``split``; None if absent."""
    path = RunDir(run_dir).path / DIAGNOSTICS
    return read_json(path) if path.is_file() else None


def describe(found: dict) -> str:
    """One sentence on which model was diagnosed, on which split, and its headline score."""
    source = found.get("model") or {}
    if source.get("members"):
        which = "the ensemble of trials " + ", ".join(str(member["trial"]) for member in source["members"])
    else:
        refit = " refit on training and validation data" if source.get("refit") else ""
        which = f"trial {source.get('trial', '?')}{refit}"
    if found.get("kind") == "classification":
        score = f"accuracy {found['accuracy']:.4g}"
    else:
        score = ", ".join(f"{name} {found[name]:.4g}" for name in ("rmse", "mae", "r2") if name in found)
    return f"The chosen model ({which}) on the held-out {found.get('split', 'test')} split: {score}."


def sample_grid(run_dir, trial_id: str | None = None) -> Path | None:
    """The sample grid of a generation trial (default: the best trial, else the one training now).

    Each trial rewrites ``trial_*/samples.png`` at every epoch that improves its
    distance, so the file of a running trial follows its training. None when
    there is no grid yet.
    """
    run = run_of(run_dir)
    if trial_id is None:
        board = leaderboard(run.path)
        trained = board[board["status"].isin(WITH_MODEL)]
        running = set(board.loc[board["status"] == "running", "trial"])
        newest_running = [t for t in reversed(run.trial_ids()) if t in running]
        for candidates in (list(trained["trial"]), newest_running):
            paths = [run.trial_dir(str(t)) / SAMPLE_GRID for t in candidates]
            found = [path for path in paths if path.is_file()]
            if found:
                return found[0]
        return None
    path = run.trial_dir(str(trial_id)) / SAMPLE_GRID
    return path if path.is_file() else None
