"""``automodel.search``: check everything, then let KerasTuner explore one joint space.

This module orchestrates the layers below it: the data layer (``automodel.data``),
the engine (``automodel.engine``), worker processes (``automodel.distributed``) and
the run directory (``automodel.runs``). It sits above them all so that the engine
need not know about worker processes, nor the workers about ``search()``; it is
not called ``search.py`` so that it never shadows the ``automodel.search`` function.

Order matters here: settings, data and plugins are all validated before the run
directory is touched or a model is built, and an existing run directory is
resumed, never silently replaced.
"""

from __future__ import annotations

import functools
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np

from . import registry, selection
from . import settings as search_settings
from .data.prepared import PreparedData, combine, in_memory, prepare
from .distributed import plan as distributed
from .engine import ensemble, predictions, refit, trials
from .engine import protocol as training
from .engine import validation as validating
from .engine.budget import Budget, SearchStopped
from .engine.tuners import consecutive_failures_error
from .errors import DataError, SearchError, last_line
from .insight.diagnostics import DIAGNOSTICS
from .result import SearchResult
from .runs import events, liveness, stop
from .runs.leaderboard import WITH_MODEL
from .runs.rundir import TEST_DATA, RunDir, now
from .settings import DEFAULTS

# distributions whose versions run.json records
TRAINED_WITH = ("automodel", "tensorflow", "keras", "keras-tuner")
# run.json keys that must match for a run directory to be resumed
RESUME_KEYS = ("task", "architectures", "configured", "tuner", "seed", "validation")
# run.json keys a resumed search takes from the new call (and records as changed)
RESUMED_WITH = ("epochs", "batch_size", "protocol", "max_params", "max_consecutive_failures")


def _one_search_at_a_time(function):
    """Keras' session, KerasTuner's flags and its printing belong to the process: refuse a second search in it.

    Exports may run beside a search (the desktop app runs two at once); a second
    search, from another panel or thread, gets a clear error instead of trials
    that clear each other's Keras session.
    """
    lock = threading.Lock()

    @functools.wraps(function)
    def one_at_a_time(*args, **kwargs):
        if not lock.acquire(blocking=False):
            raise SearchError("Another search is running in this process (another panel or thread). Wait for it to "
                              "end or stop it, or start this one in another kernel or terminal.")
        try:
            return function(*args, **kwargs)
        finally:
            lock.release()

    return one_at_a_time


@_one_search_at_a_time
def search(
    task: str | None = None,
    data="digits",
    architectures: list[str] | None = None,
    tuner: str = DEFAULTS["tuner"],
    max_trials: int | None = DEFAULTS["max_trials"],
    epochs: int | None = DEFAULTS["epochs"],
    time_budget=None,
    directory=DEFAULTS["directory"],
    name: str | None = None,
    seed: int = DEFAULTS["seed"],
    overwrite: bool = False,
    batch_size: int | None = DEFAULTS["batch_size"],
    patience: int | None = DEFAULTS["patience"],
    max_consecutive_failures: int = DEFAULTS["max_consecutive_failures"],
    max_params: int | None = None,
    reporter=None,
    stop_event: threading.Event | None = None,
    workers="auto",
    trials_per_gpu: int = 1,
    strategy: str | None = None,
    bind: str | None = None,
    max_worker_memory=None,
    target=None,
    validation_data=None,
    test_data=None,
    validation: str = DEFAULTS["validation"],
    max_ensemble_size: int | None = DEFAULTS["max_ensemble_size"],
) -> SearchResult:
    """Search models for ``task`` on ``data`` and return the result.

    ``data`` is a built-in data set name (``"digits"``), ``(x, y)`` arrays, a
    pandas DataFrame or CSV path with a ``target`` column (or list of columns), a
    ``tf.data.Dataset`` of ``(x, y)``, an ``.npz`` file, or
    ``automodel.data.image_folder(path)``. ``validation_data`` and ``test_data``,
    in the same forms, replace the splits otherwise taken from ``data``.
    ``architectures`` (names, or configured ``Architecture`` instances) defaults
    to every installed one for the task. The run
    directory ``directory/name`` resumes if it exists (``overwrite=True`` starts
    over). ``time_budget`` is seconds or a string like ``"15m"``; with a budget and no
    ``max_trials`` the search runs until the time is spent (without either, 10 trials).
    ``epochs``, ``batch_size`` and ``patience`` default to choices that follow from
    the number of training samples (``engine/protocol.py``). Known-good configurations of
    each architecture run first (``engine/portfolio.py``), trials clearly below the others
    are pruned (``engine/pruning.py``), and the best trial is finally retrained on training
    plus validation data (``engine/refit.py``); an ensemble of trials is selected on their
    validation predictions (``engine/ensemble.py``, at most ``max_ensemble_size`` models) and
    becomes the default model if it scores better. ``validation="auto"`` cross-validates
    each trial on small data (``engine/validation.py``; ``"split"`` or ``"cv"`` choose).
    ``reporter``, if given, is called as ``reporter(event, **fields)`` for each event of
    ``automodel/runs/events.py`` (``search_start``, ``trial_start``, ``epoch_end``,
    ``trial_end``, ``ensemble``, ``refit_start``, ``refit_end``); setting ``stop_event``
    ends the search after the current epoch, keeping what finished.

    ``workers="auto"`` trains one trial per visible GPU, each in its own worker
    process (``trials_per_gpu`` shares a GPU between several), and in this
    process where there is at most one GPU; ``None`` trains every trial in this
    process whatever GPUs are visible; an integer starts that many worker
    processes. ``strategy="mirrored"`` trains each trial over all local GPUs.
    ``bind`` is where the chief listens for workers (default ``127.0.0.1``, any
    port); every call to it carries the session's token (``AUTOMODEL_TOKEN``, else
    a new one, in ``RUN/chief_token``); a worker process over ``max_worker_memory``
    is replaced between trials.
    See ``automodel.distributed``.
    """
    budget_seconds = search_settings.check(
        tuner, max_trials, epochs, time_budget, batch_size, patience, max_params, max_consecutive_failures
    )
    search_settings.check_ensemble_size(max_ensemble_size)
    plan = distributed.plan(workers, trials_per_gpu, strategy, bind, max_worker_memory)
    prepared = prepare(task, data, seed=seed, target=target, validation_data=validation_data, test_data=test_data)
    how_validated, plan_of_training = _training_plan(prepared, validation, budget_seconds, batch_size, epochs, patience)
    chosen = selection.choose(prepared.spec.task, architectures)
    configured, unportable = selection.configurations(chosen)  # before prepare changes them
    plan = distributed.keep_in_process(plan, unportable, workers, bind)
    chosen, left_out = selection.prepare(chosen, prepared.spec, named=architectures is not None)
    configured = {arch.name: configured[arch.name] for arch in chosen if arch.name in configured}

    run = RunDir(Path(directory) / (name or _default_name(data, prepared.spec.task)))
    meta = {**_run_meta(prepared, chosen, tuner, max_trials, plan_of_training, seed, max_params,
                       max_consecutive_failures), "validation": how_validated,
            **({"left_out": left_out} if left_out else {}), **({"configured": configured} if configured else {})}
    meta = _open_run_dir(run, meta, overwrite)
    # a heartbeat tells readers the search lives (runs/liveness.py); Ctrl-C stops it after the epoch
    with liveness.beating(run), stop.on_interrupt(run):
        run.write_meta(meta)
        _start_session(run, prepared, how_validated, seed)
        # a stop asked from outside (another process, the desktop app's Runs tab) ends it too
        budget = Budget(budget_seconds, stop_event, stop_request=lambda: stop.stop_reason(run))
        settings = dict(
            tuner=tuner,
            max_trials=search_settings.trial_limit(max_trials, budget_seconds),
            epochs=plan_of_training.epochs,
            seed=seed,
            batch_size=plan_of_training.batch_size,
            patience=plan_of_training.patience,
            protocol=plan_of_training.to_dict(),
            trial_cap=budget.trial_cap,  # worker processes' budgets know only the deadline
            validation=how_validated,
            max_consecutive_failures=max_consecutive_failures,
            max_params=max_params,
            strategy=strategy,
        )
        refits = prepared.spec.target != "generation"
        if refits:
            refit.forget(run)  # a resumed search may end with another best trial
            budget.reserve_for = lambda: refit.estimate_seconds(run, _samples(prepared))
            budget.trial_ended()  # a resumed run already has a best trial
        events.report(reporter, "search_start", max_trials=max_trials, epochs=plan_of_training.epochs,
                      batch_size=plan_of_training.batch_size, patience=plan_of_training.patience)
        if plan.distributed:
            distributed.search_with_workers(plan, run, prepared, settings, budget, reporter)
        else:
            _search_here(run, prepared, chosen, settings, budget, reporter)
        chosen_ensemble = ensemble.build(run, max_ensemble_size)
        events.report(reporter, "ensemble", record=chosen_ensemble, objective=prepared.spec.objective)
        if refits and not _stopped_by_user(budget):
            _final_refit(run, prepared, chosen, budget, seed, reporter)
        result = SearchResult(run.path, chosen)
        _save_diagnostics(result)
        return result


def _training_plan(prepared: PreparedData, validation: str, budget_seconds, batch_size, epochs, patience):
    """How trials are validated (one split or k folds), and how each trains (batch size, epochs, patience)."""
    samples = _samples(prepared)
    how_validated = validating.choose(validation, samples, budget_seconds, _why_not_folds(prepared))
    folds = how_validated.get("folds")
    trained_on = len(prepared.train[0]) if how_validated["method"] == "split" else samples * (folds - 1) // folds
    return how_validated, training.choose(trained_on, batch_size, epochs, patience)


def _samples(prepared: PreparedData) -> int:
    """Training and validation samples: what cross-validation folds and the final refit trains on."""
    return len(prepared.train[0]) + len(prepared.validation[0])


def _start_session(run: RunDir, prepared: PreparedData, how_validated: dict, seed: int) -> None:
    """What every trial, worker and later reader needs in the run directory before the first trial."""
    run.save_test_data(*prepared.test[:2])  # an image folder stores its file list
    ensemble.forget(run)  # a resumed search selects its own
    if prepared.spec.target != "generation":  # what the trials' validation predictions are scored on
        cv = how_validated["method"] == "cv"
        scored = combine(prepared.train, prepared.validation) if cv else prepared.validation
        predictions.save_targets(run, scored[1])
    _prepare_objective(run, prepared, seed)
    stop.forget_stop(run)


def _search_here(run: RunDir, prepared: PreparedData, chosen, settings: dict, budget: Budget, reporter) -> None:
    """The trials in this process; run.json says how the search ended, whatever ends it."""
    status = "failed"
    try:
        trials.run_trials(trials.build_tuner(run, prepared, chosen, settings, budget, reporter), prepared, settings)
        status = "finished"
    except SearchStopped as stopped:
        status = f"stopped: {stopped}"
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread's handler
        status = f"stopped: {stop.INTERRUPTED}"
        raise
    except RuntimeError as exc:
        if "consecutive failures" not in str(exc):
            raise
        raise consecutive_failures_error(settings["max_consecutive_failures"], exc) from exc
    finally:
        run.update_meta(status=status, updated=now())


def _why_not_folds(prepared: PreparedData) -> str | None:
    """Why this data cannot be cross-validated, if it cannot."""
    if prepared.spec.target == "generation":
        return "image generation has no validation score to average"
    if prepared.source == "image_folder":
        return "the images stream from a folder"
    if "validation" in prepared.given:
        return "validation_data was given"
    if prepared.classes is not None:
        counts = np.bincount(combine(prepared.train, prepared.validation)[1], minlength=len(prepared.classes))
        if counts.min() < 2:
            return "a class has fewer than 2 training and validation samples"
    return None


def _stopped_by_user(budget: Budget) -> bool:
    reason = budget.why_stop_now(reserved=False)
    return reason is not None and "time budget" not in reason


def _final_refit(run: RunDir, prepared: PreparedData, chosen, budget: Budget, seed: int, reporter) -> None:
    """Retrain the best trial on training plus validation data, and say so in run.json."""
    if budget.reserve_for() > budget.remaining(reserved=False):
        run.update_meta(refit={"skipped": "no time left in the budget for it, so the best trial's own model is used"})
        return
    events.report(reporter, "refit_start")
    try:
        done = refit.refit(run, prepared, {arch.name: arch for arch in chosen}, budget, seed)
    except Exception as exc:  # a plugin that fails now must not lose the search: its trials stand
        warnings.warn(f"automodel: the final refit failed ({last_line(str(exc))}); the best trial's own model is used.",
                      stacklevel=3)
        run.update_meta(refit={"skipped": f"the refit failed: {last_line(str(exc))}"})
        return
    run.update_meta(refit=done or {"skipped": "the time budget ended it, so the best trial's own model is used"})
    events.report(reporter, "refit_end", record=done)


def _save_diagnostics(result: SearchResult) -> None:
    """The chosen model's diagnostics on the test split (RUN/diagnostics.json), for the panel and the report.

    A failure only warns: the search and its models stand. Generation has none
    (its sample grid is the diagnostic), nor has a run without a trained trial.
    """
    (result.path / DIAGNOSTICS).unlink(missing_ok=True)  # an earlier session's, of another model
    trained = result.leaderboard()["status"].isin(WITH_MODEL).any()
    if result.spec.target == "generation" or not (result.path / TEST_DATA).is_file() or not trained:
        return
    try:
        result.diagnostics(save=True)
    except Exception as exc:
        warnings.warn(f"automodel: the diagnostics of the chosen model on the test split failed "
                      f"({last_line(str(exc))}); the search's models are kept.", stacklevel=3)


def _prepare_objective(run: RunDir, prepared: PreparedData, seed: int) -> None:
    """Train generation's feature network once, here, before any trial or worker process needs it."""
    if prepared.spec.target == "generation":
        from .engine.generation import ensure_feature_model

        ensure_feature_model(run, prepared.spec, in_memory(prepared.train), in_memory(prepared.validation), seed)


def _default_name(data, task: str) -> str:
    """The data set's name for its own task, else the data set and task, else the task."""
    if not isinstance(data, str) or data not in registry.get_datasets():
        return task
    return data if registry.get_dataset(data).tasks[0] == task else f"{data}-{task}"


def _run_meta(prepared: PreparedData, chosen, tuner, max_trials, protocol: training.Protocol, seed, max_params,
              max_consecutive_failures) -> dict:
    spec = prepared.spec
    return {
        "task": spec.task,
        "spec": spec.to_dict(),
        "classes": prepared.classes,
        "data": prepared.summary(),
        "objective": {"name": spec.objective, "direction": spec.direction},
        "architectures": [arch.name for arch in chosen],
        "tuner": tuner,
        "max_trials": max_trials,
        "epochs": protocol.epochs,
        "batch_size": protocol.batch_size,
        "protocol": protocol.to_dict(),
        "max_params": max_params,
        "max_consecutive_failures": max_consecutive_failures,
        "seed": seed,
        "versions": {dist: registry.distribution_version(dist) for dist in TRAINED_WITH},
        "created": now(),
        "status": "running",
    }


def _open_run_dir(run: RunDir, meta: dict, overwrite: bool) -> None:
    """The run.json to write: a new run's, or the resumed run's with the settings asked now.

    Refuses a directory that is not a run, or a run another search is running;
    with ``overwrite`` the old run is deleted.
    """
    path = run.path
    if run.is_run() and liveness.status(run) == "running":
        raise SearchError(f"{path} is being searched now by {liveness.owner(run)}. Wait for it to end, stop it "
                          f"(automodel stop {path}), or choose another name.")
    if path.exists() and not run.is_run() and any(path.iterdir()):
        raise SearchError(
            f"{path} exists and is not an automodel run directory; automodel will not "
            "write into it. Choose another name or directory."
        )
    if run.is_run() and overwrite:
        shutil.rmtree(path)
    if run.is_run():
        old = run.meta()
        if old["data"]["fingerprint"] != meta["data"]["fingerprint"]:
            raise DataError(
                f"The data differs from the run being resumed in {path} (fingerprint "
                f"{meta['data']['fingerprint']}, input shape {tuple(meta['spec']['input_shape'])}; "
                f"the run has {old['data']['fingerprint']}, input shape "
                f"{tuple(old['spec']['input_shape'])}). Pass the same data, choose another name, "
                "or overwrite=True to start over."
            )
        changed = [key for key in RESUME_KEYS if old.get(key) != meta.get(key)]
        if changed:
            details = "; ".join(f"{key}: run has {old.get(key)!r}, asked {meta.get(key)!r}" for key in changed)
            raise SearchError(
                f"Cannot resume {path} with different settings ({details}). "
                "Choose another name, or overwrite=True to start over."
            )
        meta = _resumed(old, meta)
    return meta


def _training_settings(meta: dict) -> dict:
    """What trains each trial: the protocol's choices (not which of them were given) and the limits."""
    protocol = {key: value for key, value in (meta.get("protocol") or {}).items() if key != "given"}
    return {**protocol, "max_params": meta.get("max_params"),
            "max_consecutive_failures": meta.get("max_consecutive_failures")}


def _resumed(old: dict, asked: dict) -> dict:
    """Resume with the training settings asked now: later trials train with them, run.json records the change."""
    before, now_asked = _training_settings(old), _training_settings(asked)
    changed = {key: [before.get(key), value] for key, value in now_asked.items() if before.get(key) != value}
    meta = {**old, **{key: asked.get(key) for key in RESUMED_WITH}, "max_trials": asked["max_trials"],
            "status": "running"}
    if changed:
        meta["resumed"] = [*old.get("resumed", []), {"time": now(), "changed": changed}]
        warnings.warn("automodel: resuming with changed training settings (" + "; ".join(
            f"{key}: {was!r} -> {now_!r}" for key, (was, now_) in changed.items()) + "); the trials already "
            "run keep theirs, and run.json records the change under 'resumed'.", stacklevel=4)
    return meta
