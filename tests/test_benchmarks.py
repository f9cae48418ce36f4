"""The benchmark command's pieces: the tables it writes, the phase timer, and a quick run of it.

Speed targets are not tested here; ``python -m benchmarks`` measures them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import report

ROOT = Path(__file__).resolve().parents[1]

MACHINE = {
    "cpu": "Test CPU", "cores": 2, "physical_cores": 2, "usable_cores": 2, "memory_gib": 8.0, "os": "Linux",
    "python": "3.11", "automodel": "0.1.0", "scikit-learn": "1.5", "date": "2026-01-01 00:00 UTC",
    "tensorflow": "2.20", "keras": "3.10", "keras_tuner": "1.4.8", "gpus": [],
}
SETTINGS = {"trials": 2, "epochs": 3, "seed": 0, "repeats": 2, "budget": 30.0, "memory_epochs": 2, "sharing_trials": 4,
            "sharing_epochs": 1, "quick": False}
PHASES = {"steps": 20.0, "first_steps": 4.0, "validation": 5.0, "fit": 30.0, "epochs": 6}
HPS = [{"conv_blocks": 1}, {"conv_blocks": 2}]


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
        "devices": {"CPU": {"overhead": overhead, "quality": {"seconds": 31.0, "test_accuracy": 0.975, "trials": 3}}},
        "gpu_note": "No GPU here.",
        "baselines": {"SVC (RBF kernel)": {"seconds": 0.5, "test_accuracy": 0.99, "candidates": 16}},
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
    assert "| automodel: `cnn`, Bayesian, `time_budget=30` | **0.9750** | 31.0 s | 3 trials |" in document
    assert "| scikit-learn SVC (RBF kernel) | 0.9900 | 0.5 s |" in document
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
        devices={"CPU": {"overhead": failed},
                 "GPU": {"quality": {"seconds": 30.0, "test_accuracy": 0.98, "trials": 9}}},
        gpu_sharing=sharing,
    ))
    assert "Failed: boom" in document and "Not measured: the runs above failed." in document
    assert "## On the GPU (Test GPU)" in document and "No GPU here." not in document
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
