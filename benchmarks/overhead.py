"""Overhead and duty cycle: one search, written by hand with KerasTuner and through automodel.

Both variants search digits on automodel's seeded split, in the built-in
``cnn`` plugin's search space, with KerasTuner's random search and the same
oracle seed, ``trials`` trials of up to ``epochs`` epochs, early stopping on
``val_accuracy`` (patience 5), batch size 32, each trial's weights and shuffling
seeded alike. So both draw the very same hyperparameters and train the same
models, and the ratio of their times is what automodel adds: its records,
backups, checks and run directory. (KerasTuner seeds each hyperparameter's
random draw in order, so the hand-written space declares automodel's one-value
``architecture`` hyperparameter too, with ``hp.Fixed``; the result says whether
the draws matched.)

Timed, after the imports, in wall-clock and in CPU seconds (all threads of the
process; less disturbed than the wall clock by other work on the machine): for
automodel the ``automodel.search`` call (data checks and split included); for
KerasTuner building the tuner and ``tuner.search``, from the split arrays in
memory. ``python -m benchmarks`` runs the pair twice, in the order A B B A, and
keeps each variant's fastest run.

The duty cycle comes from the same runs: ``timing.PhaseTimer`` sums the time
inside training steps. automodel takes it through its public plugin hook
(``Architecture.fit``: a subclass of the ``cnn`` plugin whose ``fit`` adds the
callback; it keeps the plugin's name and search space), KerasTuner through
``tuner.search(callbacks=...)``.

Child process: ``python -m benchmarks.overhead automodel|keras-tuner
[--trials 8] [--epochs 10] [--seed 0]`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from benchmarks.fresh import emit, run_module

VARIANTS = ("automodel", "keras-tuner")
PATIENCE = 5
BATCH_SIZE = 32


def measure(variant: str, trials: int, epochs: int, seed: int = 0, env: dict | None = None) -> dict:
    """One variant's search in a fresh process: seconds, best score, hyperparameters, phases."""
    return run_module("overhead", variant, "--trials", trials, "--epochs", epochs, "--seed", seed, env=env)


def with_automodel(directory: str, trials: int, epochs: int, seed: int) -> dict:
    import pandas as pd

    import automodel
    from automodel.plugins.cnn import CNN
    from benchmarks.timing import PhaseTimer

    class TimedCNN(CNN):
        def fit(self, hp, model, spec, *args, callbacks=(), **kwargs):
            return super().fit(hp, model, spec, *args, callbacks=[*callbacks, PhaseTimer()], **kwargs)

    automodel.get_architectures()  # plugins load before the clock starts, as KerasTuner's imports do
    started, cpu = time.perf_counter(), time.process_time()
    result = automodel.search(
        data="digits", architectures=[TimedCNN()], tuner="random", max_trials=trials, epochs=epochs,
        seed=seed, batch_size=BATCH_SIZE, patience=PATIENCE, directory=directory, name="overhead",
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    board = result.leaderboard().sort_values("trial")
    completed = board[board["status"] == "completed"]
    hyperparameters = [  # as the hand-written space names them; a value the trial did not use is empty
        {name.removeprefix("cnn/"): _plain(value) for name, value in row.items()
         if name.startswith("cnn/") and not pd.isna(value)}
        for _, row in board.iterrows()
    ]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "best_val_accuracy": float(completed["val_accuracy"].max()),
        "trials": len(completed),
        "hyperparameters": hyperparameters,
    }


def with_keras_tuner(directory: str, trials: int, epochs: int, seed: int) -> dict:
    import keras
    import keras_tuner as kt

    from automodel.data import prepare
    from automodel.plugins.cnn import CNN
    from benchmarks.timing import PhaseTimer

    data = prepare(None, "digits", seed=seed)  # automodel's split, and the spec the plugin builds from

    def build(hp):
        hp.Fixed("architecture", "cnn")  # as automodel declares it: the same random draws follow
        return CNN().build(hp, data.spec)

    class SeededRandomSearch(kt.RandomSearch):
        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            keras.utils.set_random_seed(seed + 1 + int(trial.trial_id))

    started, cpu = time.perf_counter(), time.process_time()
    tuner = SeededRandomSearch(
        build, objective="val_accuracy", max_trials=trials, seed=seed + 1, directory=directory, project_name="overhead"
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=PATIENCE)
    tuner.search(*data.train, validation_data=data.validation, epochs=epochs, batch_size=BATCH_SIZE,
                 callbacks=[stop, PhaseTimer()], verbose=0)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    done = sorted(tuner.oracle.trials.values(), key=lambda trial: trial.trial_id)
    completed = [trial for trial in done if trial.status == "COMPLETED"]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "best_val_accuracy": float(max(trial.score for trial in completed)),
        "trials": len(completed),
        "hyperparameters": [
            {name: value for name, value in trial.hyperparameters.values.items() if name != "architecture"}
            for trial in done
        ],
    }


def _plain(value):
    """A numpy scalar of the leaderboard as a JSON-ready Python value."""
    return value.item() if hasattr(value, "item") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from automodel.startup import load_tensorflow

    load_tensorflow()  # imports are outside the timed part
    import keras_tuner  # noqa: F401

    from benchmarks.timing import phases

    run = with_automodel if args.variant == "automodel" else with_keras_tuner
    with tempfile.TemporaryDirectory() as directory:
        result = run(directory, args.trials, args.epochs, args.seed)
    emit({"variant": args.variant, **result, "phases": phases()})


if __name__ == "__main__":
    main()
