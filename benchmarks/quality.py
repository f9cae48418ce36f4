"""Quality: automodel's test score within a time budget, beside the baselines a user would otherwise pick.

For each data set of ``quality_data.py`` and each method, one measurement in a
fresh process: automodel with each time budget, the plain KerasTuner search
with the same budgets, and the fixed-cost baselines of ``baselines.py``
(scikit-learn grids, 1-NN, MiniRocket). automodel runs as a user runs it:
``automodel.search(task=..., data=training set, test_data=test set,
time_budget=...)``, with no trial count, epochs, batch size or patience, so its
own defaults decide how to train; every installed architecture for the task
takes part, less any that cannot start on this machine (vgg16 without its
ImageNet weights offline), which the row notes. Series of unequal length reach
it padded with its own padding value, which its models mask
(``quality_data.Dataset.for_automodel``).

Which methods run where: 1-NN and the scikit-learn grids on every data set,
MiniRocket on sequences only (it is a time-series method). The neural searches
train on the device the parent chose (the first GPU when there is one), the
rest on the CPU.

Child processes (each prints one JSON line):
``python -m benchmarks.quality describe NAME [--seed 0]`` and
``python -m benchmarks.quality run NAME METHOD [--budget 120] [--epochs 20] [--seed 0] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import tempfile
import time

import numpy as np

from benchmarks import baselines
from benchmarks.fresh import HIDE_GPUS, emit, run_module
from benchmarks.quality_data import AEON_MISSING, DATASETS, load, needs_aeon

# method -> column heading; the budgeted ones get one column per budget
METHODS = {
    "linear": "logistic regression / ridge",
    "svm": "SVM, RBF kernel",
    "forest": "random forest",
    "1-NN": "1-NN, Euclidean",
    "MiniRocket": "MiniRocket",
    "keras-tuner": "plain KerasTuner",
    "automodel": "automodel",
}
BUDGETED = ("keras-tuner", "automodel")
SEQUENCES_ONLY = ("MiniRocket",)
NEEDS_AEON = ("MiniRocket",)


def columns(budgets) -> list[dict]:
    """The table's method columns in order: ``key`` (heading), ``method`` and ``budget`` (or None)."""
    out = []
    for method, heading in METHODS.items():
        for budget in budgets if method in BUDGETED else (None,):
            key = heading if budget is None else f"{heading}, {budget:g} s"
            out.append({"key": key, "method": method, "budget": budget})
    return out


def applies(method: str, task: str) -> bool:
    return method not in SEQUENCES_ONLY or task.startswith("sequence")


def measure(settings: dict, progress, env: dict) -> dict:
    """Every data set x method x budget, each in a fresh process; ``env`` is the neural searches' device."""
    seed, epochs = settings["seed"], settings["peer_epochs"]
    has_aeon = importlib.util.find_spec("aeon") is not None
    if not has_aeon:
        progress(f"quality: {AEON_MISSING}; its data sets and MiniRocket are left out")
    cols = columns(settings["budgets"])
    rows = []
    for name in settings["datasets"]:
        row = {"dataset": name, "cells": {}}
        rows.append(row)
        if needs_aeon(name) and not has_aeon:
            row["error"] = AEON_MISSING
            continue
        row.update(progress.attempt(f"quality: {name}", lambda: run_module("quality", "describe", name, "--seed", seed),
                                    _describe_summary))
        if "error" in row:
            continue
        for column in cols:
            method, budget = column["method"], column["budget"]
            if not applies(method, row["task"]):
                continue
            if method in NEEDS_AEON and not has_aeon:
                row["cells"][column["key"]] = {"error": AEON_MISSING}
                continue
            options = ("--budget", budget, "--epochs", epochs) if budget else ()
            row["cells"][column["key"]] = progress.attempt(
                f"quality: {name}, {column['key']}",
                lambda: run_module("quality", "run", name, method, "--seed", seed, *options,
                                   env=env if method in BUDGETED else HIDE_GPUS,
                                   timeout=2 * budget + 600 if budget else 1800),
                _run_summary,
            )
    return {"columns": cols, "rows": rows}


def _describe_summary(info: dict) -> str:
    classes = f"{info['classes']} classes" if info["classes"] else "regression"
    return (f"{info['n_train']} training ({info['n_fit']} + {info['n_validation']} validation), "
            f"{info['n_test']} test, {classes}")


def _run_summary(run: dict) -> str:
    trials = f", {run['trials']} trial{'' if run['trials'] == 1 else 's'}" if "trials" in run else ""
    return f"{run['metric']} {run['score']:.4f} in {run['seconds']:.1f} s{trials}"


def with_automodel(dataset, budget: float, seed: int, keep: str | None = None) -> dict:
    """automodel's search as a user calls it; ``keep``: a directory to keep its run in (default a temporary one)."""
    import automodel

    train, test = dataset.for_automodel()
    with contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        result = automodel.search(
            task=dataset.task, data=train, test_data=test, time_budget=budget, seed=seed,
            directory=directory, name=dataset.name,
        )
        seconds = time.perf_counter() - started
        statuses = result.leaderboard()["status"]
        chosen = result.ensemble_record() or {}
        default = result.resolve()[0]
        models = {"single": _model_on_test(result, dataset, test, result.best_single())}
        if chosen.get("members"):
            models["ensemble"] = {**_model_on_test(result, dataset, test, "ensemble"), "members": len(chosen["members"])}
        return {
            "score": models["ensemble" if default == "ensemble" else "single"]["score"], "seconds": seconds,
            "trials": int((statuses == "completed").sum()), "pruned": int((statuses == "pruned").sum()),
            "validation": result.run.meta().get("validation"), "left_out": _left_out(result),
            "default": "ensemble" if default == "ensemble" else "single", "models": models,
            **({"no_ensemble": chosen["skipped"]} if "skipped" in chosen else {}),
        }


def _model_on_test(result, dataset, test, choice: str, repeats: int = 3) -> dict:
    """One model's test score, and its prediction time per sample (the median of ``repeats``, after a warm-up)."""
    if dataset.classification:
        score = float(result.evaluate(trial_id=choice)["accuracy"])  # the held-out test split
    else:
        score = baselines.score(dataset, result.predict(test[0], trial_id=choice))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result.predict(test[0], trial_id=choice)
        times.append(time.perf_counter() - started)
    return {"score": score, "ms_per_sample": 1e3 * float(np.median(times)) / len(test[0])}


def _left_out(result) -> dict:
    """name: the first words of why, for the architectures the search left out (weights it could not fetch)."""
    return {name: why.split(" (")[0].split(". ")[0] for name, why in (result.run.meta().get("left_out") or {}).items()}


def run(name: str, method: str, budget: float, epochs: int, seed: int, keep: str | None = None) -> dict:
    """One measurement of ``method`` on the data set ``name``, with the metric it is scored by."""
    dataset = load(name, seed)
    if method == "automodel":
        from automodel.startup import load_tensorflow

        load_tensorflow()
        measured = with_automodel(dataset, budget, seed, keep)
    elif method == "keras-tuner":
        measured = baselines.keras_tuner(dataset, budget, epochs, seed)
    elif method == "1-NN":
        measured = baselines.nearest_neighbour(dataset)
    elif method == "MiniRocket":
        measured = baselines.minirocket(dataset, seed)
    else:
        measured = baselines.grid(dataset, method)
    return {"metric": "accuracy" if dataset.classification else "RMSE", **measured}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("describe", "run"))
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("method", nargs="?", choices=METHODS)
    parser.add_argument("--budget", type=float, default=120, help="the neural searches' time budget, seconds")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each plain KerasTuner trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="keep automodel's run directory under DIR, to read its leaderboard")
    args = parser.parse_args()
    if args.action == "describe":
        emit(load(args.dataset, args.seed).describe())
    elif args.method is None:
        parser.error("run needs a METHOD")
    else:
        emit(run(args.dataset, args.method, args.budget, args.epochs, args.seed, args.keep))


if __name__ == "__main__":
    main()
