"""TensorBoard logs of a search: each trial (each fold, the refit) a session of the HParams dashboard, with epochs."""

from __future__ import annotations

import pytest
from conftest import plugin_of, registered, tiny_architecture

import automodel
from automodel.engine.tensorboard import REFIT, TENSORBOARD_DIR


def events(folder):
    """The summaries written directly in ``folder`` (not its sub-folders), as TensorBoard reads them."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.TENSORS: 0})
    return accumulator.Reload()


def session_start(folder):
    """The HParams plugin's record of the session in ``folder``: its group (the trial) and hyperparameter values."""
    from tensorboard.plugins.hparams import metadata

    content = events(folder).PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    info = metadata.parse_session_start_info_plugin_data(content)
    return info.group_name, {name: getattr(value, value.WhichOneof("kind")) for name, value in info.hparams.items()}


def epoch_values(folder, tag):
    import tensorflow as tf

    return [float(tf.make_ndarray(event.tensor_proto)) for event in events(folder).Tensors(tag)]


def logged_values(run, trial_id) -> dict:
    """The trial's values (trial.json) of its active hyperparameters, as the HParams protocol holds them.

    Numbers become floats; a conditional hyperparameter that is inactive in the trial (a third layer's width
    when it has two) keeps a value in trial.json but is left out, as KerasTuner leaves it out.
    """
    from automodel.engine.hypermodel import trial_hyperparameters

    hp = trial_hyperparameters(run, trial_id)
    values = run.keras_tuner_trial(trial_id)["hyperparameters"]["values"]
    active = {name: value for name, value in values.items() if hp.is_active(name)}
    assert len(active) >= 2  # the architecture and what it searched
    return {name: value if isinstance(value, (bool, str)) else float(value) for name, value in active.items()}


def test_each_trial_is_a_session_with_its_hyperparameters_and_epochs(digits_run):
    run = digits_run.run
    for trial_id in run.trial_ids():
        folder = run.path / TENSORBOARD_DIR / f"trial_{trial_id}"
        group, hparams = session_start(folder)
        assert group == trial_id
        assert hparams == logged_values(run, trial_id)
        history = run.trial_record(trial_id)["history"]
        assert len(history["val_accuracy"]) >= 1
        assert epoch_values(folder / "validation", "epoch_accuracy") == pytest.approx(history["val_accuracy"])
        assert epoch_values(folder / "train", "epoch_loss") == pytest.approx(history["loss"])
    written = events(folder / "train").Tags()
    assert not written["graph"] and not written["histograms"] and not list(folder.rglob("plugins"))  # no profile


def test_the_refit_is_a_session_of_its_own(digits_run):
    run = digits_run.run
    done = run.meta()["refit"]  # trained, whether or not its model replaced the trial's (its "skipped")
    folder = run.path / TENSORBOARD_DIR / REFIT
    group, hparams = session_start(folder)
    assert group == "refit"
    assert hparams == logged_values(run, done["trial"])
    assert len(epoch_values(folder / "train", "epoch_loss")) == done["epochs"]  # trained on all: no validation


def test_a_cross_validated_trial_logs_each_fold_as_a_session_of_its_group(tmp_path, small_digits):
    x, y = small_digits
    with registered(plugin_of(tiny_architecture()), "tiny"):
        result = automodel.search(
            task="image_classification", data=(x[:150], y[:150]), architectures=["tiny"], tuner="random",
            max_trials=1, epochs=1, validation="cv", directory=tmp_path, name="cv", seed=2, max_ensemble_size=1,
        )
    run = result.run
    for trial_id in run.trial_ids():
        record = run.trial_record(trial_id)
        values = logged_values(run, trial_id)
        folds = sorted((run.path / TENSORBOARD_DIR / f"trial_{trial_id}").glob("fold_*"))
        assert [f.name for f in folds] == [f"fold_{k}" for k in range(1, len(record["folds"]) + 1)]
        for folder, fold in zip(folds, record["folds"]):
            assert session_start(folder) == (trial_id, values)
            assert epoch_values(folder / "validation", "epoch_accuracy") == pytest.approx(
                fold["history"]["val_accuracy"])
