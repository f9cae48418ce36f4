"""``SearchResult``: a finished (or running, or resumed) search, read from its run directory.

Which model a call means: none named, the ensemble of trials when it scores
better on validation than the best trial alone (``engine/ensemble.py``), else the best
trial's final refit on training plus validation data when the search made one
(``engine/refit.py``), else the best trial; ``"ensemble"``, the ensemble; ``"refit"``,
that refit; a trial id, that trial's own model, trained on the training split.
An ensemble's members are their trials' models, the refit one for the refit
trial. ``model_source`` says which, for the model card and the CLI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import portable, registry
from .data.prepared import encode_labels, fit_arguments, in_memory, load_split, to_model_inputs
from .engine import ensemble, refit
from .errors import PluginError, SearchError
from .insight import diagnostics as diagnosing
from .insight import figures, report
from .insight import search as insight
from .runs import liveness, stop
from .runs.leaderboard import ENSEMBLE, WITH_MODEL, leaderboard
from .runs.rundir import RunDir
from .tasks import TaskSpec

REFIT = "refit"


def open_run(path, architectures=()) -> "SearchResult":
    """Re-open the run directory ``path`` of an earlier search.

    ``architectures`` are the configured ``Architecture`` instances the search was
    given (``VGG16Transfer(weights=path)``, ``Architecture.from_hypermodel(...)``),
    so its trials rebuild as they were searched; installed plugins are found by name.
    """
    return SearchResult(path, architectures)


class SearchResult:
    """Models, scores and predictions of one run directory."""

    def __init__(self, path, architectures=()):
        self._architectures = {arch.name: arch for arch in architectures}
        self.run = RunDir(path)
        if not self.run.is_run():
            raise SearchError(f"{path} is not an automodel run directory (no run.json found).")
        self.meta = self.run.meta()
        self.spec = TaskSpec.from_dict(self.meta["spec"])
        self.classes = self.meta.get("classes")
        self._models: dict[str, object] = {}

    def __repr__(self):
        return f"SearchResult({str(self.path)!r}, task={self.task!r}, trials={len(self.run.trial_ids())})"

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def status(self) -> str | None:
        """``running``, ``finished``, ``stopped: ...``, ``failed``, or ``interrupted`` when its search is gone."""
        return liveness.status(self.run)

    @property
    def task(self) -> str:
        return self.spec.task

    def leaderboard(self):
        """One row per trial, best first (a pandas DataFrame)."""
        return leaderboard(self.path)

    @property
    def best_trial_id(self) -> str:
        board = self.leaderboard()
        completed = board[board["status"].isin(WITH_MODEL)]
        if completed.empty:
            raise SearchError(
                f"No trial in {self.path} has completed yet, so there is no best model. "
                "See leaderboard() for the failures and their reasons."
            )
        return str(completed.iloc[0]["trial"])

    def _hyperparameters(self, trial_id: str):
        from .engine.hypermodel import trial_hyperparameters

        hp = trial_hyperparameters(self.run, trial_id)
        if hp is None:
            raise SearchError(f"Trial {trial_id!r} is not in {self.path}.")
        return hp

    def best_hyperparameters(self) -> dict:
        """Hyperparameter values of the best trial."""
        return dict(self._hyperparameters(self.best_trial_id).values)

    def refit_record(self) -> dict | None:
        """The final refit of the best trial (trial, epochs, samples, seconds), if the search made one."""
        done = refit.record(self.run)
        if done is None or done["trial"] != self.best_trial_id:  # an older best, before a resume
            return None
        return done

    def ensemble_record(self) -> dict | None:
        """The ensemble selected over the trials (members, weights, scores), or why there is none."""
        return self.run.ensemble_record()

    def build_ensemble(self, max_size: int | None = None) -> dict:
        """Select the ensemble of this run's trials again (e.g. with another ``max_size``); returns its record."""
        from .settings import check_ensemble_size

        check_ensemble_size(max_size)
        self._models.pop(ENSEMBLE, None)
        return ensemble.build(self.run, max_size)

    def _ensemble(self, required: bool) -> dict | None:
        """The ensemble's record if it has members (and, unless ``required``, is better than the best trial)."""
        chosen = self.ensemble_record() or {}
        if chosen.get("members") and (required or chosen.get("better")):
            return chosen
        if required:
            why = chosen.get("skipped") or "no ensemble was selected yet (build_ensemble() selects one)"
            raise SearchError(f"{self.path} has no ensemble: {why}. Name a trial instead.")
        return None

    def resolve(self, trial_id: str | None = None) -> tuple[str, bool]:
        """``(trial id, whether its refit is meant)`` for a model choice (see the module docstring)."""
        if trial_id is None:
            best = self.best_trial_id
            if self._ensemble(required=False):
                return ENSEMBLE, False
            return best, self.refit_record() is not None
        if str(trial_id) == ENSEMBLE:
            self._ensemble(required=True)
            return ENSEMBLE, False
        if str(trial_id) == REFIT:
            done = self.refit_record()
            if done is None:
                raise SearchError(
                    f"{self.path} has no final refit of its best trial (the search was stopped before it, or its "
                    "task has none). Name a trial instead, or resume the search to let it finish."
                )
            return done["trial"], True
        return str(trial_id), False

    def model_source(self, trial_id: str | None = None) -> dict:
        """What the chosen model was trained on: its trial, and the refit's epochs and samples if it is one."""
        trial, refitted = self.resolve(trial_id)
        if trial == ENSEMBLE:
            members = self._ensemble(required=True)["members"]
            return {"trial": ENSEMBLE, "refit": False,
                    "members": [{**self.model_source(self._member_choice(m["trial"])), "weight": m["weight"]}
                                for m in members],
                    "trained_on": f"an ensemble of {len(members)} trials' models (see members)"}
        if refitted:
            done = self.refit_record()
            return {"trial": trial, "refit": True, "samples": done["samples"], "epochs": done["epochs"],
                    "trained_on": "training and validation data (final refit)"}
        return {"trial": trial, "refit": False, "samples": self.meta["data"]["split"]["train"],
                "trained_on": "the training split"}

    def best_single(self) -> str:
        """The best single model's choice: ``"refit"`` where the search refit its best trial, else that trial."""
        return self._member_choice(self.best_trial_id)

    def _member_choice(self, trial_id: str) -> str:
        """How an ensemble member's model is chosen: its refit where the search refit it."""
        done = self.refit_record()
        return REFIT if done is not None and done["trial"] == trial_id else trial_id

    def model(self, trial_id: str | None = None):
        """The trained model of ``trial_id`` (default: the ensemble if better, else the best, refit if made)."""
        trial_id, refitted = self.resolve(trial_id)
        key = REFIT if refitted else trial_id
        if key == ENSEMBLE and key not in self._models:
            members = self._ensemble(required=True)["members"]
            model = ensemble.keras_model([(m["trial"], self.model(self._member_choice(m["trial"])), m["count"])
                                          for m in members])
            self._models[key] = self.spec.compile(model)  # evaluate() needs its loss and metrics
        if key not in self._models:
            from .engine.hypermodel import JointHyperModel, load_weights_only

            hp = self._hyperparameters(trial_id)
            checkpoint = refit.weights_path(self.run) if refitted else self.run.checkpoint(trial_id)
            if not checkpoint.is_file():
                raise SearchError(f"Trial {trial_id!r} has no saved weights ({checkpoint} is missing).")
            architecture = self._architecture(hp.values["architecture"])
            hypermodel = JointHyperModel([architecture], self.spec)
            model = hypermodel.build(hp)
            load_weights_only(model, checkpoint)
            self._models[key] = hypermodel.final_model(hp, model)
        return self._models[key]

    def _architecture(self, name: str):
        """The architecture a trial was searched with: as given, as recorded in run.json, else the installed one."""
        if name not in self._architectures and name in self.meta.get("configured", {}):
            self._architectures[name] = portable.rebuild(self.meta["configured"][name])
        if name in self._architectures:
            return self._architectures[name]
        try:
            return registry.get_architecture(name)
        except PluginError as exc:
            raise PluginError(f"{exc} If the search was given {name!r} as a configured Architecture, pass it again: "
                              f"automodel.open_run(path, architectures=[...]).") from None

    def best_model(self):
        """The model the search found: the ensemble if it scored better, else the best trial (refit if made)."""
        return self.model()

    def _inputs(self, x):
        if self.spec.target == "generation":  # latent vectors
            return np.asarray(x, dtype="float32")
        return to_model_inputs(self.spec.inputs_kind, x, self.spec.input_shape, padded=self.spec.padded)

    def _targets(self, y) -> np.ndarray:
        if self.classes is None:
            return np.asarray(y).astype("float32")
        return encode_labels(y, self.classes, "y")

    def evaluate(self, data=None, trial_id: str | None = None) -> dict:
        """Metrics of the model on the held-out test split, or on ``(x, y)``.

        Returns e.g. ``{"accuracy": 0.98, "loss": 0.07}``; for generation
        ``{"fid": ...}``, the Frechet distance of generated to real images (pass
        real images as ``data``, or ``(images, labels)``).
        """
        if data is None:
            split = self.test_split()
        elif self.spec.target == "generation":
            images = data[0] if isinstance(data, (tuple, list)) else data
            split = to_model_inputs(self.spec.inputs_kind, images, self.spec.input_shape), None
        else:
            split = self._inputs(data[0]), self._targets(data[1])
        model = self.model(trial_id)
        if self.spec.target == "generation":
            from .engine.generation import FrechetEvaluator, feature_model

            reference = in_memory(split)[0]
            return {"fid": FrechetEvaluator(feature_model(self.run), reference).generator_distance(model)}
        args, options = fit_arguments(split, batch_size=256)  # an image folder streams from disk
        results = model.evaluate(*args, verbose=0, return_dict=True, **options)
        return {name: float(value) for name, value in results.items()}

    def test_split(self):
        """The held-out test split: ``(x, y)`` arrays, or a ``FileSplit`` of an image folder."""
        split = load_split(self.run, "test", self.meta)
        if split is None:
            raise SearchError(f"{self.path} holds no test split; pass data=(x, y).")
        return split

    def predict(self, x, trial_id: str | None = None) -> np.ndarray:
        """Class labels for classification, values for regression, images for latent vectors."""
        outputs = self.model(trial_id).predict(self._inputs(x), verbose=0)
        if self.classes is None or self.spec.target == "generation":
            return outputs
        return np.asarray(self.classes)[outputs.argmax(axis=-1)]

    def predict_proba(self, x, trial_id: str | None = None) -> np.ndarray:
        """Class probabilities for ``x``, columns in the order of ``spec.class_names``."""
        if self.spec.target != "classification":
            raise SearchError("predict_proba() is for classification tasks; use predict().")
        return self.model(trial_id).predict(self._inputs(x), verbose=0)

    def export(self, path, formats=None, trial=None, overwrite: bool = False, include_samples: bool = False) -> dict:
        """Write the best (or ``trial``'s) model to the folder ``path`` for deployment.

        ``formats``: any of "keras", "saved_model", "tflite", "onnx" (default: the
        first three). Each artifact is reloaded by its own runtime and checked
        against the trained model on up to 32 rows of the held-out test split; the
        model card (returned, and written as ``model_card.json`` and
        ``MODEL_CARD.md``) records the results. Those rows are real data, so they
        stay out of the folder unless ``include_samples=True`` writes them as
        ``sample_inputs.npy``, with the trained model's outputs on them as
        ``sample_outputs.npy``. An existing ``path`` is replaced only with
        ``overwrite=True``.
        """
        from .export.exporter import export_model

        return export_model(self, path, formats=formats, trial=trial, overwrite=overwrite,
                            include_samples=include_samples)

    def request_stop(self, reason: str = "stopped by user") -> None:
        """Ask the search writing this run to stop after its current epoch, keeping finished trials.

        It works from any process that sees the run directory (another notebook, a
        terminal, a machine sharing the folder): the request is a file the search
        reads after each epoch, workers included.
        """
        status = self.status
        if status != "running":
            raise SearchError(f"{self.path} is not running (its status is {status!r}), so there is nothing to stop.")
        stop.request_stop(self.run, reason)

    def generate(self, n: int = 16, seed: int = 0, trial_id: str | None = None) -> np.ndarray:
        """``n`` images from the best (or given) generator, in the data's value range."""
        if self.spec.target != "generation":
            raise SearchError(f"generate() is for image generation; this run is {self.task!r}.")
        from .engine.generation import generate

        return generate(self.model(trial_id), n, seed)

    # -- what the search learned (automodel.insight; each plot is a matplotlib Figure, None without data) ----------
    def plot_objective(self):
        """Each trial's objective against the time it ended, the best-so-far line, pruned and failed trials marked."""
        return figures.objective_figure(self.path)

    def plot_parallel_coordinates(self):
        """One line per trial across the hyperparameters that varied, coloured by the objective."""
        return figures.parallel_coordinates_figure(self.path)

    def plot_importance(self):
        """Hyperparameter importance (permutation importance of a random forest fitted to the trials)."""
        return figures.importance_figure(self.path)

    def plot_learning_curves(self, trials=None):
        """The objective per epoch of ``trials`` (ids; default: the best 8), overlaid."""
        return figures.curves_figure(self.path, trials)

    def plot_architectures(self):
        """Best and median objective per architecture, with each one's number of trials."""
        return figures.architecture_figure(self.path)

    def architecture_summary(self):
        """Per architecture: trials, completed, pruned, failed, best and median objective (a DataFrame)."""
        return insight.architecture_summary(self.path)

    def diagnostics(self, data=None, save: bool = False) -> dict:
        """How the default model does on the test split (or on ``(x, y)``), as ``automodel.insight.diagnostics``.

        Classification: confusion matrix, per-class precision, recall and F1, the
        most confident mistakes; regression: true, predicted, residuals, RMSE, MAE,
        R^2. ``model`` says which model was diagnosed. ``save=True`` writes the test
        split's to ``RUN/diagnostics.json``, where the panel and the report read them.
        """
        if self.spec.target == "generation":
            raise SearchError("Image generation has no test-split diagnostics: its sample grid shows the generator "
                              "(automodel.insight.diagnostics.sample_grid(run_dir)).")
        if save and data is not None:
            raise SearchError("save=True stores the test split's diagnostics; call diagnostics(save=True) "
                              "without data.")
        x, y = self._diagnosed_data(data)
        if self.spec.target == "classification":
            found = diagnosing.classification(y, self.predict_proba(x), self.classes)
        else:
            found = diagnosing.regression(y, self.predict(x))
        found.update(model=self.model_source(), split="test" if data is None else "given", inputs=self.spec.inputs_kind)
        if save:
            diagnosing.write(self.path, found)
        return found

    def _diagnosed_data(self, data):
        """``(x, labels)`` of ``data``, or of the test split (whose stored labels are class indices)."""
        if data is not None:
            return data[0], data[1]
        x, y = in_memory(self.test_split())
        return x, (y if self.classes is None else np.asarray(self.classes)[y])

    def _current_diagnostics(self, data, target: str, instead: str) -> dict:
        """The saved test-split diagnostics if they are of the default model, else computed now."""
        if self.spec.target != target:
            raise SearchError(f"This plot is for {target} tasks; this run is {self.task!r}: use {instead}.")
        saved = diagnosing.read(self.path) if data is None else None
        if saved and saved.get("model") == self.model_source():
            return saved
        return self.diagnostics(data)

    def plot_confusion_matrix(self, data=None):
        """The confusion matrix and per-class precision, recall and F1 on the test split (or ``(x, y)``)."""
        return figures.confusion_figure(self._current_diagnostics(data, "classification", "plot_residuals()"))

    def plot_mistakes(self, data=None):
        """The most confident mistakes on the test split (or ``(x, y)``): thumbnails or text, true and predicted."""
        found = self._current_diagnostics(data, "classification", "plot_residuals()")
        return figures.mistakes_figure(found, self._diagnosed_data(data)[0])

    def plot_residuals(self, data=None):
        """Predicted against true values with the diagonal, and the residuals, on the test split (or ``(x, y)``)."""
        return figures.regression_figure(self._current_diagnostics(data, "regression", "plot_confusion_matrix()"))

    def report(self, path, overwrite: bool = False, export=None) -> Path:
        """Write the run's report (``automodel report``): one HTML file with the plots embedded, to share."""
        return report.write(self.path, path, overwrite=overwrite, export=export)
