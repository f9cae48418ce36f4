"""The README's plugin examples, installed as real distributions and searched, and a broken plugin beside them."""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [os.path.join(ROOT, "examples", name) for name in ("automodel-mlp", "automodel-linear")]


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-install examples/automodel-mlp and examples/automodel-linear into a folder put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), *EXAMPLES],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def run(args, env):
    return subprocess.run([sys.executable, "-m", "automodel.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_installed_plugin_shows_up_in_plugins(installed_example):
    done = run(["plugins"], installed_example)
    assert done.returncode == 0, done.stderr
    assert "mlp" in done.stdout and "from automodel-mlp 0.1.0 (plugin mlp)" in done.stdout


def test_installed_plugin_is_searched(installed_example, tmp_path):
    done = run(
        ["search", "--data", "digits", "--architectures", "mlp", "--tuner", "random", "--max-trials", "2",
         "--epochs", "3", "--dir", str(tmp_path), "--name", "mlp"],
        installed_example,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" mlp ") >= 2
    accuracy = float(done.stdout.strip().splitlines()[-1].split("accuracy=")[1].split(",")[0])
    assert accuracy > 0.5


def test_a_plugin_with_its_own_prepare_and_fit_is_searched(installed_example, tmp_path):
    done = run(["plugins"], installed_example)
    assert "from automodel-linear 0.1.0 (plugin linear)" in done.stdout
    done = run(["search", "--data", "digits", "--architectures", "linear", "--tuner", "random", "--max-trials", "1",
                "--epochs", "4", "--dir", str(tmp_path), "--name", "linear", "--json"], installed_example)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    epochs = [e for e in events if e["event"] == "epoch_end"]
    assert len(epochs) >= 2 and events[-1]["status"].startswith("finished")
    rates = [e["logs"]["learning_rate"] for e in epochs[:2]]
    assert rates[0] < rates[1]  # its fit's warm-up ran, beside the search's own callbacks


def test_its_prepare_refuses_inputs_before_training(installed_example, tmp_path):
    import numpy as np

    data = tmp_path / "big.npz"
    np.savez(data, x=np.zeros((12, 320, 320, 1), dtype="float32"), y=np.arange(12) % 2)
    done = run(["search", "--task", "image_classification", "--data", str(data), "--architectures", "linear",
                "--dir", str(tmp_path), "--name", "big"], installed_example)
    assert done.returncode == 2 and "linear takes at most 100,000 values per sample" in done.stderr
    assert not (tmp_path / "big").exists()  # refused before anything was written


def test_installed_plugin_can_be_blocked(installed_example):
    done = run(["plugins"], {**installed_example, "AUTOMODEL_DISABLE_PLUGINS": "mlp"})
    assert done.returncode == 0 and not re.search(r"^mlp\b", done.stdout, re.MULTILINE)


def test_a_broken_plugin_beside_it_is_reported_and_breaks_nothing(installed_example, fake_distribution, tmp_path):
    """One plugin that raises at import: `automodel plugins` names it, its distribution and error; searches go on."""
    root = fake_distribution("automodel-broken", "0.2", {"broken": "automodel_broken"},
                             {"automodel_broken": "raise ImportError('needs libfoo')\n"})
    env = {**installed_example, "PYTHONPATH": os.pathsep.join([str(root), installed_example["PYTHONPATH"]])}
    listed = run(["plugins"], env)
    assert listed.returncode == 0, listed.stderr
    assert "mlp" in listed.stdout and "cnn" in listed.stdout
    assert "left out:" in listed.stdout and "plugin 'broken' (distribution automodel-broken 0.2)" in listed.stdout
    assert "needs libfoo" in listed.stdout and "AUTOMODEL_DISABLE_PLUGINS=broken" in listed.stdout
    searched = run(["search", "--data", "digits", "--architectures", "mlp", "--tuner", "random", "--max-trials", "1",
                    "--epochs", "1", "--dir", str(tmp_path), "--name", "beside-broken"], env)
    assert searched.returncode == 0, searched.stderr
    assert "left out plugin 'broken'" in searched.stderr  # said once, as a warning
