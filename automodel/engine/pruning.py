"""The median rule: end a trial whose curve is clearly below the others at the same epoch.

Optuna's ``MedianPruner`` (as in Google Vizier's median stopping rule): after a
warm-up, a trial whose best objective so far is worse than the median of the
other trials' best values up to the same epoch is stopped. It works alike for
every tuner, because it only reads the per-epoch records of the run directory
(so worker processes prune against each other's trials too). A trial that ended
before that epoch counts with the best value it reached.

A pruned trial keeps its best epoch's weights and its score goes to the tuner, so
Bayesian optimisation learns from it; the leaderboard shows it as ``pruned``.
"""

from __future__ import annotations

import statistics

from ..runs.rundir import RunDir

STARTUP_TRIALS = 3  # ended trials needed before any trial is pruned
ENDED = ("completed", "pruned")


def best_so_far(values: list[float], direction: str) -> list[float]:
    """The running best of ``values`` (``"max"`` or ``"min"``), NaN skipped."""
    out, best = [], None
    for value in values:
        if value == value and (best is None or (value > best if direction == "max" else value < best)):
            best = value
        out.append(best)
    return out


class MedianPruner:
    """Decides, after each epoch, whether a trial goes on; see the module docstring."""

    def __init__(self, run: RunDir, objective: str, direction: str, warmup_epochs: int,
                 startup_trials: int = STARTUP_TRIALS):
        self.run = run
        self.objective = objective
        self.direction = direction
        self.warmup_epochs = warmup_epochs
        self.startup_trials = startup_trials
        # trial -> (first epoch, running best); an ended trial never changes
        self._ended: dict[str, tuple[int, list[float]]] = {}
        self._fold_bests: dict[str, list[float]] = {}  # trial -> best value of each fold it trained

    def _others(self, trial_id: str) -> dict[str, tuple[int, list[float]]]:
        for other in self.run.trial_ids():
            if other == trial_id or other in self._ended:
                continue
            record = self.run.trial_record(other)
            if record.get("status") in ENDED:
                series = best_so_far((record.get("history") or {}).get(self.objective) or [], self.direction)
                if series and series[-1] is not None:
                    self._ended[other] = (record.get("initial_epoch") or 0, series)
                bests = [fold["best"] for fold in record.get("folds") or [] if fold.get("best") is not None]
                if bests:
                    self._fold_bests[other] = bests
        return {other: ended for other, ended in self._ended.items() if other != trial_id}

    def check_folds(self, trial_id: str, bests: list[float]) -> dict | None:
        """After a fold of a cross-validated trial: prune it if its mean so far is below the others' median.

        The others are the ended trials that trained as many folds; a trial is
        compared on the mean of its first folds, the same folds for every trial.
        """
        self._others(trial_id)
        folds = len(bests)
        means = [sum(other[:folds]) / folds for name, other in self._fold_bests.items()
                 if name != trial_id and len(other) >= folds]
        if None in bests or len(means) < self.startup_trials:
            return None
        mean, median = sum(bests) / folds, statistics.median(means)
        if not (mean < median if self.direction == "max" else mean > median):
            return None
        return {"fold": folds, "value": mean, "median": median, "trials": len(means)}

    def check(self, trial_id: str, history: dict, first_epoch: int = 0) -> dict | None:
        """The reason to prune now (epoch, value, median, trials), or None to go on.

        Epochs count from 0 for every trial; ``first_epoch`` is where this trial's
        history starts (a Hyperband trial continuing an earlier one's training).
        """
        values = history.get(self.objective) or []
        epoch = first_epoch + len(values)
        if len(values) < self.warmup_epochs:
            return None
        current = best_so_far(values, self.direction)[-1]
        at_epoch = [series[min(epoch - start, len(series)) - 1]
                    for start, series in self._others(trial_id).values() if epoch > start]
        at_epoch = [value for value in at_epoch if value is not None]
        if current is None or len(at_epoch) < self.startup_trials:
            return None
        median = statistics.median(at_epoch)
        worse = current < median if self.direction == "max" else current > median
        if not worse:
            return None
        return {"epoch": epoch, "value": current, "median": median, "trials": len(at_epoch)}


def describe(pruned: dict, objective: str) -> str:
    """The leaderboard's reason for a pruned trial."""
    if "fold" in pruned:
        return (f"pruned after fold {pruned['fold']}: mean best {objective} {pruned['value']:.4g}, below the "
                f"median {pruned['median']:.4g} of {pruned['trials']} trials after as many folds")
    return (f"pruned at epoch {pruned['epoch']}: best {objective} {pruned['value']:.4g}, below the median "
            f"{pruned['median']:.4g} of {pruned['trials']} trials at that epoch")
