"""KerasTuner tuners with automodel's trial bookkeeping mixed in.

KerasTuner keeps the algorithm (oracle), the trial loop and the checkpoints.
The mixin adds what a user of a notebook or a terminal needs per trial: early
stopping on the objective, the protocol's learning-rate schedule, the median
pruning rule (``pruning.py``), a per-epoch record in the run directory (live curves),
NaN losses and plugin errors recorded as failed trials with a readable reason,
a wall-clock budget, and a stop request honoured after the current epoch.
An interrupted trial resumes from its last epoch (see ``resume.py``); in a
search with worker processes the chief decides whether another trial starts
(see ``chief.py``), and each worker stops after its current epoch when asked.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from pathlib import Path

import keras
import keras_tuner as kt
import psutil
from keras_tuner.src import config as keras_tuner_config
from keras_tuner.src.engine.trial import TrialStatus

from ..errors import SearchError, last_line
from ..runs import events, ranking
from ..runs.leaderboard import best_epoch
from ..runs.rundir import RunDir
from ..settings import STRATEGIES, TUNERS
from . import portfolio, predictions, resume
from .budget import Budget, SearchStopped, capped_reason
from .pruning import describe as describe_pruning


class TrialRecorder(keras.callbacks.Callback):
    """Writes the trial's record after each epoch; stops on NaN, budget or request."""

    def __init__(self, tuner, trial, callbacks):
        super().__init__()
        self.tuner = tuner
        self.trial = trial
        self.callbacks = callbacks  # the trial's others, told what a resumed trial already trained
        self.first_epoch = None

    @property
    def record(self) -> dict:
        return self.tuner._records[self.trial.trial_id]

    def on_train_begin(self, logs=None):
        self.record["params"] = int(self.model.count_params())

    def on_train_end(self, logs=None):
        if self.first_epoch is None:  # resumed from a backup of its last epoch: nothing left to train
            record = self.record
            record["sessions"][-1]["first_epoch"] = record.get("initial_epoch", 0) + record.get("epochs", 0)

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is not None:
            return
        self.first_epoch = epoch  # after a resume, the epoch the backup restored
        self.record["sessions"][-1]["first_epoch"] = epoch
        history = resume.continue_history(self.record, epoch)
        resume.carry_over(history, self.tuner.oracle.objective, self.callbacks)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        history = self.record["history"]
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        self.record["epochs"] = self.record.get("epochs", 0) + 1
        session = self.record["sessions"][-1]
        session["epochs"] = session.get("epochs", 0) + 1  # what this process trained of it
        self.tuner._count_seconds(self.trial)
        self.tuner._write_record(self.trial)
        self.tuner._report("epoch_end", trial_id=self.trial.trial_id, epoch=epoch + 1, logs=logs)
        if any(math.isnan(v) or math.isinf(v) for k, v in logs.items() if k.endswith("loss")):
            raise kt.errors.FailedTrialError(f"loss became NaN or infinite at epoch {epoch + 1}")
        reason = self.tuner.budget.why_stop_now()
        fold, folds = self.tuner._fold, len(self.tuner.folds or ())
        cap = self.tuner.budget.cap_by_end_of(fold, folds)
        if reason:
            self.record["stopped"] = reason
            self.model.stop_training = True
        elif cap is not None and self.record["seconds"] >= cap:
            self.record["capped"] = capped_reason(self.tuner.budget.trial_cap, folds if fold is not None else None)
            self.model.stop_training = True
        elif self.tuner.pruner is not None:
            pruned = self.tuner.pruner.check(self.trial.trial_id, history, self.record.get("initial_epoch") or 0)
            if pruned:
                self.record["pruned"] = pruned
                self.model.stop_training = True


class TrialBookkeeping:
    """Mixin for a KerasTuner tuner class; see the module docstring."""

    def __init__(
        self,
        *args,
        run: RunDir,
        budget: Budget,
        patience: int,
        reporter=None,
        trial_callbacks=None,
        max_params: int | None = None,
        schedule=None,
        pruner=None,
        folds=None,
        **kwargs,
    ):
        self.run = run
        self.budget = budget
        self.patience = patience
        self.schedule = schedule  # () -> the protocol's callbacks (learning rate), fresh per trial
        self.pruner = pruner
        self.folds = folds  # (train, validation) index pairs: cross-validate each trial (validation.py)
        self.reporter = reporter
        self.max_params = max_params
        # the task's own per-trial callbacks (the Frechet distance of generation),
        # run first so the objective is in the logs the others read
        self.trial_callbacks = trial_callbacks
        self.base_seed = kwargs["seed"]
        self._records: dict[str, dict] = {}
        self._session_start: dict[str, tuple[float, float]] = {}  # trial -> (time, seconds before)
        self._trial = None
        self._model = None  # the trial's model being trained
        self._fold = None  # the fold being trained, when cross-validating
        super().__init__(*args, **kwargs)

    def _report(self, event: str, **fields) -> None:
        events.report(self.reporter, event, **fields)

    def _write_record(self, trial) -> None:
        self.run.write_trial_record(trial.trial_id, self._records[trial.trial_id])

    def _count_seconds(self, trial) -> None:
        """Training seconds of the trial, over every session it ran in."""
        started, before = self._session_start[trial.trial_id]
        self._records[trial.trial_id]["seconds"] = before + time.time() - started

    def on_search_begin(self):
        super().on_search_begin()
        if not self._is_worker():
            self.save()  # so a search killed in its first trial reloads, and resumes that trial

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
        if self._is_worker():
            return  # the chief decides whether another trial starts
        reason = self.budget.why_not_start()
        if reason:
            raise SearchStopped(reason)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        trial_id = trial.trial_id
        architecture = trial.hyperparameters.values.get("architecture")
        record = self.run.trial_record(trial_id)
        resumed = record.get("status") == "running"  # interrupted: its backup continues it
        if not resumed and not resume.ended(record):
            resume.discard_backup(self.run.trial_dir(trial_id))
            record = {
                "trial_id": trial_id,
                "architecture": architecture,
                "status": "running",
                "started": time.time(),
                "history": {},
            }
        session = {"worker": self.tuner_id, "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        record.setdefault("sessions", []).append(session)
        self._records[trial_id] = record
        self._session_start[trial_id] = (time.time(), record.get("seconds") or 0.0)
        self._trial = trial
        self._write_record(trial)
        keras.utils.set_random_seed(self.base_seed + _trial_number(trial_id))
        self._report("trial_start", trial_id=trial_id, architecture=architecture, resumed=resumed)

    def _try_build(self, hp):
        model = self._model = super()._try_build(hp)
        size = int(model.count_params()) if model.built else 0
        if self.max_params and size > self.max_params:
            self._records[self._trial.trial_id]["params"] = size
            raise kt.errors.FailedTrialError(
                f"model too large: {size:,} parameters, over max_params={self.max_params:,}. "
                "Narrow the architecture's search space or raise max_params."
            )
        return model

    def run_trial(self, trial, *args, **kwargs):
        record = self._records[trial.trial_id]
        if resume.ended(record):  # it ended before, but the oracle never heard: report it again
            record["sessions"][-1]["replayed"] = True
            return resume.recorded_histories(record)
        if not self.folds:
            return super().run_trial(trial, *args, **kwargs)
        return self._cross_validate(trial, *args, **kwargs)

    def _cross_validate(self, trial, x, y, **kwargs):
        """One training per fold (the folds a resumed trial finished are kept), scored on the folds' mean curve."""
        objective = self.oracle.objective
        record = self._records[trial.trial_id]
        done = record.setdefault("folds", [])
        for train, validation in self.folds[len(done):]:
            self._fold = len(done)
            kwargs["validation_data"] = (x[validation], None if y is None else y[validation])
            super().run_trial(trial, x[train], None if y is None else y[train], **kwargs)
            values = record["history"].get(objective.name) or []
            best = best_epoch(values, objective.direction)
            done.append({"history": record["history"], "epochs": record["epochs"],
                         "best": None if best is None else values[best],
                         "best_epoch": None if best is None else (record.get("initial_epoch") or 0) + best + 1})
            self._write_record(trial)
            resume.discard_backup(self.run.trial_dir(trial.trial_id))  # the next fold starts afresh
            if any(key in record for key in ("stopped", "pruned")) or len(done) == len(self.folds):
                break
            cap = self.budget.trial_cap
            if cap is not None and record["seconds"] >= cap:  # its epochs are too slow to train every fold
                record["capped"] = capped_reason(cap, len(self.folds), trained=len(done))
                break
            pruned = self.pruner.check_folds(trial.trial_id, [fold["best"] for fold in done]) if self.pruner else None
            if pruned:
                record["pruned"] = {**pruned, "epoch": record["epochs"]}
                break
        self._fold = None
        if len(done) == len(self.folds):
            predictions.assemble_folds(self.run, trial.trial_id, [held_out for _, held_out in self.folds])
        record["history"] = ranking.mean_curves([fold["history"] for fold in done])
        record["epochs"] = sum(fold["epochs"] for fold in done)
        # scored at one epoch for all folds, the best of their mean curve, as the refit trains: the mean of each
        # fold's own best epoch picks the luckiest epoch of every fold (0.78 for an rnn on 10-sample folds of
        # PickupGestureWiimoteZ, which outranked rocket's 0.76 and scored 0.62 on the test set)
        return [resume.as_history(record["history"])]

    def _build_and_fit_model(self, trial, *args, **kwargs):
        objective = self.oracle.objective
        record = self._records[trial.trial_id]
        task_callbacks = self.trial_callbacks(trial, record) if self.trial_callbacks else []
        resume.whole_checkpoints(kwargs.get("callbacks", []))
        callbacks = [
            *task_callbacks,
            *kwargs.get("callbacks", []),
            *(self.schedule() if self.schedule else []),
            keras.callbacks.EarlyStopping(monitor=objective.name, mode=objective.direction, patience=self.patience),
        ]
        # the record is written before the backup, so it is never behind it
        recorder = TrialRecorder(self, trial, list(callbacks))
        callbacks += [recorder, resume.backup_callback(self.run.trial_dir(trial.trial_id))]
        if self.distribution_strategy is not None:
            record["replicas"] = int(self.distribution_strategy.num_replicas_in_sync)
        kwargs["callbacks"] = callbacks
        history = super()._build_and_fit_model(trial, *args, **kwargs)
        if self.hypermodel.spec.target != "generation":  # kept for ensemble selection
            predictions.record(self.run, trial.trial_id, self._model, Path(self._get_checkpoint_fname(trial.trial_id)),
                               kwargs["validation_data"], kwargs.get("batch_size") or 32, self._fold)
        return resume.whole_history(history, record)

    def on_trial_end(self, trial):
        record = self._records[trial.trial_id]
        self._count_seconds(trial)
        record["sessions"][-1]["memory_mib"] = round(psutil.Process().memory_info().rss / 2**20, 1)
        if trial.status in (TrialStatus.INVALID, TrialStatus.FAILED):
            record["status"] = "failed"
            record["reason"] = _reason(trial.message)
        else:
            record["status"] = "pruned" if "pruned" in record else "completed"
            if "pruned" in record:
                record["reason"] = describe_pruning(record["pruned"], self.oracle.objective.name)
            elif "capped" in record:
                record["reason"] = record["capped"]
        self.budget.count_trial(record)
        self._write_record(trial)
        resume.discard_backup(self.run.trial_dir(trial.trial_id))  # recorded: no longer needed
        try:
            super().on_trial_end(trial)  # KerasTuner scores the trial here
            self.budget.trial_ended()
        finally:
            if self.reporter is not None:
                score = self.oracle.get_trial(trial.trial_id).score if record["status"] != "failed" else None
                self._report("trial_end", record=dict(record), objective=self.oracle.objective.name, score=score)


@contextlib.contextmanager
def _without_reloading_note():
    """Silence KerasTuner's "Reloading Tuner from ..." print, and nothing else: sys.stdout is every thread's."""
    from keras_tuner.src.engine import base_tuner

    base_tuner.print = lambda *args, **kwargs: None  # found before the built-in print, in that module only
    try:
        yield
    finally:
        del base_tuner.print


def _strategy(name: str | None):
    if name is None:
        return None
    import tensorflow as tf

    return getattr(tf.distribute, STRATEGIES[name])()


def consecutive_failures_error(limit: int, message: str) -> SearchError:
    """The error that ends a search after ``limit`` failed trials in a row."""
    return SearchError(
        f"{limit} trials in a row failed, so the search stopped. "
        f"Last error: {last_line(message)}. See the leaderboard's "
        "reason column; fix the plugin or data, or raise max_consecutive_failures."
    )


def _trial_number(trial_id: str) -> int:
    return int(trial_id) if str(trial_id).isdigit() else abs(hash(trial_id)) % 10_000


def _reason(message: str | None) -> str:
    """The last line of a traceback: the exception and its message."""
    return last_line(message, empty="unknown error").replace("keras_tuner.src.errors.", "")


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
    trial_callbacks=None,
    strategy: str | None = None,
    mixins: tuple = (),
    first_trials: list[dict] = (),
    schedule=None,
    pruner=None,
    folds=None,
):
    """A KerasTuner tuner of kind ``name`` writing into ``run``.

    ``strategy="mirrored"`` trains each trial data-parallel over the local GPUs
    (one replica on the CPU where there is none); ``mixins`` go before the
    bookkeeping (a worker process adds its own). ``first_trials`` (joint-space
    values, ``portfolio.py``) run before the tuner's own proposals.
    """
    base = getattr(kt, TUNERS[name][1])
    cls = type(f"Automodel{base.__name__}", (*mixins, TrialBookkeeping, base), {})
    options = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=seed + 1,  # KerasTuner treats seed 0 as "no seed"
        max_params=max_params,
        distribution_strategy=_strategy(strategy),
        max_consecutive_failed_trials=max_consecutive_failures,
        directory=str(run.path.parent),
        project_name=run.path.name,
        overwrite=False,
        run=run,
        budget=budget,
        patience=patience,
        reporter=reporter,
        trial_callbacks=trial_callbacks,
        schedule=schedule,
        pruner=pruner,
        folds=folds,
    )
    with _without_reloading_note():
        if name == "hyperband":
            tuner = cls(max_epochs=epochs, **options)
            tuner.oracle.max_trials = max_trials
        else:
            tuner = cls(max_trials=max_trials, **options)
    if isinstance(tuner.oracle, kt.Oracle):  # a worker's oracle is the chief's, reached by a client
        portfolio.install(tuner.oracle, list(first_trials))
    return tuner
