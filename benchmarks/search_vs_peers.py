"""automodel's search beside its peers on the digits data set, in one run.

- ``automodel``: ``automodel.search`` with the built-in ``cnn`` plugin;
- ``keras-tuner``: the same search written by hand with ``keras_tuner.RandomSearch``
  (the same CNN search space, split, early stopping and budget), which is what
  automodel runs underneath, so the ratio of the two is automodel's overhead;
- ``scikit-learn``: an RBF support-vector machine and a logistic regression on
  the flattened pixels, tuned by ``GridSearchCV``: the baselines a model search
  has to beat.

Every variant uses the same train/validation/test split (automodel's, seeded)
and reports wall-clock seconds and accuracy on the held-out test split. Each
runs in a fresh process so that TensorFlow's import is counted the same way.
Usage: ``python benchmarks/search_vs_peers.py [--trials 8] [--epochs 20]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

AUTOMODEL = """
import json, sys, tempfile, time
started = time.perf_counter()
import automodel
trials, epochs = int(sys.argv[1]), int(sys.argv[2])
result = automodel.search(data="digits", architectures=["cnn"], tuner="random", max_trials=trials, epochs=epochs,
                          directory=tempfile.mkdtemp(), seed=0)
accuracy = result.evaluate()["accuracy"]
print(json.dumps({"seconds": time.perf_counter() - started, "accuracy": accuracy}))
"""

KERAS_TUNER = """
import json, sys, tempfile, time
started = time.perf_counter()
import keras, keras_tuner as kt
from automodel.data import prepare
from automodel.plugins.cnn import CNN
trials, epochs = int(sys.argv[1]), int(sys.argv[2])
data = prepare(None, "digits", seed=0)  # the same split and spec
tuner = kt.RandomSearch(lambda hp: CNN().build(hp, data.spec), objective="val_accuracy", max_trials=trials,
                        seed=1, directory=tempfile.mkdtemp(), project_name="digits")
stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=5)
tuner.search(*data.train, validation_data=data.validation, epochs=epochs, batch_size=32, callbacks=[stop], verbose=0)
model = tuner.get_best_models(1)[0]
accuracy = model.evaluate(*data.test, verbose=0, return_dict=True)["accuracy"]
print(json.dumps({"seconds": time.perf_counter() - started, "accuracy": accuracy}))
"""

SCIKIT_LEARN = """
import json, sys, time
started = time.perf_counter()
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from automodel.data import prepare
data = prepare(None, "digits", seed=0)
flat = lambda split: (split[0].reshape(len(split[0]), -1), split[1])
(xt, yt), (xv, yv), (xs, ys) = flat(data.train), flat(data.validation), flat(data.test)
x, y = np.concatenate([xt, xv]), np.concatenate([yt, yv])
fold = PredefinedSplit([-1] * len(yt) + [0] * len(yv))  # tune on the same validation split
models = {
    "svm": (SVC(), {"svc__C": [1, 3, 10, 30], "svc__gamma": ["scale", 0.001, 0.003]}),
    "logistic": (LogisticRegression(max_iter=2000), {"logisticregression__C": [0.1, 1, 10]}),
}
out = {}
for name, (model, grid) in models.items():
    search = GridSearchCV(make_pipeline(StandardScaler(), model), grid, cv=fold).fit(x, y)
    out[name] = float(search.score(xs, ys))
print(json.dumps({"seconds": time.perf_counter() - started, **out}))
"""


def run(code: str, *args) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    ours = run(AUTOMODEL, args.trials, args.epochs)
    peer = run(KERAS_TUNER, args.trials, args.epochs)
    baselines = run(SCIKIT_LEARN)
    print(f"digits, {args.trials} trials x up to {args.epochs} epochs, accuracy on the held-out test split")
    print(f"{'variant':<28}{'seconds':>9}{'accuracy':>10}")
    print(f"{'automodel (cnn, random)':<28}{ours['seconds']:>9.1f}{ours['accuracy']:>10.4f}")
    print(f"{'hand-written KerasTuner':<28}{peer['seconds']:>9.1f}{peer['accuracy']:>10.4f}")
    print(f"{'scikit-learn SVM (grid)':<28}{baselines['seconds']:>9.1f}{baselines['svm']:>10.4f}")
    print(f"{'scikit-learn logistic':<28}{'':>9}{baselines['logistic']:>10.4f}")
    print(f"automodel / KerasTuner time: {ours['seconds'] / peer['seconds']:.2f}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
