"""``automodel.search``: check everything, then let KerasTuner explore one joint space.

(The design guide calls this module ``search.py``; it is ``engine.py`` so that the
submodule never shadows the ``automodel.search`` function.)

Order matters here: settings, data and plugins are all validated before the run
directory is touched or a model is built, and an existing run directory is
resumed, never silently replaced.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import shutil
import threading
from pathlib import Path

import keras_tuner as kt

from . import registry
from .data import PreparedData, prepare
from .errors import DataError, SearchError
from .hypermodel import JointHyperModel
from .result import SearchResult
from .rundir import RunDir
from .tuners import TUNERS, Budget, SearchStopped, make_tuner, parse_duration

# run.json keys that must match for a run directory to be resumed
RESUME_KEYS = ("task", "architectures", "tuner", "seed")


def search(
    task: str | None = None,
    data="digits",
    architectures: list[str] | None = None,
    tuner: str = "bayesian",
    max_trials: int = 10,
    epochs: int = 10,
    time_budget=None,
    directory="automodel-runs",
    name: str | None = None,
    seed: int = 42,
    overwrite: bool = False,
    batch_size: int = 32,
    patience: int = 5,
    max_consecutive_failures: int = 3,
    max_params: int | None = None,
    reporter=None,
    stop_event: threading.Event | None = None,
) -> SearchResult:
    """Search models for ``task`` on ``data`` and return the result.

    ``data`` is a built-in data set name (``"digits"``) or ``(x, y)`` arrays.
    ``architectures`` defaults to every installed one for the task. The run
    directory ``directory/name`` resumes if it exists (``overwrite=True`` starts
    over). ``time_budget`` is seconds or a string like ``"15m"``. ``reporter``,
    if given, is called as ``reporter(event, **info)`` for ``trial_start``,
    ``epoch_end`` and ``trial_end``; setting ``stop_event`` ends the search after
    the current epoch, keeping what finished.
    """
    budget_seconds = _check_settings(tuner, max_trials, epochs, time_budget, batch_size, patience)
    prepared = prepare(task, data, seed=seed)
    chosen = _choose_architectures(prepared.spec.task, architectures)
    run = RunDir(Path(directory) / (name or (data if isinstance(data, str) else prepared.spec.task)))
    meta = _run_meta(prepared, chosen, tuner, max_trials, epochs, batch_size, seed)
    _open_run_dir(run, meta, overwrite)
    run.save_test_data(*prepared.test)

    budget = Budget(budget_seconds, stop_event)
    kt_tuner = make_tuner(
        tuner,
        JointHyperModel(chosen, prepared.spec),
        objective=kt.Objective(prepared.spec.objective, prepared.spec.direction),
        max_trials=max_trials,
        epochs=epochs,
        seed=seed,
        run=run,
        budget=budget,
        patience=patience,
        max_consecutive_failures=max_consecutive_failures,
        max_params=max_params,
        reporter=reporter,
    )
    status = "failed"
    try:
        kt_tuner.search(
            *prepared.train,
            validation_data=prepared.validation,
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
        )
        status = "finished"
    except SearchStopped as stop:
        status = f"stopped: {stop}"
    except RuntimeError as exc:
        if "consecutive failures" not in str(exc):
            raise
        raise SearchError(
            f"{max_consecutive_failures} trials in a row failed, so the search stopped. "
            f"Last error: {str(exc).strip().splitlines()[-1]}. See the leaderboard's "
            "reason column; fix the plugin or data, or raise max_consecutive_failures."
        ) from exc
    finally:
        run.update_meta(status=status, updated=_now())
    return SearchResult(run.path)


def _check_settings(tuner, max_trials, epochs, time_budget, batch_size, patience) -> float | None:
    if tuner not in TUNERS:
        raise SearchError(f"Unknown tuner {tuner!r}. Choose one of: {', '.join(TUNERS)}.")
    for label, value in (("max_trials", max_trials), ("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SearchError(f"{label}={value!r}: pass a whole number of at least 1.")
    if not isinstance(patience, int) or patience < 1:
        raise SearchError(f"patience={patience!r}: pass a whole number of epochs, at least 1.")
    return parse_duration(time_budget)


def _choose_architectures(task: str, names: list[str] | None):
    available = registry.get_architectures(task)
    if names is None:
        if not available:
            raise SearchError(
                f"No installed architecture supports task {task!r}. "
                "Run `automodel plugins` to see what is installed."
            )
        return list(available.values())
    if isinstance(names, str):
        names = [names]
    if not names:
        raise SearchError("architectures is empty: name at least one, or pass None for all.")
    chosen = []
    for name in dict.fromkeys(names):
        arch = registry.get_architecture(name)
        if task not in arch.tasks:
            raise SearchError(
                f"Architecture {name!r} does not support task {task!r} (it supports "
                f"{', '.join(arch.tasks)}). For {task!r} use: {', '.join(sorted(available)) or 'none installed'}."
            )
        chosen.append(arch)
    return chosen


def _versions() -> dict:
    versions = {}
    for dist in ("automodel", "tensorflow", "keras", "keras-tuner"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _run_meta(prepared: PreparedData, chosen, tuner, max_trials, epochs, batch_size, seed) -> dict:
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
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "versions": _versions(),
        "created": _now(),
        "status": "running",
    }


def _open_run_dir(run: RunDir, meta: dict, overwrite: bool) -> None:
    """Create, resume or (when asked) replace the run directory."""
    path = run.path
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
                f"{meta['data']['fingerprint']}, input shape {meta['spec']['input_shape']}; "
                f"the run has {old['data']['fingerprint']}, input shape "
                f"{old['spec']['input_shape']}). Pass the same data, choose another name, "
                "or overwrite=True to start over."
            )
        changed = [key for key in RESUME_KEYS if old.get(key) != meta.get(key)]
        if changed:
            details = "; ".join(f"{key}: run has {old.get(key)!r}, asked {meta.get(key)!r}" for key in changed)
            raise SearchError(
                f"Cannot resume {path} with different settings ({details}). "
                "Choose another name, or overwrite=True to start over."
            )
        meta = {**old, "max_trials": meta["max_trials"], "epochs": meta["epochs"], "status": "running"}
    run.write_meta(meta)
