"""Host memory (RSS) of a search process after 5, 15 and 30 tiny trials, beside plain KerasTuner.

A long search must not grow trial after trial: KerasTuner clears the Keras
session before each build, and automodel adds a record per epoch, a backup per
trial and its bookkeeping. Each variant runs in a fresh process, on the same
data (600 of scikit-learn's digits) and the same one-layer model:

- ``automodel``: ``automodel.search`` with a random tuner, in the process;
- ``keras-tuner``: the hand-written equivalent, ``keras_tuner.RandomSearch``
  with early stopping;
- with ``--workers``, a search in one worker process with the built-in ``cnn``
  plugin (which workers load from its entry point), first without recycling,
  then with ``max_worker_memory="900MiB"``: the worker is replaced by a fresh
  process between trials once past it.

automodel's numbers are what each trial's record holds: the RSS of the process
that trained it, at the trial's end. Usage: ``python benchmarks/memory.py
[--epochs 2] [--workers]``. Prints the RSS in MiB after each checkpoint and the
growth from 5 to 30 trials.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHECKPOINTS = (5, 15, 30)

SETUP = """
import json, tempfile
import numpy as np, psutil
from automodel.datasets import load_digits
x, y = load_digits()
x, y = x[:600], y[:600]
rss, done = {{}}, []
def sample(mib):
    done.append(mib)
    if len(done) in {checkpoints}:
        rss[len(done)] = mib
def reporter(event, record=None, **info):
    if event == "trial_end":
        sample(record["sessions"][-1]["memory_mib"])
search = dict(task="image_classification", data=(x, y), tuner="random", max_trials=max({checkpoints}),
    epochs={epochs}, directory=tempfile.mkdtemp(), name="m", reporter=reporter)
"""

AUTOMODEL = """
import automodel
from automodel import Architecture, hookimpl, registry

class Dense(Architecture):
    name = "dense"
    tasks = ("image_classification",)
    def build(self, hp, spec):
        import keras
        inputs, h = spec.inputs()
        h = keras.layers.Dense(hp.Int("units", 4, 256, step=4), activation="relu")(keras.layers.Flatten()(h))
        return keras.Model(inputs, spec.head(h))

class Plugin:
    @hookimpl
    def register_architectures(self, register):
        register(Dense())

registry.plugin_manager().register(Plugin(), name="dense")
automodel.search(architectures=["dense"], **search)
"""

KERAS_TUNER = """
import keras, keras_tuner as kt
x = x[..., None].astype("float32") / 16
def build(hp):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
        keras.layers.Dense(hp.Int("units", 4, 256, step=4), activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
class Sampling(kt.RandomSearch):
    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        sample(psutil.Process().memory_info().rss / 2**20)
tuner = Sampling(build, objective="val_accuracy", max_trials=search["max_trials"], directory=search["directory"], seed=1)
tuner.search(x[:420], y[:420], validation_data=(x[420:], y[420:]), epochs=search["epochs"], verbose=0,
    callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=5)])
"""

WORKER = """
import automodel
automodel.search(architectures=["cnn"], batch_size=128, workers=1, max_worker_memory="{limit}", **search)
"""

VARIANTS = {
    "automodel": AUTOMODEL,
    "keras-tuner": KERAS_TUNER,
    "worker (cnn)": WORKER.replace("{limit}", "1TB"),
    "worker, recycled": WORKER.replace("{limit}", "900MiB"),
}
WORKER_VARIANTS = ("worker (cnn)", "worker, recycled")


def measure(variant: str, epochs: int, env: dict | None = None) -> dict:
    """RSS in MiB after each checkpoint, measured in a fresh process (with ``env`` added to its environment)."""
    code = (SETUP + VARIANTS[variant] + "\nprint(json.dumps(rss))\n").format(epochs=epochs, checkpoints=CHECKPOINTS)
    environment = {**os.environ, **(env or {})}
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=environment)
    out = done.stdout
    return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    parser.add_argument("--workers", action="store_true", help="also measure a worker process (the cnn plugin)")
    args = parser.parse_args()
    variants = [v for v in VARIANTS if args.workers or v not in WORKER_VARIANTS]
    print(f"{'variant':<18}" + "".join(f"{f'after {n}':>12}" for n in CHECKPOINTS) + f"{'5 -> 30':>12}")
    for variant in variants:
        rss = measure(variant, args.epochs)
        cells = "".join(f"{rss[n]:>8.0f} MiB" for n in CHECKPOINTS)
        print(f"{variant:<18}{cells}{rss[CHECKPOINTS[-1]] - rss[CHECKPOINTS[0]]:>+8.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
