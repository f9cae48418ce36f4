"""The objective of image generation: a Frechet distance for the data at hand.

FID's usual Inception features mean little for 8x8 digits or other small,
domain-specific images, so the features come from a network trained on the real
training split: a small CNN classifier when labels exist (its penultimate layer),
otherwise an autoencoder (its bottleneck). The reference statistics are those of
held-out real images (the validation split during the search, the test split in
``evaluate``). Each epoch, samples of the trial's generator from a fixed set of
latent vectors are compared with them, and the score is the trial's ``fid``.

The feature network is trained once per run and kept in the run directory, so a
resumed search and a re-opened result measure with the same ruler.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import keras
import numpy as np
from scipy import linalg

from ..runs.atomic import atomic_write
from ..runs.rundir import RunDir
from ..tasks import TaskSpec

FEATURE_MODEL = "fid_features.keras"
SAMPLE_GRID = "samples.png"
SAMPLES = 512
FEATURE_EPOCHS = 8


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` and ``b``."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Collapsed generators give singular covariances: regularise, as the FID reference does.
    eps = np.eye(len(cov_a)) * 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def _train_feature_model(spec: TaskSpec, x, y, validation, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs, h = spec.inputs()
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    if min(h.shape[1], h.shape[2]) >= 2:
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    features = keras.layers.Dense(64, activation="relu", name="features")(h)
    if y is not None:  # a classifier of the real labels
        classes = int(max(y.max(), validation[1].max())) + 1
        outputs = keras.layers.Dense(classes, activation="softmax")(features)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        targets, val_targets = y, validation[1]
    else:  # an autoencoder of the images
        flat = keras.layers.Dense(math.prod(spec.input_shape))(features)
        outputs = keras.layers.Reshape(spec.input_shape)(flat)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        targets, val_targets = x, validation[0]
    model.fit(x, targets, validation_data=(validation[0], val_targets), epochs=FEATURE_EPOCHS, batch_size=32, verbose=0)
    return keras.Model(inputs, model.get_layer("features").output, name="fid_features")


def ensure_feature_model(run: RunDir, spec: TaskSpec, train, validation, seed: int = 0) -> None:
    """Train the run's feature network and save it in the run directory, unless it is there."""
    path = run.path / FEATURE_MODEL
    if path.is_file():  # a resumed search keeps its ruler
        return
    model = _train_feature_model(spec, *train, validation, seed)
    with atomic_write(path) as tmp:
        model.save(tmp)


def feature_model(run: RunDir):
    """The run's feature network, as ``ensure_feature_model`` saved it."""
    return keras.models.load_model(run.path / FEATURE_MODEL)


def latent_vectors(generator, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """A fixed set of latent vectors for ``generator`` (its input shape, normal)."""
    shape = tuple(generator.input_shape[1:])
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype("float32")


def run_model(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``model(x)`` in inference mode, batch by batch.

    Called every epoch on fresh models: direct calls avoid tracing a new
    ``predict`` function each time.
    """
    return np.concatenate(
        [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    )


def generate(generator, n: int, seed: int) -> np.ndarray:
    return run_model(generator, latent_vectors(generator, n, seed))


class FrechetEvaluator:
    """Distances of generated images to a reference set of real images."""

    def __init__(self, features: keras.Model, reference: np.ndarray):
        self.features = features
        self.reference = run_model(features, reference)

    def distance(self, images: np.ndarray) -> float:
        return frechet_distance(run_model(self.features, images), self.reference)

    def generator_distance(self, generator, seed: int = 0) -> float:
        return self.distance(generate(generator, SAMPLES, seed))


def sample_grid(generator, spec: TaskSpec, path: Path, count: int = 36, seed: int = 1) -> None:
    """Save a square grid of generated images as a PNG (small images scaled up)."""
    from PIL import Image

    images = generate(generator, count, seed)
    low, high = spec.value_range
    images = np.clip((images - low) / max(high - low, 1e-8), 0, 1)
    side = int(math.ceil(math.sqrt(count)))
    height, width, channels = images.shape[1:]
    scale = max(1, 32 // max(height, width))
    grid = np.ones((side * (height + 1) + 1, side * (width + 1) + 1, channels), dtype="float32")
    for i, image in enumerate(images):
        row, col = divmod(i, side)
        top, left = row * (height + 1) + 1, col * (width + 1) + 1
        grid[top : top + height, left : left + width] = image
    pixels = (np.kron(grid, np.ones((scale, scale, 1))) * 255).astype("uint8")
    picture = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    with atomic_write(path) as tmp:
        picture.save(tmp, format="PNG")


class FrechetCallback(keras.callbacks.Callback):
    """Adds ``fid`` to each epoch's logs and keeps a sample grid of the best epoch.

    It runs before KerasTuner's checkpoint and early stopping, which read ``fid``
    from the same logs. The untrained generator's distance goes in the trial
    record as ``fid_untrained``: the yardstick of what training achieved.
    """

    def __init__(self, evaluator: FrechetEvaluator, generator_of, spec: TaskSpec, grid_path: Path, record: dict):
        super().__init__()
        self.evaluator = evaluator
        self.generator_of = generator_of
        self.spec = spec
        self.grid_path = grid_path
        self.record = record
        self.best = math.inf

    def on_train_begin(self, logs=None):
        if "fid_untrained" not in self.record:
            self.record["fid_untrained"] = self.evaluator.generator_distance(self.generator_of(self.model))

    def on_epoch_end(self, epoch, logs=None):
        generator = self.generator_of(self.model)
        fid = self.evaluator.generator_distance(generator)
        if logs is not None:
            logs["fid"] = fid
        if fid < self.best:
            self.best = fid
            sample_grid(generator, self.spec, self.grid_path)


def trial_callbacks(run: RunDir, spec: TaskSpec, reference: np.ndarray, hypermodel):
    """A factory of per-trial callbacks for the tuner: ``make(trial, record)``.

    ``reference`` is the held-out real images the samples are compared with.
    """
    evaluator = FrechetEvaluator(feature_model(run), reference)

    def make(trial, record):
        hp = trial.hyperparameters
        grid = run.trial_dir(trial.trial_id) / SAMPLE_GRID
        return [FrechetCallback(evaluator, lambda model: hypermodel.final_model(hp, model), spec, grid, record)]

    return make
