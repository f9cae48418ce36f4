"""The final refit: the best configuration retrained on training plus validation data.

A search holds out a validation split to compare trials; once the best is known,
that split is better spent training it (AutoKeras' final fit, AutoGluon's
``refit_full``). The refit trains the best trial's configuration afresh on both
splits for the number of gradient steps that trial needed to reach its best
epoch, with the same batch size and learning-rate schedule, and is what
``best_model()``, ``predict``, ``evaluate`` and ``export`` use unless a trial is
named. The search keeps time for it within ``time_budget``.

Written into the run directory as ``refit/model.weights.h5`` and then
``refit/refit.json`` (the record is written last, so a refit cut off midway
leaves no record and the single-split model stays the default).
"""

from __future__ import annotations

import time

import keras

from ..data.prepared import combine, fit_arguments
from ..runs.leaderboard import WITH_MODEL, best_epoch, leaderboard
from ..runs.rundir import RunDir, now, read_json, write_atomically, write_json
from . import protocol as training
from . import tensorboard
from .hypermodel import JointHyperModel, load_weights_only, trial_hyperparameters

REFIT_DIR = "refit"
RECORD = "refit.json"
WEIGHTS = "model.weights.h5"
# a refit whose loss on the data it trained on is this many times the trial model's is refused: far worse,
# not the noise between two trainings of a small model
WORSE = 1.5


def record(run: RunDir) -> dict | None:
    """The refit of ``run`` that finished, or None."""
    path = run.path / REFIT_DIR / RECORD
    return read_json(path) if path.is_file() else None


def weights_path(run: RunDir):
    return run.path / REFIT_DIR / WEIGHTS


def plan(run: RunDir, samples: int) -> dict | None:
    """Which trial to refit on ``samples`` samples, and for how many epochs; None without a trained trial."""
    meta = run.meta()
    board = leaderboard(run.path)
    trained = board[board["status"].isin(WITH_MODEL)] if not board.empty else board
    if trained.empty:
        return None
    trial_id = str(trained.iloc[0]["trial"])
    trial = run.trial_record(trial_id)
    objective = meta["objective"]
    best = best_epoch((trial.get("history") or {}).get(objective["name"]) or [], objective["direction"])
    if best is None:
        return None
    protocol = meta["protocol"]
    # cross-validated: the history is the folds' mean curve, each fold trained on protocol["samples"]
    search_epochs = best + 1 if trial.get("folds") else (trial.get("initial_epoch") or 0) + best + 1
    steps = search_epochs * training.steps_per_epoch(protocol["samples"], protocol["batch_size"])
    epochs = max(1, round(steps / training.steps_per_epoch(samples, protocol["batch_size"])))
    return {"trial": trial_id, "epochs": epochs, "steps": steps, "search_epochs": search_epochs,
            "samples": samples, "batch_size": protocol["batch_size"]}


def estimate_seconds(run: RunDir, samples: int) -> float:
    """How long the refit of the best trial so far would take, from that trial's own pace."""
    chosen = plan(run, samples)
    if chosen is None:
        return 0.0
    trial = run.trial_record(chosen["trial"])
    epochs = trial.get("epochs") or 0
    if not epochs or not trial.get("seconds"):
        return 0.0
    per_epoch = trial["seconds"] / epochs * samples / run.meta()["protocol"]["samples"]
    return per_epoch * chosen["epochs"]


def refit(run: RunDir, prepared, architectures: dict, budget=None, seed: int = 0) -> dict | None:
    """Retrain the best trial on training plus validation data; returns the refit's record.

    None when there is nothing to refit, or when the budget ended it before its last
    epoch (the trial's own model then stays the default).
    """
    samples = len(prepared.train[0]) + len(prepared.validation[0])
    chosen = plan(run, samples)
    if chosen is None:
        return None
    hp = trial_hyperparameters(run, chosen["trial"])
    name = hp.values["architecture"]
    hypermodel = JointHyperModel([architectures[name]], prepared.spec)
    keras.utils.set_random_seed(seed)
    model = hypermodel.build(hp)
    protocol = training.Protocol.from_dict(run.meta()["protocol"])
    args, options = fit_arguments(combine(prepared.train, prepared.validation), chosen["batch_size"], shuffle=True,
                                  seed=seed)
    stop = Deadline(budget)
    callbacks = [*training.callbacks(protocol), keras.callbacks.TerminateOnNaN(), stop,
                 *tensorboard.refit_callbacks(run, hp)]
    started = time.time()
    history = hypermodel.fit(hp, model, *args, epochs=chosen["epochs"], callbacks=callbacks, verbose=0, **options)
    losses = (getattr(history, "history", None) or {}).get("loss") or []
    if stop.reason or len(losses) < chosen["epochs"] or not all(loss == loss for loss in losses):
        return None
    worse = _worse_than_the_trial(run, chosen["trial"], hypermodel, hp, model, prepared, chosen["batch_size"])
    if worse:
        return {**chosen, "skipped": worse}
    folder = run.path / REFIT_DIR
    folder.mkdir(exist_ok=True)
    write_atomically(weights_path(run), model.save_weights)
    done = {**chosen, "architecture": name, "seconds": round(time.time() - started, 1),
            "loss": float(losses[-1]), "created": now()}
    write_json(folder / RECORD, done)
    return done


def _worse_than_the_trial(run: RunDir, trial_id: str, hypermodel, hp, model, prepared, batch_size: int) -> str | None:
    """Why the refit model must not replace the trial's own, if it must not.

    The refit cannot be validated (it trained on the validation data), but it can
    be checked on what it trained on: it should fit the training and validation
    data about as well as the trial's best-epoch model, which never saw the
    validation part. An unstable training, where the steps the trial needed land
    the refit on a bad epoch, fits them ``WORSE`` times worse or more, and the
    trial's own model is kept.
    """
    data = combine(prepared.train, prepared.validation)
    args, options = fit_arguments(data, batch_size)
    trial_model = hypermodel.build(hp)
    load_weights_only(trial_model, run.checkpoint(trial_id))
    refit_loss, trial_loss = (float(m.evaluate(*args, verbose=0, return_dict=True, **options)["loss"])
                              for m in (model, trial_model))
    if refit_loss <= WORSE * trial_loss:
        return None
    return (f"the refit fits the training and validation data far worse than trial {trial_id}'s own model (loss "
            f"{refit_loss:.4g} against {trial_loss:.4g}), so that model is used")


def forget(run: RunDir) -> None:
    """Drop the record of an earlier refit: a resumed search may find another best trial."""
    (run.path / REFIT_DIR / RECORD).unlink(missing_ok=True)


class Deadline(keras.callbacks.Callback):
    """Ends the refit when the search's budget is spent (the time kept for it included) or the user stops it."""

    def __init__(self, budget):
        super().__init__()
        self.budget = budget
        self.reason = None

    def on_epoch_end(self, epoch, logs=None):
        self.reason = self.budget.why_stop_now(reserved=False) if self.budget is not None else None
        if self.reason:
            self.model.stop_training = True
