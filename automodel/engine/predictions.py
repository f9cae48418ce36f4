"""Each trial's predictions on the data that scored it, kept for ensemble selection.

A trial that trains on one split predicts the validation split with its
best-epoch weights; a cross-validated trial predicts each fold's held-out part
with that fold's best weights, and once every fold has trained the parts are put
together as out-of-fold predictions over the training and validation data. So
every trial is judged on samples it never trained on, and all trials on the same
samples, in the order of ``validation_targets.npy``::

    validation_targets.npy                       the targets the predictions are scored against
    trial_*/validation_predictions.npy           one row per target
    trial_*/fold_predictions_{k}.npy             a cross-validated trial's folds, until all are done

Files are written atomically, so a search stopped midway leaves whole files.
"""

from __future__ import annotations

import numpy as np

from ..runs.rundir import RunDir, save_array

TARGETS = "validation_targets.npy"
PREDICTIONS = "validation_predictions.npy"


def save_targets(run: RunDir, y) -> None:
    save_array(run.path / TARGETS, np.asarray(y))


def targets(run: RunDir) -> np.ndarray | None:
    path = run.path / TARGETS
    return np.load(path, allow_pickle=False) if path.is_file() else None


def record(run: RunDir, trial_id: str, model, checkpoint, validation_data, batch_size: int, fold: int | None) -> None:
    """Predict ``validation_data`` with the best-epoch weights in ``checkpoint`` and keep the result.

    ``fold`` is the fold's number for a cross-validated trial, None for one split.
    """
    if not checkpoint.is_file():
        return  # no epoch finished
    from .hypermodel import load_weights_only

    load_weights_only(model, checkpoint)
    x = validation_data[0] if isinstance(validation_data, (tuple, list)) else validation_data
    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float32")
    name = PREDICTIONS if fold is None else f"fold_predictions_{fold}.npy"
    save_array(run.trial_dir(trial_id) / name, outputs)


def assemble_folds(run: RunDir, trial_id: str, held_out: list[np.ndarray]) -> None:
    """Put a cross-validated trial's fold predictions together, in the order of the targets."""
    folder = run.trial_dir(trial_id)
    parts = [folder / f"fold_predictions_{k}.npy" for k in range(len(held_out))]
    if not all(part.is_file() for part in parts):
        return
    folds = [np.load(part, allow_pickle=False) for part in parts]
    combined = np.empty((sum(len(rows) for rows in held_out), *folds[0].shape[1:]), dtype=folds[0].dtype)
    for rows, outputs in zip(held_out, folds):
        combined[rows] = outputs
    save_array(folder / PREDICTIONS, combined)
    for part in parts:
        part.unlink()


def load(run: RunDir, trial_id: str) -> np.ndarray | None:
    """The trial's predictions, one row per target; None if it has none (failed, stopped, or before this)."""
    path = run.trial_dir(trial_id) / PREDICTIONS
    return np.load(path, allow_pickle=False) if path.is_file() else None
