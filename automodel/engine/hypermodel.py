"""One KerasTuner HyperModel over every chosen architecture.

A top-level ``architecture`` choice opens a conditional scope per architecture,
and each architecture's hyperparameters are named under its own name
(``cnn/filters_0``), so Bayesian optimisation and Hyperband spend one budget
across all of them and never mix their parameters.
"""

from __future__ import annotations

import contextlib

import keras
import keras_tuner as kt

from ..architecture import Architecture
from ..tasks import TaskSpec

ARCHITECTURE_HP = "architecture"


class JointHyperModel(kt.HyperModel):
    def __init__(self, architectures: list[Architecture], spec: TaskSpec):
        super().__init__(name="automodel")
        self.architectures = {arch.name: arch for arch in architectures}
        self.spec = spec

    def chosen(self, hp) -> Architecture:
        """The architecture of a trial whose hyperparameters are set."""
        return self.architectures[hp.values[ARCHITECTURE_HP]]

    @contextlib.contextmanager
    def _scope(self, hp, name):
        with hp.conditional_scope(ARCHITECTURE_HP, [name]), hp.name_scope(name):
            yield

    def build(self, hp):
        chosen = self.architectures[hp.Choice(ARCHITECTURE_HP, list(self.architectures))]
        model = None
        for name, arch in self.architectures.items():
            with self._scope(hp, name):
                if arch is chosen:
                    model = arch.build(hp, self.spec)
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"Architecture {chosen.name!r}: build() returned {type(model).__name__}, "
                "expected a keras.Model."
            )
        if not getattr(model, "compiled", False):
            return self.spec.compile(model)
        return for_task_targets(model, self.spec)

    def fit(self, hp, model, *args, **kwargs):
        chosen = self.chosen(hp)
        with self._scope(hp, chosen.name):
            return chosen.fit(hp, model, self.spec, *args, **kwargs)

    def final_model(self, hp, model):
        """What users get for a trained model of this trial."""
        return self.chosen(hp).final_model(model)


ONE_HOT_LOSSES = {"categorical_crossentropy", "CategoricalCrossentropy"}


def for_task_targets(model: keras.Model, spec: TaskSpec) -> keras.Model:
    """A model its plugin compiled, recompiled where it would not train on automodel's targets or report the objective.

    automodel's class labels are indices; KerasTuner's ready-made HyperModels
    (``HyperResNet``, ``HyperXception``, ``HyperEfficientNet``) and many hand-written
    models compile for one-hot targets (``categorical_crossentropy``). Those get the
    equivalent sparse loss (the same ``from_logits``; label smoothing has no sparse
    form and is dropped) and the task's metrics. A classifier compiled without
    ``accuracy`` gets it added, since the search's objective is ``val_accuracy``.
    The optimizer is the plugin's own.
    """
    if not spec.is_classification:
        return model
    config = model.get_compile_config() or {}
    loss, metrics = config.get("loss"), config.get("metrics") or []
    if not isinstance(metrics, list):  # per-output metrics: a multi-output model is its plugin's business
        return model
    loss_name = loss if isinstance(loss, str) else loss.get("class_name") if isinstance(loss, dict) else None
    if loss_name in ONE_HOT_LOSSES:
        from_logits = bool(isinstance(loss, dict) and loss.get("config", {}).get("from_logits"))
        model.compile(optimizer=model.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                      metrics=spec.metrics)
    elif "accuracy" not in metrics:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[*model_metrics(model), *spec.metrics])
    return model


def model_metrics(model: keras.Model) -> list:
    """The metrics ``model`` was compiled with, as objects compile takes again."""
    return [metric if isinstance(metric, str) else keras.saving.deserialize_keras_object(metric)
            for metric in model.get_compile_config()["metrics"]]


def trial_hyperparameters(run, trial_id: str) -> kt.HyperParameters | None:
    """The hyperparameters KerasTuner recorded for a trial of the run directory ``run``; None if absent."""
    config = run.keras_tuner_trial(trial_id).get("hyperparameters")
    return None if config is None else kt.HyperParameters.from_config(config)


def load_weights_only(model, checkpoint) -> None:
    """Load a trial's checkpoint into ``model``, leaving its optimizer state fresh.

    The checkpoint also holds the optimizer's state as it was when saved (over the
    variables trainable then, which fine-tuning changes); a trained model needs
    none of it, so the optimizer is detached while loading.
    """
    optimizer = model.optimizer
    model.optimizer = None
    try:
        model.load_weights(checkpoint)
    finally:
        model.optimizer = optimizer
