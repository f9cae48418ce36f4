"""Quality: automodel's best test accuracy on digits within a wall-clock budget, beside scikit-learn.

- ``automodel``: ``automodel.search`` on digits with the ``cnn`` plugin, Bayesian
  optimisation and ``time_budget``; the best trial's accuracy on the held-out
  test split (``result.evaluate()``).
- ``scikit-learn``: logistic regression, an RBF support-vector machine and a
  random forest on the flattened pixels, each tuned by a small grid: every
  candidate is fitted on the training split and chosen on the validation split,
  as automodel's trials are, then scored on the test split.

All use automodel's seeded 70/15/15 split of digits. The seconds are the
search's (automodel) or the grid's (each baseline), after the imports.

Child process: ``python -m benchmarks.quality automodel [--budget 120]
[--epochs 20] [--seed 0]`` or ``python -m benchmarks.quality scikit-learn``
prints one JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from benchmarks.fresh import emit, run_module


def measure_automodel(budget: float, epochs: int, seed: int = 0, env: dict | None = None) -> dict:
    return run_module("quality", "automodel", "--budget", budget, "--epochs", epochs, "--seed", seed, env=env)


def measure_baselines(seed: int = 0) -> dict:
    return run_module("quality", "scikit-learn", "--seed", seed)


def with_automodel(budget: float, epochs: int, seed: int) -> dict:
    import automodel

    automodel.get_architectures()
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        result = automodel.search(
            data="digits", architectures=["cnn"], tuner="bayesian", max_trials=1000, epochs=epochs,
            time_budget=budget, seed=seed, directory=directory, name="quality",
        )
        seconds = time.perf_counter() - started
        board = result.leaderboard()
        return {
            "seconds": seconds,
            "test_accuracy": float(result.evaluate()["accuracy"]),
            "trials": int((board["status"] == "completed").sum()),
        }


def baselines() -> dict:
    """name: (estimator, grid of its parameters)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "logistic regression": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            {"logisticregression__C": [0.01, 0.1, 1, 10]},
        ),
        "SVC (RBF kernel)": (
            make_pipeline(StandardScaler(), SVC()),
            {"svc__C": [1, 3, 10, 30], "svc__gamma": ["scale", 0.001, 0.003, 0.01]},
        ),
        "random forest": (
            RandomForestClassifier(random_state=0),
            {"n_estimators": [100, 300], "max_features": ["sqrt", 0.3]},
        ),
    }


def with_scikit_learn(seed: int) -> dict:
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from automodel.data import prepare

    data = prepare(None, "digits", seed=seed)
    flat = [(split[0].reshape(len(split[0]), -1), split[1]) for split in (data.train, data.validation, data.test)]
    (xt, yt), (xv, yv), (xs, ys) = flat
    out = {}
    for name, (estimator, grid) in baselines().items():
        started = time.perf_counter()
        fitted = [clone(estimator).set_params(**params).fit(xt, yt) for params in ParameterGrid(grid)]
        best = max(fitted, key=lambda model: model.score(xv, yv))
        out[name] = {"seconds": time.perf_counter() - started, "test_accuracy": float(best.score(xs, ys)),
                     "candidates": len(fitted)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=("automodel", "scikit-learn"))
    parser.add_argument("--budget", type=float, default=120, help="automodel's time budget, seconds")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.variant == "automodel":
        from automodel.startup import load_tensorflow

        load_tensorflow()
        emit(with_automodel(args.budget, args.epochs, args.seed))
    else:
        emit(with_scikit_learn(args.seed))


if __name__ == "__main__":
    main()
