"""The plugin manager: entry-point loading and what plugins register.

Built-in and third-party architecture plugins load through the same ``automodel``
entry-point group. ``AUTOMODEL_LOAD_PLUGINS`` (comma-separated allow-list) and
``AUTOMODEL_DISABLE_PLUGINS`` (block-list) choose which load. The core's own
tasks and demo data sets register through the same hooks, always.

Registrations are collected anew on each call (a few function calls), so a test
can register a fixture plugin on the live manager and unregister it afterwards.
Every problem is a ``PluginError`` naming the plugin and its distribution.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from typing import Callable

import pluggy

from . import datasets as core_datasets
from . import hookspecs
from . import tasks as core_tasks
from .architecture import Architecture
from .errors import DataError, PluginError
from .tasks import Task

ENTRY_POINT_GROUP = hookspecs.PROJECT
CORE_PLUGINS = {"automodel.tasks": core_tasks, "automodel.datasets": core_datasets}

_manager: pluggy.PluginManager | None = None
# plugin name -> (distribution name, version)
_distributions: dict[str, tuple[str, str]] = {}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A demo data set: ``loader()`` returns ``(x, y)`` arrays for ``tasks`` (first: default)."""

    name: str
    loader: Callable
    tasks: tuple[str, ...]
    description: str = ""


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """One registered architecture and where it comes from."""

    name: str
    tasks: tuple[str, ...]
    description: str
    plugin: str
    distribution: str
    version: str


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def distribution_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    allowed = _env_names("AUTOMODEL_LOAD_PLUGINS")
    disabled = _env_names("AUTOMODEL_DISABLE_PLUGINS") or set()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        if (allowed is not None and name not in allowed) or name in disabled:
            continue
        dist = entry_point.dist
        where = (dist.name, dist.version) if dist else ("unknown", "unknown")
        if manager.has_plugin(name):
            raise PluginError(
                f"Two distributions provide the automodel plugin {name!r}: "
                f"{_describe(name)} and {where[0]} {where[1]}. Uninstall one of them."
            )
        try:
            module = entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"The automodel plugin {name!r} from distribution {where[0]} {where[1]} "
                f"failed to import: {type(exc).__name__}: {exc}. Reinstall or upgrade "
                f"it, or skip it with AUTOMODEL_DISABLE_PLUGINS={name}."
            ) from exc
        manager.register(module, name=name)
        _distributions[name] = where


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        for name, module in CORE_PLUGINS.items():
            manager.register(module, name=name)
            _distributions[name] = ("automodel", distribution_version("automodel") or "unknown")
        _load_entry_points(manager)
        _manager = manager
        # Validate now, so a broken plugin fails at load time, not mid-search.
        get_architectures()
        get_datasets()
    return _manager


def reset() -> None:
    """Forget the plugin manager; the next call reloads entry points."""
    global _manager
    _manager = None
    _distributions.clear()


def _describe(plugin_name: str) -> str:
    dist, version = _distributions.get(plugin_name, ("unknown", "unknown"))
    return f"plugin {plugin_name!r} (distribution {dist} {version})"


def _collect(hook_name: str, accept: Callable) -> None:
    """Call ``hook_name`` on each plugin with a ``register`` bound to that plugin."""
    hook = getattr(plugin_manager().hook, hook_name)
    for impl in hook.get_hookimpls():  # in registration order
        plugin = impl.plugin_name

        def register(*args, _plugin=plugin, **kwargs):
            accept(_plugin, *args, **kwargs)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{_describe(plugin)} failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc


def get_tasks() -> dict[str, Task]:
    """All registered tasks by name."""
    found: dict[str, Task] = {}
    owners: dict[str, str] = {}

    def accept(plugin, task):
        if not isinstance(task, Task):
            raise PluginError(f"{_describe(plugin)} registered {task!r}, which is not a Task.")
        if task.name in found:
            raise PluginError(
                f"Task {task.name!r} is registered twice: by {_describe(owners[task.name])} "
                f"and by {_describe(plugin)}. Rename one of them."
            )
        found[task.name], owners[task.name] = task, plugin

    _collect("register_tasks", accept)
    return found


def get_task(name: str) -> Task:
    tasks = get_tasks()
    if name not in tasks:
        raise PluginError(f"Unknown task {name!r}. Known tasks: {', '.join(sorted(tasks))}.")
    return tasks[name]


def _architectures_with_owners() -> dict[str, tuple[Architecture, str]]:
    tasks = get_tasks()
    found: dict[str, tuple[Architecture, str]] = {}

    def accept(plugin, architecture):
        if not isinstance(architecture, Architecture):
            raise PluginError(
                f"{_describe(plugin)} registered {architecture!r}, which is not an "
                "automodel.Architecture. Subclass Architecture or use "
                "Architecture.from_hypermodel(...)."
            )
        name = architecture.name
        if not name:
            raise PluginError(f"{_describe(plugin)} registered an architecture without a name.")
        if name in found:
            raise PluginError(
                f"Architecture {name!r} is registered twice: by {_describe(found[name][1])} "
                f"and by {_describe(plugin)}. Uninstall one, or skip it with "
                f"AUTOMODEL_DISABLE_PLUGINS={plugin}."
            )
        unknown = [task for task in architecture.tasks if task not in tasks]
        if unknown or not architecture.tasks:
            raise PluginError(
                f"{_describe(plugin)}: architecture {name!r} declares unknown task(s) "
                f"{unknown or '(none)'}. Known tasks: {', '.join(sorted(tasks))}."
            )
        found[name] = (architecture, plugin)

    _collect("register_architectures", accept)
    return found


def get_architectures(task: str | None = None) -> dict[str, Architecture]:
    """Registered architectures by name, optionally only those for ``task``."""
    return {
        name: arch
        for name, (arch, _) in _architectures_with_owners().items()
        if task is None or task in arch.tasks
    }


def get_architecture(name: str) -> Architecture:
    architectures = get_architectures()
    if name not in architectures:
        raise PluginError(
            f"Unknown architecture {name!r}. Installed: {', '.join(sorted(architectures))}. "
            "Run `automodel plugins` to list them with their tasks."
        )
    return architectures[name]


def list_plugins() -> list[PluginInfo]:
    """Every registered architecture with its plugin and distribution."""
    rows = []
    for name, (arch, plugin) in sorted(_architectures_with_owners().items()):
        dist, version = _distributions.get(plugin, ("unknown", "unknown"))
        rows.append(PluginInfo(name, tuple(arch.tasks), arch.description, plugin, dist, version))
    return rows


def get_datasets() -> dict[str, Dataset]:
    """Registered demo data sets by name."""
    tasks = get_tasks()
    found: dict[str, Dataset] = {}

    def accept(plugin, name, loader, task, description=""):
        names = (task,) if isinstance(task, str) else tuple(task)
        if name in found:
            raise PluginError(f"Data set {name!r} is registered twice (again by {_describe(plugin)}).")
        unknown = [t for t in names if t not in tasks]
        if unknown or not names:
            raise PluginError(f"{_describe(plugin)}: data set {name!r} has unknown task(s) {unknown}.")
        found[name] = Dataset(name, loader, names, description)

    _collect("register_datasets", accept)
    return found


def get_dataset(name: str) -> Dataset:
    found = get_datasets()
    if name not in found:
        raise DataError(
            f"Unknown data set {name!r}. Built-in data sets: {', '.join(sorted(found))}; "
            "or pass your own data, e.g. (x, y) numpy arrays."
        )
    return found[name]
