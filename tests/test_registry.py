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


def test_plugin_that_fails_to_import_is_left_out_naming_itself_and_its_distribution(clean_registry, fake_distribution):
    fake_distribution("automodel-broken", "0.3", {"broken": "automodel_broken"}, {"automodel_broken": "import no_such_module\n"})
    with pytest.warns(UserWarning, match="left out plugin 'broken'"):
        rows = {row.name for row in automodel.list_plugins()}
    assert "cnn" in rows  # the others still work
    [problem] = automodel.plugin_problems()
    assert (problem.plugin, problem.distribution, problem.version) == ("broken", "automodel-broken", "0.3")
    assert "no_such_module" in problem.error and "AUTOMODEL_DISABLE_PLUGINS=broken" in problem.error
    with pytest.raises(PluginError, match="Left out, with their errors: plugin 'broken' .*no_such_module"):
        automodel.get_architecture("extra")  # asking for what it may have provided says why it is missing


def test_broken_plugin_can_be_disabled(clean_registry, fake_distribution, monkeypatch):
    fake_distribution("automodel-broken", "0.3", {"broken": "automodel_broken"}, {"automodel_broken": "raise ImportError('x')\n"})
    monkeypatch.setenv("AUTOMODEL_DISABLE_PLUGINS", "broken")
    assert "cnn" in automodel.get_architectures()


def test_a_duplicate_architecture_name_is_left_out_naming_both_plugins(clean_registry):
    builtin = automodel.get_architecture("cnn")
    with registered(plugin_of(tiny_architecture("cnn")), "copycat"), pytest.warns(UserWarning, match="copycat"):
        assert automodel.get_architecture("cnn") is builtin  # the first loaded keeps the name
        [problem] = automodel.plugin_problems()
    assert problem.plugin == "copycat"
    assert "'cnn' is registered twice" in problem.error and "plugin 'cnn'" in problem.error
    assert automodel.plugin_problems() == []  # unregistered: no longer a problem


def test_a_duplicate_from_an_installed_distribution_is_reported_at_load_time(clean_registry, fake_distribution):
    source = GOOD_PLUGIN.replace('name = "extra"', 'name = "cnn"')
    fake_distribution("automodel-copy", "1.0", {"copy": "automodel_copy"}, {"automodel_copy": source})
    with pytest.warns(UserWarning, match="automodel-copy 1.0"):
        rows = {row.name: row for row in automodel.list_plugins()}
    assert rows["cnn"].distribution == "automodel"
    assert [p.plugin for p in automodel.plugin_problems()] == ["copy"]


def test_an_unknown_task_leaves_the_plugin_out_naming_it(clean_registry):
    arch = tiny_architecture("odd")
    arch.tasks = ("telepathy",)
    with registered(plugin_of(arch), "oddplugin"), pytest.warns(UserWarning, match="oddplugin"):
        assert "odd" not in automodel.get_architectures()
        [problem] = automodel.plugin_problems()
    assert problem.plugin == "oddplugin" and "telepathy" in problem.error
    assert "image_classification" in problem.error  # lists what is known


def test_registering_something_that_is_not_an_architecture(clean_registry):
    with registered(plugin_of(object()), "junk"), pytest.warns(UserWarning, match="not an automodel.Architecture"):
        assert "cnn" in automodel.get_architectures()


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


def test_hooks_run_through_pluggy_with_its_ordering_and_wrappers(clean_registry):
    seen = []

    class Late:
        @hookimpl(trylast=True)
        def register_architectures(self, register):
            register(tiny_architecture("late"))

    class Early:
        @hookimpl(tryfirst=True)
        def register_architectures(self, register):
            register(tiny_architecture("early"))

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_architectures(self, register):
            seen.append("before")
            result = yield
            seen.append("after")
            return result

    with registered(Late(), "late"), registered(Early(), "early"), registered(Wrapper(), "wrapper"):
        names = list(automodel.get_architectures())
    assert names[0] == "early" and names[-1] == "late" and "cnn" in names  # tryfirst first, trylast last
    assert seen == ["before", "after"]  # the wrapper wrapped the call


def test_an_architecture_is_created_once_per_load(clean_registry):
    made = []

    class Counting:
        @hookimpl
        def register_architectures(self, register):
            made.append(1)
            register(tiny_architecture("counted"))

    with registered(Counting(), "counting"):
        first = automodel.get_architecture("counted")
        assert automodel.get_architecture("counted") is first and automodel.list_plugins()
        with registered(plugin_of(tiny_architecture("other")), "other"):
            assert automodel.get_architecture("counted") is first  # a plugin registered later runs its hook alone
    assert made == [1] and automodel.get_architecture("cnn") is automodel.get_architecture("cnn")


def test_a_plugin_whose_hook_raises_is_left_out_and_the_others_load(clean_registry):
    class Raising:
        @hookimpl
        def register_architectures(self, register):
            register(tiny_architecture("half"))
            raise RuntimeError("no GPU driver")

    class Miscalling:
        @hookimpl
        def register_datasets(self, register):
            register("only-a-name")

    with registered(Raising(), "raising"), registered(Miscalling(), "miscalling"), pytest.warns(UserWarning):
        assert "half" not in automodel.get_architectures() and "cnn" in automodel.get_architectures()
        assert "digits" in automodel.get_datasets()
        problems = {p.plugin: p.error for p in automodel.plugin_problems()}
    assert "failed in register_architectures: RuntimeError: no GPU driver" in problems["raising"]
    assert "called register() wrongly in register_datasets" in problems["miscalling"]
