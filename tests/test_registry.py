"""The plugin registry: entry points, allow/block lists, and plugins that are wrong."""

import pytest
from conftest import plugin_of, registered, tiny_architecture

import automodel
from automodel import PluginError, Task, hookimpl

GOOD_PLUGIN = """
from automodel import Architecture, hookimpl

class Extra(Architecture):
    name = "extra"
    tasks = ("image_classification",)
    description = "an extra architecture"

@hookimpl
def register_architectures(register):
    register(Extra())
"""


def test_builtin_plugins_load_through_entry_points(clean_registry):
    rows = {row.name: row for row in automodel.list_plugins()}
    assert rows["cnn"].distribution == "automodel"
    assert rows["cnn"].plugin == "cnn"
    assert "image_classification" in rows["cnn"].tasks
    assert rows["cnn"].description


def test_core_tasks_and_datasets_are_registered(clean_registry):
    assert automodel.get_task("image_classification").objective == "val_accuracy"
    assert automodel.get_datasets()["digits"].tasks[0] == "image_classification"


def test_third_party_entry_point_is_loaded_with_its_distribution(clean_registry, fake_distribution):
    fake_distribution("automodel-extra", "2.3.1", {"extra": "automodel_extra"}, {"automodel_extra": GOOD_PLUGIN})
    rows = {row.name: row for row in automodel.list_plugins()}
    assert (rows["extra"].distribution, rows["extra"].version) == ("automodel-extra", "2.3.1")
    assert set(automodel.get_architectures("image_classification")) >= {"cnn", "extra"}


def test_allow_list_loads_only_named_plugins(clean_registry, fake_distribution, monkeypatch):
    fake_distribution("automodel-extra", "1.0", {"extra": "automodel_extra"}, {"automodel_extra": GOOD_PLUGIN})
    monkeypatch.setenv("AUTOMODEL_LOAD_PLUGINS", "extra")
    assert set(automodel.get_architectures()) == {"extra"}
    # core tasks are not plugins one can forget to allow
    assert "image_classification" in automodel.get_tasks()


def test_empty_allow_list_loads_no_plugins(clean_registry, monkeypatch):
    monkeypatch.setenv("AUTOMODEL_LOAD_PLUGINS", "")
    assert automodel.get_architectures() == {}


def test_block_list_skips_named_plugins(clean_registry, monkeypatch):
    monkeypatch.setenv("AUTOMODEL_DISABLE_PLUGINS", "cnn")
    assert "cnn" not in automodel.get_architectures()


def test_plugin_that_fails_to_import_names_itself_and_its_distribution(clean_registry, fake_distribution):
    fake_distribution("automodel-broken", "0.3", {"broken": "automodel_broken"}, {"automodel_broken": "import no_such_module\n"})
    with pytest.raises(PluginError) as error:
        automodel.list_plugins()
    message = str(error.value)
    assert "'broken'" in message and "automodel-broken 0.3" in message
    assert "no_such_module" in message and "AUTOMODEL_DISABLE_PLUGINS=broken" in message


def test_broken_plugin_can_be_disabled(clean_registry, fake_distribution, monkeypatch):
    fake_distribution("automodel-broken", "0.3", {"broken": "automodel_broken"}, {"automodel_broken": "raise ImportError('x')\n"})
    monkeypatch.setenv("AUTOMODEL_DISABLE_PLUGINS", "broken")
    assert "cnn" in automodel.get_architectures()


def test_duplicate_architecture_name_is_an_error_naming_both_plugins(clean_registry):
    with registered(plugin_of(tiny_architecture("cnn")), "copycat"):
        with pytest.raises(PluginError) as error:
            automodel.get_architectures()
    message = str(error.value)
    assert "'cnn' is registered twice" in message and "'copycat'" in message and "plugin 'cnn'" in message


def test_duplicate_from_an_installed_distribution_fails_at_load_time(clean_registry, fake_distribution):
    source = GOOD_PLUGIN.replace('name = "extra"', 'name = "cnn"')
    fake_distribution("automodel-copy", "1.0", {"copy": "automodel_copy"}, {"automodel_copy": source})
    with pytest.raises(PluginError, match="automodel-copy 1.0"):
        automodel.list_plugins()


def test_unknown_task_is_an_error_naming_the_plugin(clean_registry):
    arch = tiny_architecture("odd")
    arch.tasks = ("telepathy",)
    with registered(plugin_of(arch), "oddplugin"):
        with pytest.raises(PluginError) as error:
            automodel.get_architectures()
    assert "'oddplugin'" in str(error.value) and "telepathy" in str(error.value)
    assert "image_classification" in str(error.value)  # lists what is known


def test_registering_something_that_is_not_an_architecture(clean_registry):
    with registered(plugin_of(object()), "junk"):
        with pytest.raises(PluginError, match="not an automodel.Architecture"):
            automodel.get_architectures()


def test_a_plugin_can_add_a_task(clean_registry):
    class TaskPlugin:
        @hookimpl
        def register_tasks(self, register):
            register(Task("image_regression", inputs="image", target="regression"))

    arch = tiny_architecture("regressor")
    arch.tasks = ("image_regression",)
    with registered(TaskPlugin(), "tasks"), registered(plugin_of(arch), "regressor"):
        assert automodel.get_task("image_regression").objective == "val_loss"
        assert set(automodel.get_architectures("image_regression")) == {"regressor"}


def test_unknown_names_list_what_exists(clean_registry):
    with pytest.raises(PluginError, match="Installed: .*cnn"):
        automodel.get_architecture("transformer")
    with pytest.raises(PluginError, match="Known tasks: .*image_classification"):
        automodel.get_task("nope")


def test_from_hypermodel_wraps_a_keras_tuner_hypermodel(clean_registry):
    import keras
    import keras_tuner as kt

    from automodel.tasks import TaskSpec

    class Dense(kt.HyperModel):
        def __init__(self, classes):
            self.classes = classes

        def build(self, hp):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(self.classes, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
            return model

    arch = automodel.Architecture.from_hypermodel(
        "dense", lambda spec: Dense(spec.num_classes), tasks=["image_classification"]
    )
    spec = TaskSpec(task="image_classification", inputs_kind="image", target="classification", input_shape=(4,), num_classes=3)
    model = arch.build(kt.HyperParameters(), spec)
    assert model.output_shape == (None, 3)
