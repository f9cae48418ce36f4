"""The README's plugin example, installed as a real distribution and searched."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "automodel-mlp")


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-install examples/automodel-mlp into a folder put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), EXAMPLE],
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
