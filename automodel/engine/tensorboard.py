"""TensorBoard logs of every trial with its hyperparameters, so ``tensorboard --logdir RUN`` shows the search.

As in a KerasTuner search with a ``keras.callbacks.TensorBoard`` among its
callbacks, each training of a trial is one session of the HParams dashboard,
grouped by trial id, with Keras' per-epoch scalars beneath it::

    RUN/tensorboard/trial_3/            trial 3: its hyperparameters; train/ and validation/ scalars
    RUN/tensorboard/trial_3/fold_2/     a cross-validated trial: one session a fold, all in group "3"
    RUN/tensorboard/refit/              the final refit (group "refit"): train/ only

KerasTuner's own wiring (``Tuner._configure_tensorboard_dir``) records the
hyperparameters before the model is built, so a trial that is the first to
register a hyperparameter (a conditional layer's width) would miss it; here the
record is written when training starts, once the build has registered them all.
A worker process trains through the same tuner, so its logs land in the same
folders. Only the epoch scalars are written: no graph, profile, images or
histograms, which would cost every trial time and disk.
"""

from __future__ import annotations

import shutil

import keras

from ..runs.rundir import RunDir

TENSORBOARD_DIR = "tensorboard"
REFIT = "refit"


class TrialLogs:
    """Tuner mixin: each training of a trial logs to ``RUN/tensorboard/trial_<id>`` (``/fold_<k>`` per fold)."""

    def _build_and_fit_model(self, trial, *args, **kwargs):
        folder = self.run.path / TENSORBOARD_DIR / self.run.trial_dir(trial.trial_id).name
        fold = getattr(self, "_fold", None)  # set by TrialBookkeeping while it cross-validates
        if fold is not None:
            folder = folder / f"fold_{fold + 1}"
        logs = session_callbacks(folder, trial.hyperparameters, trial.trial_id)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *logs]
        return super()._build_and_fit_model(trial, *args, **kwargs)


def refit_callbacks(run: RunDir, hp) -> list:
    """The refit's session in ``RUN/tensorboard/refit``, replacing the last one (a resumed search refits again)."""
    folder = run.path / TENSORBOARD_DIR / REFIT
    shutil.rmtree(folder, ignore_errors=True)
    return session_callbacks(folder, hp, REFIT)


def session_callbacks(folder, hyperparameters, group: str) -> list:
    """Callbacks logging one training to ``folder``: its hyperparameters, and each epoch's metrics."""
    scalars = keras.callbacks.TensorBoard(
        log_dir=str(folder), histogram_freq=0, write_graph=False, write_images=False,
        write_steps_per_second=False, update_freq="epoch", profile_batch=0,
    )
    return [scalars, HParamsSession(folder, hyperparameters, group)]


class HParamsSession(keras.callbacks.Callback):
    """The HParams plugin's record of a training (TensorBoard's own Keras callback), made when the training starts."""

    def __init__(self, folder, hyperparameters, group: str):
        super().__init__()
        self.folder, self.hyperparameters, self.group = str(folder), hyperparameters, group
        self.record = self.writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf
        from keras_tuner.src.engine.tuner_utils import convert_hyperparams_to_hparams
        from tensorboard.plugins.hparams import api as hparams_api

        # a copy: the architecture's fit runs inside its name scope, where "architecture" means "cnn/architecture"
        unscoped = type(self.hyperparameters).from_config(self.hyperparameters.get_config())
        hparams = convert_hyperparams_to_hparams(unscoped, hparams_api)  # the active ones
        self.writer = tf.summary.create_file_writer(self.folder)
        self.record = hparams_api.KerasCallback(self.writer, hparams, trial_id=self.group)
        self.record.set_model(self.model)
        self.record.on_train_begin(logs)
        self.writer.flush()  # on disk while the trial trains, for a TensorBoard watching the search

    def on_train_end(self, logs=None):
        if self.record is not None:
            self.record.on_train_end(logs)  # the session's status: ended
            self.writer.close()
