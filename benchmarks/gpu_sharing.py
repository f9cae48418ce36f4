"""Trials per hour on one GPU, with one trial at a time and with several sharing it.

``automodel.search(workers="auto", trials_per_gpu=k)`` on one visible GPU: with
``k=1`` the trials run one after another in the search process; with ``k>1``
automodel starts ``k`` worker processes on that GPU (memory growth on), fed by
KerasTuner's chief. Small models leave most of a GPU idle, which is what
sharing reclaims; the worker processes' start-up is in the time.

Child process: ``python -m benchmarks.gpu_sharing --trials-per-gpu K [--trials 16]
[--epochs 5] [--seed 0]``, with ``CUDA_VISIBLE_DEVICES`` naming one GPU, prints
one JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from benchmarks.fresh import emit, run_module


def measure(trials_per_gpu: int, trials: int, epochs: int, gpu: str, seed: int = 0) -> dict:
    return run_module(
        "gpu_sharing", "--trials-per-gpu", trials_per_gpu, "--trials", trials, "--epochs", epochs, "--seed", seed,
        env={"CUDA_VISIBLE_DEVICES": gpu},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-per-gpu", type=int, required=True)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import automodel
    from automodel.startup import load_tensorflow

    load_tensorflow()
    automodel.get_architectures()
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        result = automodel.search(
            data="digits", architectures=["cnn"], tuner="random", max_trials=args.trials, epochs=args.epochs,
            seed=args.seed, workers="auto", trials_per_gpu=args.trials_per_gpu, directory=directory, name="sharing",
        )
        seconds = time.perf_counter() - started
        completed = int((result.leaderboard()["status"] == "completed").sum())
    emit({"trials_per_gpu": args.trials_per_gpu, "seconds": seconds, "trials": completed,
          "trials_per_hour": completed / seconds * 3600})


if __name__ == "__main__":
    main()
