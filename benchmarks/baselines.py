"""The models a user would otherwise pick, each run as that user would run it.

- scikit-learn (``grid``): a linear model, an RBF support-vector machine and a
  random forest on the flattened inputs, each tuned by a small grid: every
  candidate is fitted on the training split and chosen on the validation split,
  as automodel's trials are, then scored on the test split.
- the time-series classics (``nearest_neighbour``, ``minirocket``): 1-nearest-
  neighbour with Euclidean distance and aeon's MiniRocket, by the UCR protocol:
  fitted on the whole training set (train + validation), scored on the test set.
- a plain KerasTuner search (``keras_tuner``), written the obvious way: a small
  ``kt.HyperModel`` (a Conv2D net for images, a Conv1D net for sequences),
  ``RandomSearch``, fixed epochs, ``validation_data=`` the validation split, and
  the clock checked before each trial and after each epoch to stop at the time
  budget; its best model is scored on the test split.

Every function takes a ``quality_data.Dataset`` and returns
``{"score": ..., "seconds": ..., ...}``: accuracy for classification, RMSE for
regression, both from the model's predictions on the test set (``score``). The
seconds cover fitting and choosing, after the imports.
"""

from __future__ import annotations

import tempfile
import time
import warnings

import numpy as np

from benchmarks.quality_data import Dataset, channels_first, flat

GRID_METHODS = ("linear", "svm", "forest")


def score(dataset: Dataset, predicted) -> float:
    """Accuracy (classification) or root-mean-square error (regression) on the test set."""
    truth, predicted = np.asarray(dataset.test[1]), np.asarray(predicted)
    if dataset.classification:
        return float((predicted.reshape(truth.shape) == truth).mean())
    return float(np.sqrt(np.mean((predicted.reshape(truth.shape) - truth) ** 2)))


def _grids(classification: bool) -> dict:
    """method: (estimator, grid of its parameters)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    gamma = ["scale", 0.001, 0.003, 0.01]
    if classification:
        return {
            "linear": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                       {"logisticregression__C": [0.01, 0.1, 1, 10]}),
            "svm": (make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 3, 10, 30], "svc__gamma": gamma}),
            "forest": (RandomForestClassifier(random_state=0),
                       {"n_estimators": [100, 300], "max_features": ["sqrt", 0.3]}),
        }
    return {
        "linear": (make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 1, 10, 100]}),
        "svm": (make_pipeline(StandardScaler(), SVR()),
                {"svr__C": [0.1, 1, 10, 30], "svr__gamma": gamma, "svr__epsilon": [0.01, 0.1]}),
        "forest": (RandomForestRegressor(random_state=0), {"n_estimators": [100, 300], "max_features": [1.0, 0.3]}),
    }


def grid(dataset: Dataset, method: str) -> dict:
    """One scikit-learn model, its grid fitted on the training split and chosen on the validation split."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import ParameterGrid

    estimator, parameters = _grids(dataset.classification)[method]
    (xf, yf), (xv, yv) = ((flat(x), y) for x, y in (dataset.fit, dataset.validation))
    started = time.perf_counter()
    with warnings.catch_warnings():  # a large C on fewer samples than features may stop short of converging
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = [clone(estimator).set_params(**params).fit(xf, yf) for params in ParameterGrid(parameters)]
    # score() is accuracy for classifiers and R^2 for regressors: higher is better for both
    best = max(fitted, key=lambda model: model.score(xv, yv))
    seconds = time.perf_counter() - started
    return {"score": score(dataset, best.predict(flat(dataset.test[0]))), "seconds": seconds,
            "candidates": len(fitted)}


def nearest_neighbour(dataset: Dataset) -> dict:
    """1-NN with Euclidean distance on the whole training set (the UCR archive's first baseline)."""
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    model = (KNeighborsClassifier if dataset.classification else KNeighborsRegressor)(n_neighbors=1)
    started = time.perf_counter()
    predicted = model.fit(flat(dataset.train[0]), dataset.train[1]).predict(flat(dataset.test[0]))
    return {"score": score(dataset, predicted), "seconds": time.perf_counter() - started}


def minirocket(dataset: Dataset, seed: int) -> dict:
    """aeon's MiniRocket (its ridge classifier or regressor on 10,000 kernels) on the whole training set."""
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.regression.convolution_based import MiniRocketRegressor

    model = (MiniRocketClassifier if dataset.classification else MiniRocketRegressor)(random_state=seed)
    started = time.perf_counter()
    model.fit(channels_first(dataset.train[0]), dataset.train[1])
    predicted = model.predict(channels_first(dataset.test[0]))
    return {"score": score(dataset, predicted), "seconds": time.perf_counter() - started}


def keras_tuner(dataset: Dataset, budget: float, epochs: int, seed: int) -> dict:
    """A plain KerasTuner random search of a small conv net, stopped at ``budget`` seconds."""
    import keras
    import keras_tuner as kt

    keras.utils.set_random_seed(seed)
    (xf, yf), (xv, yv) = dataset.fit, dataset.validation
    classification = dataset.classification
    started = time.perf_counter()
    deadline = time.monotonic() + budget

    class ConvNet(kt.HyperModel):
        def build(self, hp):
            image = xf.ndim == 4
            conv, pool = (keras.layers.Conv2D, keras.layers.MaxPooling2D) if image else (
                keras.layers.Conv1D, keras.layers.MaxPooling1D)
            axes = tuple(range(xf.ndim - 1))
            inputs = keras.Input(xf.shape[1:])
            x = keras.layers.Normalization(mean=xf.mean(axis=axes), variance=xf.var(axis=axes))(inputs)
            kernel = 3 if image else hp.Choice("kernel_size", [3, 5, 7])
            for block in range(hp.Int("blocks", 1, 3)):
                x = conv(hp.Choice(f"filters_{block}", [32, 64, 128]), kernel, padding="same", activation="relu")(x)
                x = pool(2, padding="same")(x)
            x = (keras.layers.GlobalAveragePooling2D if image else keras.layers.GlobalAveragePooling1D)()(x)
            x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.25))(x)
            if classification:
                outputs = keras.layers.Dense(int(yf.max()) + 1, activation="softmax")(x)
                loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
            else:
                outputs, loss, metrics = keras.layers.Dense(1)(x), "mse", ["mae"]
            model = keras.Model(inputs, outputs)
            learning_rate = hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
            model.compile(keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
            return model

    class TimedRandomSearch(kt.RandomSearch):
        def pre_create_trial(self):
            if time.monotonic() >= deadline:  # no new trial after the budget: the oracle stops at max_trials
                self.oracle.max_trials = max(len(self.oracle.trials), 1)

    class Deadline(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if time.monotonic() >= deadline:
                self.model.stop_training = True

    with tempfile.TemporaryDirectory() as directory:
        tuner = TimedRandomSearch(
            ConvNet(), objective="val_accuracy" if classification else "val_loss", max_trials=100_000, seed=seed,
            directory=directory, project_name="plain",
        )
        tuner.search(xf, yf, validation_data=(xv, yv), epochs=epochs, callbacks=[Deadline()], verbose=0)
        seconds = time.perf_counter() - started
        trials = sum(trial.status == "COMPLETED" for trial in tuner.oracle.trials.values())
        outputs = tuner.get_best_models(1)[0].predict(dataset.test[0], verbose=0)
    predicted = outputs.argmax(axis=-1) if classification else outputs
    return {"score": score(dataset, predicted), "seconds": seconds, "trials": int(trials)}
