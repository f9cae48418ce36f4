"""The trials of a run directory as a pandas DataFrame, best first.

Reads only JSON files (no TensorFlow), so the CLI and the notebook widgets can
show a live, resumed or distributed run cheaply and while it is being written.
"""

from __future__ import annotations

import math
import time

import pandas as pd

from . import liveness, ranking
from .rundir import RunDir

# the ensemble of the trials (ensemble.py) is a row of its own, ranked by its score among them
ENSEMBLE = "ensemble"
STATUS_ORDER = {"completed": 0, ENSEMBLE: 0, "pruned": 1, "running": 2, "interrupted": 2, "failed": 3}
# the statuses of trials that kept a trained model (a pruned trial keeps its best epoch)
WITH_MODEL = ("completed", "pruned")
ENDED = (*WITH_MODEL, "failed")  # trials that ran to their end (the ensemble row is no trial)
FIXED_COLUMNS = ["trial", "architecture", "status"]
# trials equal on the objective are ranked by their validation loss, as the ensemble's selection ranks them
TIE_BREAKER = "val_loss"
TAIL_COLUMNS = ["params", "epochs", "seconds"]


def summary_columns(columns, objective: str) -> list[str]:
    """The columns a ranking needs, in order: who, the objective and other validation metrics, then size and time.

    The full board has a column per hyperparameter of every architecture; the
    terminal and the panel show these unless asked for all.
    """
    metrics = [c for c in columns if c == objective or (c.startswith("val_") and c not in FIXED_COLUMNS)]
    metrics.sort(key=lambda c: c != objective)
    return [c for c in FIXED_COLUMNS + metrics + _tail(folded=True) + ["reason"] if c in columns]


def _tail(folded: bool) -> list[str]:
    """The size and time columns, with ``folds`` (how many a cross-validated trial trained) after ``epochs``."""
    return TAIL_COLUMNS[:2] + ["folds"] + TAIL_COLUMNS[2:] if folded else TAIL_COLUMNS


def searched_hyperparameters(values: dict) -> dict:
    """A trial's hyperparameters without the architecture choice and KerasTuner's own (``tuner/epochs``, ...)."""
    return {k: v for k, v in values.items() if k != "architecture" and not k.startswith("tuner/")}


def _last_value(observations: list) -> float | None:
    if not observations:
        return None
    value = observations[-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def best_epoch(values: list[float], direction: str) -> int | None:
    """Index of the best value (``"max"`` or ``"min"``), NaN skipped; None if there is none."""
    finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
    if not finite:
        return None
    return (max if direction == "max" else min)(finite, key=lambda pair: pair[0])[1]


def _best_epoch_metrics(history: dict, objective: str, direction: str) -> dict:
    """Metrics at the epoch where ``objective`` was best, from a per-epoch history."""
    best = best_epoch(history.get(objective) or [], direction)
    if best is None:
        return {}
    return {name: series[best] for name, series in history.items() if best < len(series)}


def _metrics(kt_trial: dict, record: dict, objective: str, direction: str) -> dict:
    tracked = (kt_trial.get("metrics") or {}).get("metrics") or {}
    metrics = {name: _last_value(m.get("observations")) for name, m in tracked.items()}
    if objective not in metrics or metrics[objective] is None:
        metrics = _best_epoch_metrics(record.get("history") or {}, objective, direction)
    return metrics


def _status(kt_trial: dict, record: dict) -> str:
    if record.get("status"):
        return record["status"]
    return {"COMPLETED": "completed", "RUNNING": "running"}.get(kt_trial.get("status"), "failed")


def _metric_order(name: str, objective: str) -> tuple:
    return (name != objective, not name.startswith("val_"), name)


def leaderboard(run_dir) -> pd.DataFrame:
    """One row per trial: id, architecture, status, metrics, size, time, hyperparameters, reason."""
    run = RunDir(run_dir)
    meta = run.meta()
    objective = meta["objective"]
    live = liveness.status(run, meta) == "running"
    name, direction = objective["name"], objective["direction"]
    rows, metric_names, hp_names, folds = [], set(), set(), {}
    for trial_id in run.trial_ids():
        kt_trial, record = run.keras_tuner_trial(trial_id), run.trial_record(trial_id)
        values = (kt_trial.get("hyperparameters") or {}).get("values") or {}
        status = _status(kt_trial, record)
        if status == "running" and not live:  # its search was killed: resuming continues the trial
            status = liveness.INTERRUPTED
        metrics = _metrics(kt_trial, record, name, direction)
        hps = searched_hyperparameters(values)
        seconds = record.get("seconds")
        if seconds is None and status == "running" and record.get("started"):
            seconds = time.time() - record["started"]
        metric_names.update(metrics)
        hp_names.update(hps)
        histories = [fold.get("history") for fold in record.get("folds") or []]
        folds[trial_id] = tuple(histories) if all(histories) else ()
        rows.append(
            {
                "trial": trial_id,
                "architecture": record.get("architecture") or values.get("architecture"),
                "status": status,
                **metrics,
                "params": record.get("params"),
                "epochs": record.get("epochs"),
                "folds": len(record["folds"]) if record.get("folds") else None,
                "seconds": None if seconds is None else round(seconds, 1),
                **hps,
                "reason": record.get("reason") or record.get("stopped") or "",
            }
        )
    chosen = run.ensemble_record()
    if chosen and chosen.get("members") and rows:
        rows.append(_ensemble_row(chosen, {row["trial"]: row for row in rows}))
        metric_names.update(chosen["metrics"])
    metric_columns = sorted(metric_names, key=lambda m: _metric_order(m, name))
    if name not in metric_columns:
        metric_columns.insert(0, name)
    folded = any(row["folds"] for row in rows)  # a cross-validated run: how many folds each trial trained
    columns = FIXED_COLUMNS + metric_columns + _tail(folded) + sorted(hp_names) + ["reason"]
    board = pd.DataFrame(rows, columns=columns).astype({"params": "Int64", "epochs": "Int64"})
    if folded:
        board = board.astype({"folds": "Int64"})
    if board.empty:
        return board
    tie = TIE_BREAKER if name != TIE_BREAKER and TIE_BREAKER in board else None
    entries = [ranking.Entry(STATUS_ORDER.get(row["status"], 3), row[name], None if tie is None else row[tie],
                             folds.get(row["trial"], ())) for _, row in board.iterrows()]
    return board.iloc[ranking.order(entries, name, direction, tie)].reset_index(drop=True)


def _ensemble_row(chosen: dict, trials: dict) -> dict:
    members = chosen["members"]
    sizes = [trials.get(member["trial"], {}).get("params") for member in members]
    weights = ", ".join(f"{member['trial']} ({member['weight']:.0%})" for member in members)
    use = (f"the default model: it scores better than trial {chosen['best_single']['trial']} alone" if chosen["better"]
           else f"not the default: {chosen['why_not_used']}")
    return {
        "trial": ENSEMBLE,
        "architecture": ENSEMBLE,
        "status": ENSEMBLE,
        **chosen["metrics"],
        "params": sum(sizes) if None not in sizes else None,
        "epochs": None,
        "folds": None,
        "seconds": None,
        "reason": f"weighted average of {weights}; {use}",
    }
