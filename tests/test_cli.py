"""The ``automodel`` command end to end, in subprocesses like a user's terminal."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def automodel(*args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "automodel.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def test_plugins_lists_architectures_with_tasks_and_distribution():
    done = automodel("plugins")
    assert done.returncode == 0, done.stderr
    assert "cnn" in done.stdout and "image_classification" in done.stdout
    assert "from automodel 0.1.0 (plugin cnn)" in done.stdout


def test_listing_commands_do_not_import_tensorflow():
    code = (
        "import sys; from automodel.cli import main\n"
        "main(['plugins']); main(['tasks']); main(['plugins', '--json'])\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "digits" in done.stdout  # tasks lists the demo data


def test_search_then_leaderboard(tmp_path):
    done = automodel(
        "search", "--data", "digits", "--architectures", "cnn", "--tuner", "random",
        "--max-trials", "2", "--epochs", "2", "--dir", str(tmp_path), "--name", "cli", "--seed", "1",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("trial ") and "completed" in line for line in lines) == 2
    assert "val_accuracy=" in done.stdout
    assert "on the held-out test split: accuracy=" in done.stdout
    assert "oneDNN" not in done.stderr  # TensorFlow's start-up chatter is hidden

    board = automodel("leaderboard", str(tmp_path / "cli"))
    assert board.returncode == 0, board.stderr
    assert board.stdout.startswith("scored by one validation split\n")
    rows = [line for line in board.stdout.splitlines()[2:] if line.strip()]
    trials = [row for row in rows if not row.lstrip().startswith("ensemble")]
    assert len(trials) == 2 and all("cnn" in row and "completed" in row for row in trials)
    ensemble_line = next(line for line in lines if line.startswith("ensemble: "))
    assert ("ensemble" in board.stdout.split("\n", 2)[2]) == ("none" not in ensemble_line)

    single = automodel("ensemble", str(tmp_path / "cli"), "--max-size", "1")
    assert single.returncode == 0, single.stderr
    assert single.stdout.startswith("ensemble: none (max_ensemble_size=1 asks for a single model)")
    again = automodel("ensemble", str(tmp_path / "cli"), "--json")
    chosen = json.loads(again.stdout)["ensemble"]
    assert ("members" in chosen) == ("none" not in ensemble_line)
    refused = automodel("ensemble", str(tmp_path / "cli"), "--max-size", "0")
    assert refused.returncode == 2 and "max_ensemble_size=0" in refused.stderr

    csv = automodel("leaderboard", str(tmp_path / "cli"), "--csv")
    assert csv.stdout.splitlines()[0].startswith("trial,architecture,status,val_accuracy")
    assert "cnn/learning_rate" in csv.stdout.splitlines()[0]


def test_search_accepts_an_npz_file(tmp_path, small_digits):
    import numpy as np

    path = tmp_path / "mine.npz"
    np.savez(path, x=small_digits[0], y=small_digits[1])
    done = automodel(
        "search", "--task", "image_classification", "--data", str(path), "--architectures", "cnn",
        "--tuner", "random", "--max-trials", "1", "--epochs", "1", "--dir", str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "image_classification" / "run.json").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "--architectures", "transformer"], "Unknown architecture 'transformer'"),
        (["search", "--data", "missing.npz", "--task", "image_classification"], "missing.npz does not exist"),
        (["leaderboard", "no/such/run"], "not an automodel run directory"),
        (["search", "--time-budget", "soon"], "not a duration"),
    ],
)
def test_errors_are_one_clear_line_and_exit_code_2(tmp_path, args, message):
    done = automodel(*args, "--dir", str(tmp_path)) if args[0] == "search" else automodel(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_demo_finds_a_model_above_097_on_the_test_split(tmp_path):
    """The README's main job: a short search on digits, best test accuracy >= 0.97."""
    done = automodel("demo", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    accuracy = float(summary.split("accuracy=")[1].split(",")[0])
    assert accuracy >= 0.97, done.stdout
