"""A canary for the parts of KerasTuner that are not its public API but that automodel relies on.

automodel subclasses KerasTuner's tuners and oracles and serves its chief; where
it overrides a private method or reads a private module, a KerasTuner release
that renames it would break searches in ways far from the cause. This test names
each such part, so an upgrade fails here first; ``pyproject.toml`` bounds
``keras-tuner`` to the releases it passed on.
"""

import importlib
import inspect

import pytest

# module -> the names automodel uses from it, and where
PRIVATE_NAMES = {
    "keras_tuner.src.config": ["DEBUG"],  # engine/tuners.py: silences tracebacks of failed trials
    "keras_tuner.src.engine.trial": ["Trial", "TrialStatus"],  # tuners.py, portfolio.py, chief.py
    "keras_tuner.src.engine.hyperparameters": ["HyperParameters"],  # portfolio.py
    # resume.py: carries a resumed trial's best epoch; engine/tensorboard.py: a trial's active hyperparameters as hparams
    "keras_tuner.src.engine.tuner_utils": ["SaveBestEpoch", "convert_hyperparams_to_hparams"],
    "keras_tuner.src.tuners.gridsearch": ["GridSearchOracle"],  # portfolio.py
    "keras_tuner.src.distribute.oracle_client": ["TIMEOUT", "OracleClient"],  # distributed/worker.py, auth.py
    "keras_tuner.src.distribute.oracle_chief": ["OracleServicer"],  # distributed/chief.py
    "keras_tuner.src.protos": ["get_service", "get_service_grpc"],  # distributed/chief.py
    "keras_tuner.src.errors": ["FailedTrialError"],  # tuners.py strips this module path from reasons
}

# class -> methods automodel overrides or calls, with the parameters it passes (None: that it exists)
PRIVATE_METHODS = {
    ("keras_tuner.src.engine.tuner", "Tuner"): {
        "_build_and_fit_model": ["self", "trial", "args", "kwargs"],
        "_try_build": ["self", "hp"],
        "_get_checkpoint_fname": ["self", "trial_id"],
        "_is_worker": ["self"],
    },
    ("keras_tuner.src.engine.oracle", "Oracle"): {
        "_random_values": ["self"],
        "_check_consecutive_failures": ["self"],
        "populate_space": ["self", "trial_id"],
        "end_trial": None,  # wrapped by KerasTuner's lock: its signature reads (*args, **kwargs)
    },
    ("keras_tuner.src.engine.tuner_utils", "SaveBestEpoch"): {
        "_save_model": ["self"],  # engine/resume.py writes the checkpoint whole (Keras' own backup: test_resilience)
    },
    ("keras_tuner.src.distribute.oracle_chief", "OracleServicer"): {
        "CreateTrial": ["self", "request", "context"],
        "EndTrial": ["self", "request", "context"],
    },
}


@pytest.mark.parametrize("module", sorted(PRIVATE_NAMES))
def test_the_private_modules_automodel_reads_still_hold_their_names(module):
    loaded = importlib.import_module(module)
    missing = [name for name in PRIVATE_NAMES[module] if not hasattr(loaded, name)]
    assert not missing, f"KerasTuner's {module} no longer has {missing}: automodel needs them; see pyproject.toml"


@pytest.mark.parametrize("owner", sorted(PRIVATE_METHODS), ids=lambda owner: owner[1])
def test_the_private_methods_automodel_overrides_keep_their_signatures(owner):
    cls = getattr(importlib.import_module(owner[0]), owner[1])
    for method, parameters in PRIVATE_METHODS[owner].items():
        assert hasattr(cls, method), f"{owner[1]}.{method} is gone"
        assert parameters is None or list(inspect.signature(getattr(cls, method)).parameters) == parameters, f"{owner[1]}.{method} changed"


def test_the_statuses_and_grid_state_automodel_reads():
    from keras_tuner.src.engine.trial import TrialStatus
    from keras_tuner.src.tuners.gridsearch import GridSearchOracle

    assert {"RUNNING", "COMPLETED", "FAILED", "INVALID", "STOPPED"} <= set(vars(TrialStatus))
    oracle = GridSearchOracle(max_trials=1)
    assert oracle._populate_next == [] and oracle.start_order == []  # the grid's walk, which portfolio.py steps around


def test_the_oracle_client_sends_every_call_through_its_stub(monkeypatch):
    """auth.py gives a worker's OracleClient a stub that adds the session's token: all its calls must use it."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_client import OracleClient

    for name, value in {"ORACLE_IP": "127.0.0.1", "ORACLE_PORT": "1", "TUNER_ID": "w"}.items():
        monkeypatch.setenv(f"KERASTUNER_{name}", value)
    client = OracleClient(oracle=None)  # the channel connects lazily: nothing listens on port 1
    assert isinstance(client.stub, protos.get_service_grpc().OracleStub)
    calls = [method for name, method in vars(OracleClient).items() if inspect.isfunction(method) and name[0] != "_"]
    assert len(calls) >= 7 and all("self.stub." in inspect.getsource(method) for method in calls)


def test_the_reloading_note_is_the_base_tuner_modules_own_print():
    from keras_tuner.src.engine import base_tuner

    # engine/tuners.py silences it by giving that module a print of its own while a tuner is built
    assert 'print(f"Reloading Tuner' in inspect.getsource(base_tuner.BaseTuner.__init__)
    assert not hasattr(base_tuner, "print")
