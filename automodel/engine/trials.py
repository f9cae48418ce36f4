"""Build the search's KerasTuner tuner and run its trials: alike in the searching process, a worker and the chief."""

from __future__ import annotations

import keras_tuner as kt

from ..data.prepared import PreparedData, combine, fit_arguments, in_memory, validation_argument
from ..runs.rundir import RunDir
from . import portfolio
from . import protocol as training
from . import validation as validating
from .hypermodel import JointHyperModel
from .pruning import MedianPruner
from .tensorboard import TrialLogs
from .tuners import make_tuner


def build_tuner(run: RunDir, prepared: PreparedData, chosen, settings: dict, budget, reporter=None, *, trains=True, mixins=()):
    """The search's KerasTuner tuner, built alike here, in a worker and in the chief.

    The chief only serves the oracle (``trains=False``), so it skips what training needs.
    """
    hypermodel = JointHyperModel(chosen, prepared.spec)
    objective, direction = prepared.spec.objective, prepared.spec.direction
    protocol = training.Protocol.from_dict(settings["protocol"])
    schedule = (lambda: training.callbacks(protocol)) if prepared.spec.target != "generation" else None
    folds = None
    if settings["validation"]["method"] == "cv":
        y = combine(prepared.train, prepared.validation)[1]
        folds = validating.fold_indices(y, settings["validation"]["folds"], settings["seed"], prepared.classes is not None)
    return make_tuner(
        settings["tuner"],
        hypermodel,
        objective=kt.Objective(prepared.spec.objective, prepared.spec.direction),
        max_trials=settings["max_trials"],
        epochs=settings["epochs"],
        seed=settings["seed"],
        run=run,
        budget=budget,
        patience=settings["patience"],
        max_consecutive_failures=settings["max_consecutive_failures"],
        max_params=settings["max_params"],
        reporter=reporter,
        trial_callbacks=_task_callbacks(run, prepared, hypermodel) if trains else None,
        strategy=settings["strategy"] if trains else None,
        mixins=(*mixins, TrialLogs) if trains else mixins,  # RUN/tensorboard (engine/tensorboard.py)
        first_trials=portfolio.entries(chosen, prepared.spec),
        schedule=schedule,
        pruner=MedianPruner(run, objective, direction, warmup_epochs=settings["patience"]),
        folds=folds,
    )


def run_trials(kt_tuner, prepared: PreparedData, settings: dict) -> None:
    """Run KerasTuner's trial loop on the prepared splits."""
    batch_size = settings["batch_size"]
    folded = settings["validation"]["method"] == "cv"  # the tuner splits train + validation into its folds
    train = combine(prepared.train, prepared.validation) if folded else prepared.train
    args, options = fit_arguments(train, batch_size, shuffle=True, seed=settings["seed"])
    kt_tuner.search(
        *args,
        validation_data=None if folded else validation_argument(prepared.validation, batch_size),
        epochs=settings["epochs"],
        verbose=0,
        **options,
    )


def _task_callbacks(run: RunDir, prepared: PreparedData, hypermodel):
    if prepared.spec.target != "generation":
        return None
    from .generation import trial_callbacks

    return trial_callbacks(run, prepared.spec, in_memory(prepared.validation)[0], hypermodel)
