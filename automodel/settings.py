"""The settings of a search, checked before anything is written or trained.

Nothing here imports TensorFlow, so the CLI and the notebook panel check and
offer the same choices as ``automodel.search`` at no cost.
"""

from __future__ import annotations

import re

from .errors import SearchError

# tuner name -> (what the notebook panel calls it, the KerasTuner tuner class behind it)
TUNERS = {
    "bayesian": ("Bayesian optimisation", "BayesianOptimization"),
    "random": ("Random search", "RandomSearch"),
    "hyperband": ("Hyperband", "Hyperband"),
    "grid": ("Grid search", "GridSearch"),
}

# validation= values: how trials are scored (validation.py)
VALIDATIONS = ("auto", "split", "cv")

# strategy= values: the tf.distribute strategy that trains one trial over several local devices
STRATEGIES = {"mirrored": "MirroredStrategy"}

# automodel.search's defaults, which the CLI and the notebook panel offer too. None for
# max_trials: until the time budget is spent, else TRIALS_WITHOUT_BUDGET; None for the
# training settings: chosen from the data size (protocol.py).
DEFAULTS = {
    "tuner": "bayesian",
    "max_trials": None,
    "epochs": None,
    "directory": "automodel-runs",
    "seed": 42,
    "batch_size": None,
    "patience": None,
    "max_consecutive_failures": 3,
    "validation": "auto",
    "max_ensemble_size": None,  # no cap beyond the selection's rounds (ensemble.py)
}
TRIALS_WITHOUT_BUDGET = 10
# what KerasTuner is given for "no limit on trials": the time budget ends the search
UNLIMITED_TRIALS = 9_999  # KerasTuner pads trial ids to its width

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$")
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_duration(value) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"15m"`` or ``"2h"``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    match = _DURATION.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise SearchError(f"time_budget={value!r} is not a duration. Use seconds or e.g. '90s', '15m', '2h'.")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_tuner(tuner) -> None:
    if tuner not in TUNERS:
        raise SearchError(f"Unknown tuner {tuner!r}. Choose one of: {', '.join(TUNERS)}.")


def whole(value) -> bool:
    """An int, and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def check(
    tuner, max_trials, epochs, time_budget, batch_size, patience, max_params, max_consecutive_failures
) -> float | None:
    """Raise ``SearchError`` for a wrong setting; return the time budget in seconds."""
    check_tuner(tuner)
    for label, value in (("max_trials", max_trials), ("epochs", epochs), ("batch_size", batch_size)):
        if value is not None and (not whole(value) or value < 1):
            raise SearchError(f"{label}={value!r}: pass a whole number of at least 1, or None to let automodel choose.")
    if patience is not None and (not whole(patience) or patience < 1):
        raise SearchError(f"patience={patience!r}: pass a whole number of epochs, at least 1, or None.")
    if max_params is not None and (not whole(max_params) or max_params < 1):
        raise SearchError(f"max_params={max_params!r}: pass a whole number of parameters, at least 1, or None.")
    if not whole(max_consecutive_failures) or max_consecutive_failures < 1:
        raise SearchError(f"max_consecutive_failures={max_consecutive_failures!r}: pass a whole number, at least 1.")
    return parse_duration(time_budget)


def trial_limit(max_trials: int | None, budget_seconds: float | None) -> int:
    """The number of trials KerasTuner may run: as asked, else until the budget ends, else a default."""
    if max_trials is not None:
        return max_trials
    return UNLIMITED_TRIALS if budget_seconds is not None else TRIALS_WITHOUT_BUDGET


def check_ensemble_size(value) -> None:
    if value is not None and (not whole(value) or value < 1):
        raise SearchError(
            f"max_ensemble_size={value!r}: pass a whole number of models, at least 1 (1 turns ensembles off), or None."
        )
