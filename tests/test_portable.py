"""Architectures written down in run.json and made again: what travels and what says why not."""

from pathlib import Path

import numpy as np
import pytest

from automodel import Architecture, PluginError, portable
from automodel.plugins.vgg16 import VGG16Transfer


def make_resnet(spec):  # importable: a module-level function
    return None


def test_a_configured_plugin_is_rebuilt_equal_from_its_json_record():
    arch = VGG16Transfer(weights=Path("weights") / "vgg16.h5")
    entry = portable.record(arch)
    assert entry == {"class": "automodel.plugins.vgg16:VGG16Transfer", "args": [],
                     "kwargs": {"weights": {"$path": str(Path("weights") / "vgg16.h5")}}}
    rebuilt = portable.rebuild(entry)
    assert type(rebuilt) is VGG16Transfer and rebuilt.weights == arch.weights and portable.same(rebuilt, arch)


def test_a_wrapped_hypermodel_travels_when_its_function_is_importable():
    arch = Architecture.from_hypermodel("resnet", make_resnet, ["image_classification"], portfolio=[{"version": "v1"}])
    rebuilt = portable.rebuild(portable.record(arch))
    assert rebuilt._make_hypermodel is make_resnet and rebuilt.tasks == ("image_classification",)
    assert rebuilt.portfolio(None) == [{"version": "v1"}]


@pytest.mark.parametrize("make, reason", [
    (lambda: Architecture.from_hypermodel("r", lambda spec: None, ["image_classification"]),
     r"argument make_hypermodel, '.*<lambda>', is defined inside a function"),
    (lambda: VGG16Transfer(weights=np.zeros(3)), r"argument weights, array\(.*\), is a ndarray, which cannot"),
    (lambda: _renamed(VGG16Transfer(), "other"), "changed after it was made"),
])
def test_what_cannot_be_written_down_says_why(make, reason):
    with pytest.raises(portable.NotPortable, match=reason):
        portable.record(make())


def _renamed(arch, name):
    arch.name = name
    return arch


def test_a_record_whose_module_is_gone_is_a_plugin_error_with_the_fix():
    with pytest.raises(PluginError, match="Cannot rebuild architecture gone_module:Arch .*Install the module"):
        portable.rebuild({"class": "gone_module:Arch", "args": [], "kwargs": {}})
