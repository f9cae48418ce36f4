"""The benchmark command's pieces: the tables it writes, the phase timer, and a quick run of it.

Speed and quality targets are not tested here; ``python -m benchmarks`` measures
them. The quality table is tested on made-up rows, so neither aeon nor training
is needed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import __main__ as command
from benchmarks import quality, quality_data, report

ROOT = Path(__file__).resolve().parents[1]

MACHINE = {
    "cpu": "Test CPU", "cores": 2, "physical_cores": 2, "usable_cores": 2, "memory_gib": 8.0, "os": "Linux",
    "python": "3.11", "automodel": "0.1.0", "scikit-learn": "1.5", "date": "2026-01-01 00:00 UTC",
    "tensorflow": "2.20", "keras": "3.10", "keras_tuner": "1.4.8", "gpus": [],
}
SETTINGS = {"trials": 2, "epochs": 3, "seed": 0, "repeats": 2, "budgets": [30.0, 60.0], "peer_epochs": 20,
            "memory_epochs": 2, "sharing_trials": 4, "sharing_epochs": 1, "quick": False}
PHASES = {"steps": 20.0, "first_steps": 4.0, "validation": 5.0, "fit": 30.0, "epochs": 6}
HPS = [{"conv_blocks": 1}, {"conv_blocks": 2}]
INFO = {"n_train": 100, "n_fit": 85, "n_validation": 15, "n_test": 50, "lengths": None}


def quality_results(device: str = "CPU") -> dict:
    """Made-up quality rows: a classification set, a padded regression set, a failed data set."""
    key = {(c["method"], c["budget"]): c["key"] for c in quality.columns(SETTINGS["budgets"])}
    digits = {
        key["linear", None]: {"score": 0.95, "seconds": 0.25, "candidates": 4},
        key["svm", None]: {"score": 0.99, "seconds": 0.5, "candidates": 16},
        key["1-NN", None]: {"error": "MemoryError"},
        key["keras-tuner", 30.0]: {"score": 0.9, "seconds": 31.0, "trials": 3},
        key["automodel", 30.0]: {"score": 0.98999, "seconds": 30.5, "trials": 1,
                                 "left_out": {"vgg16": "Could not download the VGG16 ImageNet weights"}},
        key["automodel", 60.0]: {"score": 0.97, "seconds": 61.0, "trials": 5, "pruned": 2,
                                 "validation": {"method": "cv", "folds": 5}},
    }
    covid = {
        key["linear", None]: {"score": 0.05, "seconds": 0.1, "candidates": 4},
        key["MiniRocket", None]: {"score": 0.04, "seconds": 2.0},
        key["automodel", 30.0]: {"score": 0.045, "seconds": 29.0, "trials": 4},
    }
    return {"device": device, "columns": quality.columns(SETTINGS["budgets"]), "rows": [
        {"dataset": "digits", **INFO, "task": "image_classification", "classes": 10, "cells": digits},
        {"dataset": "Covid3Month", **INFO, "task": "sequence_regression", "classes": None, "lengths": [7, 29],
         "cells": covid},
        {"dataset": "ACSF1", "cells": {}, "error": quality_data.AEON_MISSING},
    ]}


def results(**extra) -> dict:
    search = {"trials": 2, "hyperparameters": HPS, "phases": PHASES}
    overhead = {
        "automodel": {**search, "seconds": 50.0, "cpu_seconds": 90.0, "every_seconds": [50.0, 52.0],
                      "best_val_accuracy": 0.98},
        "keras-tuner": {**search, "seconds": 40.0, "cpu_seconds": 75.0, "every_seconds": [40.0, 42.5],
                        "best_val_accuracy": 0.97},
    }
    return {
        "machine": MACHINE,
        "settings": SETTINGS,
        "total_seconds": 125.0,
        "devices": {"CPU": {"overhead": overhead}},
        "gpu_note": "No GPU here.",
        "quality": quality_results(),
        "startup": {
            "import automodel": {"median": 0.2, "min": 0.1, "max": 0.3, "runs": 5, "tensorflow": False},
            "panel cell in a fresh Jupyter kernel": {"error": "ModuleNotFoundError: No module named 'x'"},
        },
        "memory": {"automodel": {5: 700.0, 15: 720.0, 30: 750.0}},
        **extra,
    }


def test_tables_hold_the_ratios_shares_and_machine():
    document = report.render(results())
    assert "| search wall time, fastest of 2 runs | 50.0 s | 40.0 s | **1.25** |" in document
    assert "| search CPU time (all threads), same run | 90.0 s | 75.0 s | 1.20 |" in document
    assert "2 runs each in turn (A B B A)" in document
    assert "| wall time of every run | 50.0 s, 52.0 s | 40.0 s, 42.5 s |  |" in document
    assert "| the same hyperparameters drawn | 2 of 2 trials |" in document
    assert "| **in training steps** | 40% | 50% |" in document  # 20 s of 50 s, of 40 s
    assert "| outside `fit` (building models, the tuner, data, trial files) | 40% | 25% |" in document
    assert "| import automodel | 0.20 s | 0.10-0.30 s, 5 runs | no |" in document
    assert "| panel cell in a fresh Jupyter kernel | Failed: ModuleNotFoundError: No module named 'x' |" in document
    assert "| automodel | 700 MiB | 720 MiB | 750 MiB | +50 MiB |" in document
    assert "| TensorFlow / Keras / KerasTuner | 2.20 / 3.10 / 1.4.8 |" in document
    assert "## On a GPU\n\nNo GPU here." in document
    assert "2 min 5 s" in document


def test_a_failed_search_and_the_gpu_tables():
    gpu = {"name": "Test GPU", "id": "0"}
    failed = {"automodel": {"error": "boom"}, "keras-tuner": {"error": "boom"}}
    sharing = {1: {"seconds": 36.0, "trials": 4, "trials_per_hour": 400.0}, 4: {"error": "no chief"}}
    document = report.render(results(
        machine={**MACHINE, "gpus": [gpu]},
        devices={"CPU": {"overhead": failed}, "GPU": {"overhead": results()["devices"]["CPU"]["overhead"]}},
        gpu_sharing=sharing, quality=quality_results("GPU"),
    ))
    assert "Failed: boom" in document and "Not measured: the runs above failed." in document
    assert "## On the GPU (Test GPU)" in document and "No GPU here." not in document
    assert "the neural searches trained on the GPU (Test GPU), the rest ran on the CPU" in document
    assert "| 1 | 36.0 s | 4 | 400 |" in document and "| 4 | Failed: no chief |" in document


def test_phase_timer_sums_steps_validation_and_fits():
    import keras

    from benchmarks.timing import SPENT, PhaseTimer, phases

    SPENT.clear()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = np.zeros((40, 4), "float32"), np.zeros(40, "int32")
    model.fit(x, y, batch_size=10, epochs=3, validation_data=(x, y), callbacks=[PhaseTimer()], verbose=0)
    spent = phases()
    assert (spent["fits"], spent["epochs"], spent["batches"]) == (1, 3, 12)
    assert 0 < spent["first_steps"] <= spent["steps"] and spent["steps"] + spent["validation"] <= spent["fit"]


def test_quick_start_up_run_writes_the_table(tmp_path):
    output = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "startup", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "] start-up: import automodel" in done.stdout  # progress lines
    document = output.read_text()
    assert document.startswith(report.TITLE) and "| CPU |" in document and "| GPU |" in document
    assert "| import automodel |" in document and "## On the CPU" not in document


def test_quality_table_one_row_per_data_set_with_the_best_score_in_bold():
    document = report.render(results())
    header = next(line for line in document.splitlines() if line.startswith("| data set |"))
    assert header.endswith("| plain KerasTuner, 30 s | plain KerasTuner, 60 s | automodel, 30 s | automodel, 60 s |")
    digits = next(line for line in document.splitlines() if line.startswith("| digits |"))
    cells = [cell.strip() for cell in digits.strip("|").split("|")]
    assert cells[:6] == ["digits", "100 (85 + 15) / 50", "10", "accuracy", "0.9500 (0.2 s)", "**0.9900** (0.5 s)"]
    assert cells[6:9] == ["-", "failed [1]", "-"]  # no forest measured; 1-NN failed; MiniRocket is for sequences
    assert cells[9] == "0.9000 (31.0 s, 3 trials)"
    assert cells[11] == "**0.9900** (30.5 s, 1 trial) [2]"  # a tie after rounding is a best too
    assert cells[12] == "0.9700 (61.0 s, 5 trials, 2 pruned, 5-fold CV)"
    assert "| Covid3Month | 100 (85 + 15) / 50 | regression | RMSE | 0.0500 (0.1 s) |" in document
    assert "| **0.0400** (2.0 s) |" in document  # the lowest RMSE
    assert "| ACSF1 | failed [3] |" in document
    assert "[1] digits, 1-NN, Euclidean: MemoryError" in document
    assert "[2] automodel left out vgg16: Could not download the VGG16 ImageNet weights." in document
    assert f"[3] ACSF1: {quality_data.AEON_MISSING}" in document
    assert "Covid3Month (7-29 steps) holds series of unequal length" in document
    assert "time budget of 30 s and 60 s" in document and "20 epochs per trial" in document
    assert "everything ran on the CPU" in document


def test_quality_columns_and_which_methods_run_where():
    keys = [column["key"] for column in quality.columns([120, 600])]
    assert keys[:5] == ["logistic regression / ridge", "SVM, RBF kernel", "random forest", "1-NN, Euclidean",
                        "MiniRocket"]
    assert keys[5:] == ["plain KerasTuner, 120 s", "plain KerasTuner, 600 s", "automodel, 120 s", "automodel, 600 s"]
    assert not quality.applies("MiniRocket", "image_classification")
    assert quality.applies("MiniRocket", "sequence_regression") and quality.applies("1-NN", "image_classification")


def test_unequal_series_are_padded_at_the_end_to_the_longest_of_train_and_test():
    from automodel.tasks import PADDING_VALUE

    train = [np.ones((2, 3), "float32"), np.full((4, 3), 2, "float32")]
    test = [np.full((5, 3), 3, "float32")]
    x_train, x_test = quality_data.pad_to_longest(train, test)
    assert x_train.shape == (2, 5, 3) and x_test.shape == (1, 5, 3)
    assert (x_train[0, :2] == 1).all() and (x_train[0, 2:] == 0).all() and (x_train[1, 4] == 0).all()
    dataset = quality_data.Dataset("toy", "sequence_classification", (x_train, np.array([0, 1])),
                                   (x_test, np.array([1])), (x_train, None), (x_train, None), (2, 5), (train, test))
    (padded, _), (padded_test, _) = dataset.for_automodel()
    assert (padded[0, 2:] == PADDING_VALUE).all() and (padded[0, :2] == 1).all() and (padded_test == 3).all()
    assert quality_data.flat(x_train).shape == (2, 15) and quality_data.channels_first(x_train).shape == (2, 3, 5)


def test_digits_keeps_its_test_split_and_the_baselines_get_automodels_validation_split():
    from automodel.data import prepare

    digits = quality_data.load("digits", seed=0)
    reference = prepare(None, "digits", seed=0)
    assert (digits.test[0] == reference.test[0]).all()
    assert len(digits.train[0]) == len(reference.train[0]) + len(reference.validation[0])
    assert len(digits.fit[0]) + len(digits.validation[0]) == len(digits.train[0])
    assert digits.describe()["classes"] == 10 and digits.for_automodel()[0] is digits.train


def test_budgets_and_data_sets_come_from_the_command_line(tmp_path, monkeypatch):
    seen = {}

    def measure_all(settings, sections, progress, use_gpu=True):
        seen.update(settings, sections=sections)
        return {"settings": settings, "machine": MACHINE}

    monkeypatch.setattr(command, "measure_all", measure_all)
    assert command.main(["quality", "--budgets", "30", "90", "--datasets", "digits", "ACSF1",
                         "--output", str(tmp_path / "out.md")]) == 0
    assert seen["budgets"] == [30.0, 90.0] and seen["datasets"] == ["digits", "ACSF1"]
    assert seen["sections"] == ("quality",) and seen["peer_epochs"] == 20
    command.main(["--quick", "--only", "memory", "--output", str(tmp_path / "out.md")])
    assert seen["sections"] == ("memory",) and seen["budgets"] == command.QUICK["budgets"]
    command.main(["--output", str(tmp_path / "out.md")])
    assert seen["sections"] == command.SECTIONS and seen["datasets"] == list(quality_data.DATASETS)
    for wrong in (["--datasets", "no-such-set"], ["no-such-section"]):
        with pytest.raises(SystemExit):
            command.main(wrong)
