"""What a search learned, in numbers, from its run directory alone.

Every function here reads the JSON files of a run directory (``run.json``, each
trial's ``automodel_trial.json`` and KerasTuner's ``trial.json``) through
``automodel.runs``, so it works the same for a live, a resumed, a distributed
and a finished search, and imports no TensorFlow. ``figures.py`` draws these
frames; the notebook panel and the HTML report show them.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np
import pandas as pd

from ..errors import SearchError
from ..runs.leaderboard import ENDED, ENSEMBLE, leaderboard
from ..runs.rundir import TRIAL_RECORD, RunDir

IMPORTANCE_METHOD = "permutation importance of a random forest fitted to the trials (scikit-learn)"
MIN_TRIALS_FOR_IMPORTANCE = 4
CURVES_SHOWN = 8  # the best trials' learning curves drawn by default
COLUMNS = ["trial", "architecture", "status", "objective", "ended", "seconds", "epochs", "pruned_at"]


def run_of(run_dir) -> RunDir:
    """The run directory ``run_dir``; a ``SearchError`` if it is none."""
    run = RunDir(run_dir)
    if not run.is_run():
        raise SearchError(f"{run_dir} is not an automodel run directory (no run.json found). Pass the folder a "
                          "search wrote, e.g. automodel-runs/digits.")
    return run


def objective_name(run_dir) -> str:
    """The metric the search optimised (``val_accuracy``, ``val_loss``, ``fid`` ...)."""
    return run_of(run_dir).meta()["objective"]["name"]


def direction(run_dir) -> str:
    """``"max"`` or ``"min"``: which way the objective improves."""
    return run_of(run_dir).meta()["objective"]["direction"]


def hyperparameter_columns(frame: pd.DataFrame) -> list[str]:
    """The searched hyperparameters among ``frame``'s columns: the joint hypermodel scopes each as ``arch/name``."""
    return [column for column in frame.columns if "/" in column]


def _run_start(run: RunDir, records: dict) -> float:
    """When the search began: run.json's creation time, or its first trial's start if that is earlier."""
    starts = [record["started"] for record in records.values() if record.get("started")]
    created = run.meta().get("created")
    if created:
        starts.append(datetime.datetime.fromisoformat(created).timestamp())
    return min(starts) if starts else 0.0


def _ended_at(run: RunDir, trial_id: str, record: dict) -> float | None:
    """The time a trial ended: its start plus its training seconds, or, resumed over several sessions,
    when its record was last written (the trial's end writes it last)."""
    if not record.get("started") or record.get("seconds") is None:
        return None
    if len(record.get("sessions") or []) <= 1:
        return record["started"] + record["seconds"]
    return (run.trial_dir(trial_id) / TRIAL_RECORD).stat().st_mtime


def trials(run_dir) -> pd.DataFrame:
    """One row per trial, in trial order (the ensemble row left out); see ``COLUMNS`` and the hyperparameters.

    ``objective`` is the leaderboard's (the trial's best epoch), NaN without one;
    ``ended`` is seconds from the search's start, NaN for a trial that has not ended;
    ``pruned_at`` is the epoch a pruned trial was stopped at (``<NA>`` for the others).
    """
    run = run_of(run_dir)
    board = leaderboard(run.path)
    board = board[board["trial"] != ENSEMBLE]
    name = objective_name(run.path)
    hyperparameters = hyperparameter_columns(board)
    records = {trial_id: run.trial_record(trial_id) for trial_id in board["trial"]}
    start = _run_start(run, records)
    rows = []
    for row in board.to_dict("records"):
        record = records[row["trial"]]
        ended = _ended_at(run, row["trial"], record) if row["status"] in ENDED else None
        pruned = record.get("pruned") if row["status"] == "pruned" else None
        rows.append({
            "trial": row["trial"], "architecture": row["architecture"], "status": row["status"],
            "objective": _number(row.get(name)), "ended": math.nan if ended is None else ended - start,
            "seconds": _number(row.get("seconds")), "epochs": row.get("epochs"),
            "pruned_at": (pruned or {}).get("epoch"), **{hp: row.get(hp) for hp in hyperparameters},
        })
    frame = pd.DataFrame(rows, columns=COLUMNS + hyperparameters)
    order = {trial_id: i for i, trial_id in enumerate(run.trial_ids())}
    frame = frame.sort_values("trial", key=lambda ids: ids.map(order), kind="stable").reset_index(drop=True)
    return frame.astype({"objective": float, "ended": float, "seconds": float, "epochs": "Int64", "pruned_at": "Int64"})


def _number(value) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def objective_over_time(run_dir) -> pd.DataFrame:
    """The ended trials in the order they ended, with the running best objective (``best_so_far``).

    Failed trials are rows too (their objective NaN), so a plot can mark them;
    ``best_so_far`` is NaN until the first trial with an objective has ended.
    """
    frame = trials(run_dir)
    frame = frame[frame["ended"].notna()].sort_values("ended", kind="stable").reset_index(drop=True)
    running = (frame["objective"].cummax() if direction(run_dir) == "max" else frame["objective"].cummin()).ffill()
    over_time = frame[["trial", "ended", "objective", "status"]].copy()
    over_time["best_so_far"] = running.to_numpy()
    return over_time


def _encoded(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, list]]:
    """Numeric columns as numbers; the others (choices, booleans) as category codes, NaN where undefined."""
    encoded, labels = pd.DataFrame(index=frame.index), {}
    for column in columns:
        values = frame[column]
        defined = values.dropna()
        if not defined.empty and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                     for v in defined):
            encoded[column] = values.astype(float)
            continue
        categories = sorted(defined.unique(), key=str)
        codes = {value: float(code) for code, value in enumerate(categories)}
        encoded[column] = values.map(lambda v, codes=codes: codes.get(v, math.nan) if not pd.isna(v) else math.nan)
        labels[column] = [str(value) for value in categories]
    return encoded, labels


def _searched(frame: pd.DataFrame) -> list[str]:
    """The architecture choice (when more than one was tried) and the hyperparameters some trial defines."""
    columns = [hp for hp in hyperparameter_columns(frame) if frame[hp].notna().any()]
    return (["architecture"] if frame["architecture"].nunique() > 1 else []) + columns


def parallel_coordinates(run_dir) -> pd.DataFrame:
    """Trials with an objective (index: trial id): one column per hyperparameter, then ``objective``.

    Categorical hyperparameters are category codes; their labels, in code
    order, are in ``frame.attrs["labels"][column]``. NaN: not defined for that
    trial's architecture (or a conditional hyperparameter it did not use).
    """
    frame = trials(run_dir)
    frame = frame[frame["objective"].notna()].set_index("trial")
    encoded, labels = _encoded(frame, _searched(frame))
    encoded["objective"] = frame["objective"]
    encoded.attrs["labels"] = labels
    return encoded


@dataclasses.dataclass
class Importance:
    """How much each hyperparameter mattered to the objective, and how that was measured."""

    method: str
    values: dict[str, float]  # hyperparameter -> growth of the forest's error when shuffled, over the variance
    trials: int  # trials with an objective the forest was fitted to


def importance(run_dir, seed: int = 0, repeats: int = 8) -> Importance:
    """Permutation importance of a random forest fitted to the trials (hyperparameters -> objective).

    A value is how much the forest's squared error grows when that hyperparameter
    is shuffled, over the objective's variance: for a hyperparameter every trial
    has, the drop of the forest's R^2. Conditional hyperparameters (those of one
    architecture, or of a branch like a third convolution block) are undefined in
    other trials: the forest sees a sentinel there (1 below the smallest value),
    and each is shuffled only among the trials that define it, so its importance
    says how much it mattered where it was searched. The architecture choice is
    shuffled together with those conditional hyperparameters, so a trial keeps a
    whole configuration of one architecture. Shuffling is scored on the trials
    themselves (there are too few to hold some out). Fewer than
    ``MIN_TRIALS_FOR_IMPORTANCE`` trials with an objective give no values.
    """
    frame = trials(run_dir)
    frame = frame[frame["objective"].notna()].reset_index(drop=True)
    columns = _searched(frame)
    target = frame["objective"].to_numpy()
    if len(frame) < MIN_TRIALS_FOR_IMPORTANCE or not columns or np.ptp(target) == 0:
        return Importance(IMPORTANCE_METHOD, {}, len(frame))
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    encoded, _ = _encoded(frame, columns)
    defined = encoded.notna()
    features = encoded.fillna(encoded.min() - 1).to_numpy()
    forest = RandomForestRegressor(n_estimators=64, random_state=seed, n_jobs=1).fit(features, target)
    values = {}
    for mask, group in _by_defining_trials(defined).items():
        rows = np.array(mask)
        if rows.sum() < 2:  # nothing to shuffle among
            values.update(dict.fromkeys(group, 0.0))
            continue
        shuffled = permutation_importance(forest, features[rows], target[rows], scoring="neg_mean_squared_error",
                                          n_repeats=repeats, random_state=seed)
        share = rows.mean() / target.var()  # the error grown on these trials, as a part of all trials' variance
        values.update({column: float(shuffled.importances_mean[columns.index(column)] * share) for column in group})
    if "architecture" in columns:
        block = [i for i, column in enumerate(columns) if column == "architecture" or not defined[column].all()]
        values["architecture"] = _block_importance(forest, features, target, block, seed, repeats)
    return Importance(IMPORTANCE_METHOD, dict(sorted(values.items(), key=lambda item: -item[1])), len(frame))


def _block_importance(forest, features: np.ndarray, target: np.ndarray, block: list[int], seed: int,
                      repeats: int) -> float:
    """Growth of the forest's squared error, over the variance, when the ``block`` columns are shuffled together."""
    rng = np.random.default_rng(seed)
    error = float(np.mean((forest.predict(features) - target) ** 2))
    grown = []
    for _ in range(repeats):
        shuffled = features.copy()
        shuffled[:, block] = features[rng.permutation(len(features))][:, block]
        grown.append(float(np.mean((forest.predict(shuffled) - target) ** 2)) - error)
    return float(np.mean(grown) / target.var())


def _by_defining_trials(defined: pd.DataFrame) -> dict[tuple, list[str]]:
    """Hyperparameters grouped by the trials that define them (one shuffling per group)."""
    groups: dict[tuple, list[str]] = {}
    for column in defined.columns:
        groups.setdefault(tuple(defined[column]), []).append(column)
    return groups


def best_trials(run_dir, count: int = CURVES_SHOWN) -> list[str]:
    """Ids of the ``count`` best trials with an objective, best first."""
    frame = trials(run_dir)
    frame = frame[frame["objective"].notna()]
    ranked = frame.sort_values("objective", ascending=direction(run_dir) == "min", kind="stable")
    return list(ranked["trial"][:count])


def curves(run_dir, trial_ids=None, metric: str | None = None) -> dict[str, list[float]]:
    """Per trial, the per-epoch values of ``metric`` (default: the objective); default trials: the best 8.

    Trials without that metric yet are left out.
    """
    run = run_of(run_dir)
    metric = metric or objective_name(run.path)
    chosen = best_trials(run.path) if trial_ids is None else [str(t) for t in trial_ids]
    history = {trial_id: (run.trial_record(trial_id).get("history") or {}).get(metric) for trial_id in chosen}
    return {trial_id: [float(v) for v in values] for trial_id, values in history.items() if values}


def architecture_summary(run_dir) -> pd.DataFrame:
    """Per architecture: trials, completed, pruned, failed, and the best and median objective, best first."""
    frame = trials(run_dir)
    columns = ["architecture", "trials", "completed", "pruned", "failed", "best", "median"]
    maximise = direction(run_dir) == "max"
    rows = []
    for name, group in frame.groupby("architecture", sort=True):
        scores = group["objective"].dropna()
        counts = group["status"].value_counts()
        rows.append({"architecture": name, "trials": len(group),
                     **{status: int(counts.get(status, 0)) for status in ENDED},
                     "best": (scores.max() if maximise else scores.min()) if len(scores) else math.nan,
                     "median": scores.median() if len(scores) else math.nan})
    summary = pd.DataFrame(rows, columns=columns)
    return summary.sort_values("best", ascending=not maximise, na_position="last", kind="stable").reset_index(drop=True)
