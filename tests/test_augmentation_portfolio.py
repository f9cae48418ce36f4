"""Image augmentation as hyperparameters (cnn, vgg16), and the built-in plugins' portfolios.

Augmentation must change what training sees and nothing else: inference is
deterministic, the same with the layers as without, flips happen only when the
search picks them, and an augmented model exports and verifies in every format.
Every portfolio entry must name hyperparameters that build() declares, by the
exact name, with values inside their ranges, and give a model that trains.
"""

from __future__ import annotations

import math

import keras_tuner as kt
import numpy as np
import pytest
from test_export import ALL_FORMATS, reload_outputs
from test_plugins import layer_types

from automodel.data import prepare
from automodel.plugins.augmentation import AUGMENTATION
from automodel.plugins.cnn import CNN
from automodel.plugins.gan import GAN
from automodel.plugins.rnn import RNN
from automodel.plugins.vgg16 import VGG16Transfer

# a demo data set per task: (task, data) for prepare()
DEMO = {
    "image_classification": (None, "digits"),
    "sequence_classification": (None, "waveforms"),
    "sequence_regression": (None, "series"),
    "text_classification": (None, "reviews"),
    "image_generation": ("image_generation", "digits"),
}
BUILTIN = [CNN(), RNN(), VGG16Transfer(), VGG16Transfer(weights=None), GAN()]


@pytest.fixture(scope="module")
def demo():
    cache = {}

    def get(task):
        if task not in cache:
            cache[task] = prepare(*DEMO[task])
        return cache[task]

    return get


def build(arch, spec, **values):
    """Build ``arch`` with ``values`` preset, as the tuner would; return the hyperparameters and the model."""
    hp = kt.HyperParameters()
    hp.values.update(values)
    return hp, arch.build(hp, spec)


# -- augmentation -----------------------------------------------------------------


@pytest.mark.parametrize("arch", [CNN(), VGG16Transfer(weights=None)], ids=["cnn", "vgg16"])
def test_augmentation_is_searched_off_by_default_and_flips_only_when_chosen(demo, arch):
    spec = demo("image_classification").spec
    hp, model = build(arch, spec)
    space = {p.name: p for p in hp.space}
    assert space["augment"].default is False and AUGMENTATION not in {layer.name for layer in model.layers}
    assert list(space["flip"].values) == ["none", "horizontal"] and space["flip"].default == "none"
    assert not hp.is_active("flip") and not hp.is_active("augment_strength")  # conditional on augment

    _, model = build(arch, spec, augment=True)
    augmentation = model.get_layer(AUGMENTATION)
    kinds = [type(layer).__name__ for layer in augmentation.layers]
    assert kinds == ["RandomTranslation", "RandomRotation", "RandomZoom"]
    first_conv = min(i for i, layer in enumerate(model.layers) if type(layer).__name__ in ("Conv2D", "Functional"))
    assert model.layers.index(augmentation) < first_conv  # on the pixels, before the convolutions

    _, model = build(arch, spec, augment=True, flip="horizontal")
    flip = model.get_layer(AUGMENTATION).layers[0]
    assert type(flip).__name__ == "RandomFlip" and flip.mode == "horizontal"


def test_augmentation_changes_training_inputs_only(demo):
    arch, data = CNN(), demo("image_classification")
    x = data.train[0][:8]
    _, model = build(arch, data.spec, augment=True, augment_strength=0.2)
    augmentation = model.get_layer(AUGMENTATION)
    normalised = np.asarray(model.get_layer("normalize")(x))
    assert np.abs(np.asarray(augmentation(normalised, training=True)) - normalised).max() > 0.1
    np.testing.assert_array_equal(np.asarray(augmentation(normalised, training=False)), normalised)

    first, second = (np.asarray(model(x, training=False)) for _ in range(2))
    np.testing.assert_array_equal(first, second)  # deterministic at inference
    deployed = arch.final_model(model)
    assert AUGMENTATION not in {layer.name for layer in deployed.layers}
    assert "RandomZoom" not in layer_types(deployed) and deployed.input_shape == model.input_shape
    np.testing.assert_allclose(np.asarray(deployed(x, training=False)), first, atol=1e-6)
    # the same variables, not copies: training either trains both
    assert {id(v) for v in deployed.weights} <= {id(v) for v in model.weights}
    assert deployed.compiled and "loss" in deployed.evaluate(x, np.zeros(len(x)), verbose=0, return_dict=True)
    _, plain = build(arch, data.spec)
    assert arch.final_model(plain) is plain  # nothing to leave out


def test_an_augmented_model_exports_and_verifies_in_every_format(tmp_path, small_digits):
    import automodel

    class Augmented(CNN):  # named cnn: the run's model is rebuilt by the registered plugin from the trial's values
        def portfolio(self, spec):
            return [{"conv_blocks": 1, "filters_0": 16, "dense_units": 0, "augment": True, "augment_strength": 0.2,
                     "flip": "horizontal"}]

    x, y = small_digits
    result = automodel.search(task="image_classification", data=(x[:300], y[:300]), architectures=[Augmented()],
                              tuner="random", max_trials=1, epochs=1, validation="split", directory=tmp_path, seed=0)
    assert result.best_hyperparameters()["cnn/augment"] is True
    card = result.export(tmp_path / "export", formats=ALL_FORMATS, include_samples=True)
    assert {name: info["status"] for name, info in card["formats"].items()} == dict.fromkeys(ALL_FORMATS, "verified")
    assert card["processing_layers"] == ["Normalization"]  # augmentation is not deployment preprocessing
    folder = tmp_path / "export"
    samples = np.load(folder / "sample_inputs.npy")
    expected = np.asarray(result.model()(samples, training=False))
    outputs = reload_outputs(folder, card, samples, tmp_path)
    assert set(outputs) == set(ALL_FORMATS)
    for name, actual in outputs.items():
        np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0, err_msg=name)


# -- portfolios -------------------------------------------------------------------


def allowed(param, value) -> bool:
    """Whether ``value`` is one KerasTuner could give the hyperparameter ``param``."""
    kind = type(param).__name__
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind == "Fixed":
        return value == param.value
    if kind == "Choice":
        return value in param.values
    if isinstance(value, bool) or not param.min_value <= value <= param.max_value:
        return False
    if kind == "Int":
        return isinstance(value, int) and (value - param.min_value) % (param.step or 1) == 0
    steps = (value - param.min_value) / param.step if param.step else 0.0
    return math.isclose(steps, round(steps), abs_tol=1e-9)


def label(value):
    if isinstance(value, str):
        return value
    return value.name if getattr(value, "pretrained", True) else f"{value.name}-scratch"


@pytest.mark.parametrize("arch, task", [(arch, task) for arch in BUILTIN for task in arch.tasks], ids=label)
def test_every_portfolio_entry_names_declared_hyperparameters_in_range_and_trains(demo, arch, task):
    data = demo(task)
    entries = arch.portfolio(data.spec)
    assert len(entries) <= 3 and all(isinstance(entry, dict) and entry for entry in entries)
    x = data.train[0][:4]
    y = None if data.train[1] is None else data.train[1][:4]
    for entry in entries:
        hp, model = build(arch, data.spec, **entry)
        declared = {p.name: p for p in hp.space}
        for name, value in entry.items():
            where = f"{arch.name} portfolio for {task}, {name}={value!r}"
            assert name in declared, f"{where}: build() declares no such hyperparameter (it has {sorted(declared)})"
            assert hp.is_active(name) and name in hp.values, f"{where}: not active with the entry's other values"
            assert allowed(declared[name], value), f"{where}: outside {declared[name].get_config()}"
        model.run_eagerly = True  # the same step without tracing a graph: several times faster here
        history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        losses = [value for key, values in history.history.items() if "loss" in key for value in values]
        assert losses and all(np.isfinite(losses)), (entry, history.history)


def test_portfolios_hold_the_reference_settings(demo):
    spec = demo("sequence_classification").spec
    resnet, fcn = CNN().portfolio(spec)
    assert resnet["family"] == "resnet" and resnet["filters"] == 64 and resnet["residual_blocks"] == 3
    assert fcn["family"] == "fcn" and fcn["filters"] == 128 and fcn["kernel_size"] == 8
    assert all(entry["dense_units"] == 0 and entry["dropout"] == 0.0 for entry in (resnet, fcn))
    images = CNN().portfolio(demo("image_classification").spec)
    assert [entry["augment"] for entry in images] == [False, True]
    assert all(entry.get("flip", "none") == "none" for entry in images)  # digits must not be mirrored
    assert all(entry["unfreeze_blocks"] == 1 for entry in VGG16Transfer().portfolio(demo("image_classification").spec))
    assert [entry["cell"] for entry in RNN().portfolio(spec)] == ["gru", "lstm"]
