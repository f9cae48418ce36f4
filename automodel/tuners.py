"""KerasTuner tuners with automodel's trial bookkeeping mixed in.

KerasTuner keeps the algorithm (oracle), the trial loop and the checkpoints.
The mixin adds what a user of a notebook or a terminal needs per trial: early
stopping on the objective, a per-epoch record in the run directory (live curves),
NaN losses and plugin errors recorded as failed trials with a readable reason,
a wall-clock budget, and a stop request honoured after the current epoch.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import threading
import time

import keras
import keras_tuner as kt
from keras_tuner.src import config as keras_tuner_config
from keras_tuner.src.engine.trial import TrialStatus

from .errors import SearchError
from .rundir import RunDir

TUNERS = {
    "random": kt.RandomSearch,
    "bayesian": kt.BayesianOptimization,
    "hyperband": kt.Hyperband,
    "grid": kt.GridSearch,
}

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


class SearchStopped(Exception):
    """Raised between trials to end the trial loop (budget spent or stop asked)."""


class Budget:
    """The wall clock of one search call, and the user's stop request."""

    def __init__(self, seconds: float | None, stop_event: threading.Event | None = None):
        self.seconds = seconds
        self.started = time.monotonic()
        self.stop_event = stop_event or threading.Event()
        self.trial_seconds: list[float] = []

    def remaining(self) -> float:
        if self.seconds is None:
            return math.inf
        return self.seconds - (time.monotonic() - self.started)

    def why_stop_now(self) -> str | None:
        if self.stop_event.is_set():
            return "stopped by user"
        if self.remaining() <= 0:
            return "time budget reached"
        return None

    def why_not_start(self) -> str | None:
        """A reason not to start another trial, if there is one."""
        reason = self.why_stop_now()
        if reason is None and self.trial_seconds:
            typical = sum(self.trial_seconds) / len(self.trial_seconds)
            if typical > self.remaining():
                reason = "time budget too short for another trial"
        return reason


class TrialRecorder(keras.callbacks.Callback):
    """Writes the trial's record after each epoch; stops on NaN, budget or request."""

    def __init__(self, tuner, trial):
        super().__init__()
        self.tuner = tuner
        self.trial = trial

    @property
    def record(self) -> dict:
        return self.tuner._records[self.trial.trial_id]

    def on_train_begin(self, logs=None):
        self.record["params"] = int(self.model.count_params())

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        history = self.record["history"]
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        self.record["epochs"] = len(history.get("loss", []))
        self.tuner._write_record(self.trial)
        self.tuner._report("epoch_end", trial_id=self.trial.trial_id, epoch=epoch + 1, logs=logs)
        if any(math.isnan(v) or math.isinf(v) for k, v in logs.items() if k.endswith("loss")):
            raise kt.errors.FailedTrialError(f"loss became NaN or infinite at epoch {epoch + 1}")
        reason = self.tuner.budget.why_stop_now()
        if reason:
            self.record["stopped"] = reason
            self.model.stop_training = True


class TrialBookkeeping:
    """Mixin for a KerasTuner tuner class; see the module docstring."""

    def __init__(self, *args, run: RunDir, budget: Budget, patience: int, reporter=None, **kwargs):
        self.run = run
        self.budget = budget
        self.patience = patience
        self.reporter = reporter
        self.base_seed = kwargs["seed"]
        self._records: dict[str, dict] = {}
        super().__init__(*args, **kwargs)

    def _report(self, event: str, **info) -> None:
        if self.reporter is not None:
            self.reporter(event, **info)

    def _write_record(self, trial) -> None:
        self.run.write_trial_record(trial.trial_id, self._records[trial.trial_id])

    def search(self, *args, **kwargs):
        # Failed trials are recorded with their reason; KerasTuner would also
        # print each traceback.
        printing = keras_tuner_config.DEBUG
        keras_tuner_config.DEBUG = False
        try:
            return super().search(*args, **kwargs)
        finally:
            keras_tuner_config.DEBUG = printing

    def pre_create_trial(self):
        reason = self.budget.why_not_start()
        if reason:
            raise SearchStopped(reason)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        trial_id = trial.trial_id
        architecture = trial.hyperparameters.values.get("architecture")
        self._records[trial_id] = {
            "trial_id": trial_id,
            "architecture": architecture,
            "status": "running",
            "started": time.time(),
            "history": {},
        }
        self._write_record(trial)
        keras.utils.set_random_seed(self.base_seed + _trial_number(trial_id))
        self._report("trial_start", trial_id=trial_id, architecture=architecture)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        objective = self.oracle.objective
        kwargs["callbacks"] = [
            *kwargs.get("callbacks", []),
            keras.callbacks.EarlyStopping(
                monitor=objective.name, mode=objective.direction, patience=self.patience
            ),
            TrialRecorder(self, trial),
        ]
        return super()._build_and_fit_model(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        record = self._records[trial.trial_id]
        record["seconds"] = time.time() - record["started"]
        if trial.status in (TrialStatus.INVALID, TrialStatus.FAILED):
            record["status"] = "failed"
            record["reason"] = _reason(trial.message)
        else:
            record["status"] = "completed"
            if "stopped" not in record:
                self.budget.trial_seconds.append(record["seconds"])
        self._write_record(trial)
        try:
            super().on_trial_end(trial)  # KerasTuner scores the trial here
        finally:
            score = self.oracle.get_trial(trial.trial_id).score if record["status"] == "completed" else None
            self._report("trial_end", record=dict(record), objective=self.oracle.objective.name, score=score)


def _trial_number(trial_id: str) -> int:
    return int(trial_id) if str(trial_id).isdigit() else abs(hash(trial_id)) % 10_000


def _reason(message: str | None) -> str:
    """The last line of a traceback: the exception and its message."""
    if not message:
        return "unknown error"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else message
    return last.replace("keras_tuner.src.errors.", "")


def make_tuner(
    name: str,
    hypermodel,
    *,
    objective,
    max_trials: int,
    epochs: int,
    seed: int,
    run: RunDir,
    budget: Budget,
    patience: int,
    max_consecutive_failures: int,
    max_params: int | None,
    reporter=None,
):
    """A KerasTuner tuner of kind ``name`` writing into ``run``."""
    base = TUNERS[name]
    cls = type(f"Automodel{base.__name__}", (TrialBookkeeping, base), {})
    options = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=seed + 1,  # KerasTuner treats seed 0 as "no seed"
        max_model_size=max_params,
        max_consecutive_failed_trials=max_consecutive_failures,
        directory=str(run.path.parent),
        project_name=run.path.name,
        overwrite=False,
        run=run,
        budget=budget,
        patience=patience,
        reporter=reporter,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading..." note
        if name == "hyperband":
            tuner = cls(max_epochs=epochs, **options)
            tuner.oracle.max_trials = max_trials
        else:
            tuner = cls(max_trials=max_trials, **options)
    return tuner
