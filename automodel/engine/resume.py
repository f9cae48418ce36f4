"""Resuming an interrupted trial from its last epoch, not from scratch.

KerasTuner already re-queues the trials that were running when a search process
died, and hands a restarted worker its unfinished trial back. Each trial trains
with Keras' own ``BackupAndRestore`` in its trial directory, so the re-run
continues with the weights, optimizer state and epoch number of the last
finished epoch. What neither carries over is done here, so that a resumed trial
is recorded and ranked as if it had never stopped:

- the trial record's per-epoch history continues, cut back to the epoch the
  backup holds (the record is written before the backup, so it is never behind);
- the best-epoch checkpoint and early stopping remember the epochs before the
  interruption;
- the history handed to KerasTuner for scoring covers every epoch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import keras
from keras_tuner.src.engine import tuner_utils

from ..runs.leaderboard import best_epoch

BACKUP_DIR = "backup"


def backup_callback(trial_dir) -> keras.callbacks.BackupAndRestore:
    """Keras' backup of the training state, kept in the trial directory until the trial ends.

    Two generations are kept, so a process killed while writing one resumes from
    the other.
    """
    return keras.callbacks.BackupAndRestore(str(Path(trial_dir) / BACKUP_DIR), double_checkpoint=True)


def whole_checkpoints(callbacks) -> None:
    """KerasTuner's best-epoch checkpoint written whole: to a temporary file, then renamed over the last one.

    ``save_weights`` writes in place, so a process killed meanwhile would leave a
    truncated file that the resumed trial, its predictions and its result cannot open.
    """
    for callback in callbacks:
        if isinstance(callback, tuner_utils.SaveBestEpoch):
            callback._save_model = _whole_save(callback)


def _whole_save(callback):
    def save() -> None:
        final = Path(callback.filepath)
        partial = final.with_name(f".partial-{os.getpid()}.{final.name}")  # Keras wants the .weights.h5 ending
        callback.model.save_weights(str(partial))
        os.replace(partial, final)
        for left in final.parent.glob(f".partial-*.{final.name}"):  # of a process killed mid-write
            left.unlink(missing_ok=True)

    return save


def discard_backup(trial_dir) -> None:
    """Remove a backup that must not be restored (a fresh trial, or one that failed)."""
    shutil.rmtree(Path(trial_dir) / BACKUP_DIR, ignore_errors=True)


def continue_history(record: dict, first_epoch: int) -> dict:
    """Cut the record's history back to the epochs before ``first_epoch`` and return it.

    ``record["initial_epoch"]`` is the epoch the trial first started at (Hyperband
    continues trials at later epochs), so the history holds
    ``first_epoch - initial_epoch`` epochs when training resumes at ``first_epoch``.
    """
    initial = record.setdefault("initial_epoch", first_epoch)
    kept = max(0, first_epoch - initial)
    history = {name: values[:kept] for name, values in record.get("history", {}).items()}
    record["history"] = history
    record["epochs"] = kept
    return history


def carry_over(history: dict, objective, callbacks) -> None:
    """Tell the best-epoch checkpoint and early stopping about the epochs already trained."""
    series = history.get(objective.name, [])
    best_index = best_epoch(series, objective.direction)
    if best_index is None:
        return
    best = series[best_index]
    for callback in callbacks:
        if isinstance(callback, tuner_utils.SaveBestEpoch):
            callback.best_value = best
        elif isinstance(callback, keras.callbacks.EarlyStopping):
            callback.best = best
            callback.wait = len(series) - 1 - best_index


def whole_history(results, record: dict):
    """Make a resumed trial's ``History`` span all of its epochs, for KerasTuner's scoring."""
    history = record.get("history") or {}
    if isinstance(results, keras.callbacks.History) and history:
        if len(next(iter(history.values()))) > len(next(iter(results.history.values()), [])):
            results.history = {name: list(values) for name, values in history.items()}
    return results
