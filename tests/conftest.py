"""Shared fixtures: tiny real data, a clean plugin manager, fake distributions."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import textwrap

import numpy as np
import pytest

from automodel import registry


@pytest.fixture
def clean_registry():
    """A plugin manager loaded afresh for this test and forgotten after it."""
    registry.reset()
    yield registry
    registry.reset()


@contextlib.contextmanager
def registered(plugin, name: str):
    """Register ``plugin`` on the live plugin manager for the duration of the block."""
    manager = registry.plugin_manager()
    manager.register(plugin, name=name)
    try:
        yield plugin
    finally:
        manager.unregister(name=name)


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """Write an installed distribution with ``automodel`` entry points onto sys.path.

    Entry points found this way are real: importlib.metadata reads the
    ``.dist-info`` folder exactly as it reads one written by pip.
    """

    def make(name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]):
        root = tmp_path / f"site-{name}"
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[automodel]\n{lines}\n")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        for module in modules:
            sys.modules.pop(module, None)
        return root

    return make


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits: 1,797 8x8 images."""
    from automodel.datasets import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def small_digits(digits):
    """600 digits: enough to learn, quick to train."""
    x, y = digits
    return x[:600], y[:600]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """One real search on the digits data set, shared by the read-only tests."""
    import automodel

    directory = tmp_path_factory.mktemp("runs")
    return automodel.search(
        data="digits",
        architectures=["cnn"],
        tuner="random",
        max_trials=2,
        epochs=4,
        directory=directory,
        name="digits",
        seed=1,
        max_ensemble_size=1,  # its model is its best trial's; test_ensemble.py tests ensembles
    )


def tiny_architecture(name="tiny", fit=None, build=None):
    """A one-layer architecture for tests; ``fit``/``build`` override behaviour."""
    from automodel import Architecture

    class Tiny(Architecture):
        tasks = ("image_classification",)
        description = "test architecture"

        def build(self, hp, spec):
            if build is not None:
                return build(self, hp, spec)
            import keras

            inputs, x = spec.inputs()
            x = keras.layers.Flatten()(x)
            x = keras.layers.Dense(hp.Int("units", 8, 32, step=8))(x)
            return keras.Model(inputs, spec.head(x))

        def fit(self, hp, model, spec, *args, **kwargs):
            if fit is not None:
                return fit(self, hp, model, spec, *args, **kwargs)
            return model.fit(*args, **kwargs)

    arch = Tiny()
    arch.name = name
    return arch


def plugin_of(*architectures):
    """A plugin object registering ``architectures``."""
    from automodel import hookimpl

    class Plugin:
        @hookimpl
        def register_architectures(self, register):
            for arch in architectures:
                register(arch)

    return Plugin()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


WORKER_PLUGIN = '''
from automodel import Architecture, hookimpl


class Dense(Architecture):
    name = "dense"
    tasks = ("image_classification",)
    description = "one dense layer, installed so that worker processes load it too"

    def build(self, hp, spec):
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(hp.Int("units", 4, 128, step=4), activation="relu")(x)
        return keras.Model(inputs, spec.head(x))


class Narrow(Dense):
    """Not registered: a search gets it configured in code, as VGG16Transfer(weights=path)."""

    name = "narrow"

    def __init__(self, max_units):
        self.max_units = max_units

    def build(self, hp, spec):
        import keras

        inputs, x = spec.inputs()
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(hp.Int("units", 2, self.max_units, step=2), activation="relu")(x)
        return keras.Model(inputs, spec.head(x))


class Failing(Dense):
    name = "failing"

    def fit(self, hp, model, spec, *args, **kwargs):
        raise ValueError("this plugin always fails")


@hookimpl
def register_architectures(register):
    register(Dense())
    register(Failing())
'''


@pytest.fixture
def installed_plugin(fake_distribution, monkeypatch, clean_registry):
    """Architectures ``dense`` and ``failing``, installed for this process and its children."""
    root = fake_distribution("automodel-test-dense", "1.0", {"dense": "automodel_test_dense"}, {"automodel_test_dense": WORKER_PLUGIN})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    clean_registry.reset()
    return root


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory, small_digits):
    """The small digits as a .npz file, for searches in other processes."""
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x=small_digits[0], y=small_digits[1])
    return path


def trials_only(board):
    """A leaderboard without its ensemble row: the trials alone."""
    return board[board["trial"] != "ensemble"].reset_index(drop=True)
