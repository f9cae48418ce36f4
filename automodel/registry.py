"""The plugin manager: entry-point loading and what plugins register.

Built-in and third-party architecture plugins load through the same ``automodel``
entry-point group. ``AUTOMODEL_LOAD_PLUGINS`` (comma-separated allow-list) and
``AUTOMODEL_DISABLE_PLUGINS`` (block-list) choose which load. The core's own
tasks and demo data sets register through the same hooks, always.

Hooks are called through pluggy, so ``tryfirst``/``trylast`` and hook wrappers
work as pluggy documents; what plugins register is ordered tryfirst, then the
rest in load order, then trylast. Each hook runs once per set of registered
plugins (an architecture is created once per load, not on every lookup); a test
that registers a fixture plugin on the live manager gets a fresh collection.

A plugin that fails to import, raises in its hook, registers something wrong,
or reuses a name already taken is left out and reported (``problems()``, a
warning, ``automodel plugins``) with its distribution and the error, so one
broken third-party plugin does not break every command; naming what it would
have provided is a ``PluginError`` that says why it is missing.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import itertools
import os
import sys
import warnings
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
# plugin name -> what is wrong with it (it is left out), and the plugin object (None: it never loaded)
_problems: dict[str, tuple["PluginProblem", object]] = {}
# hook name -> plugin name -> (the plugin object, what its hook registered)
_collected: dict[str, dict[str, tuple[object, list]]] = {}


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


@dataclasses.dataclass(frozen=True)
class PluginProblem:
    """A plugin left out: which, from where, and why."""

    plugin: str
    distribution: str
    version: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} (distribution {self.distribution} {self.version}): {self.error}"


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
            _report(PluginProblem(name, *where, f"{_describe(name)} has this plugin name too; uninstall one of them."))
            continue
        try:
            module = entry_point.load()
        except Exception as exc:
            _report(PluginProblem(name, *where, f"failed to import: {type(exc).__name__}: {exc}. Reinstall or upgrade "
                                  f"it, or skip it with AUTOMODEL_DISABLE_PLUGINS={name}."))
            continue
        manager.register(module, name=name)
        _distributions[name] = where


def _report(problem: PluginProblem, plugin_object=None) -> None:
    """Leave a plugin out, once, with a warning that names it, its distribution and the error."""
    known = _problems.get(problem.plugin)
    if known is None or known[1] is not plugin_object:
        _problems[problem.plugin] = (problem, plugin_object)
        warnings.warn(f"automodel: left out {problem}", stacklevel=4)


def _left_out(manager: pluggy.PluginManager) -> set[str]:
    """The registered plugins left out for a problem (one unregistered since, or registered anew, is not)."""
    return {name for name, (_, plugin) in _problems.items() if plugin is not None and manager.get_plugin(name) is plugin}


def problems() -> list[PluginProblem]:
    """The plugins left out, and why (each is also warned about once)."""
    manager = plugin_manager()
    get_datasets()  # collects every hook: tasks and architectures on the way
    current = _left_out(manager)
    return [problem for name, (problem, plugin) in _problems.items() if plugin is None or name in current]


def _problem(plugin: str, error: str) -> PluginProblem:
    return PluginProblem(plugin, *_distributions.get(plugin, ("unknown", "unknown")), error)


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
        # Validate now, so a broken plugin is reported at load time, not mid-search.
        get_architectures()
        get_datasets()
    return _manager


def reset() -> None:
    """Forget the plugin manager; the next call reloads entry points."""
    global _manager
    _manager = None
    _distributions.clear()
    _problems.clear()
    _collected.clear()


def _describe(plugin_name: str) -> str:
    dist, version = _distributions.get(plugin_name, ("unknown", "unknown"))
    return f"plugin {plugin_name!r} (distribution {dist} {version})"


def _collect(hook_name: str, accept: Callable, found: dict) -> None:
    """Call ``hook_name`` through pluggy; ``accept(plugin, *args)`` adds each registration to ``found``.

    A plugin one of whose registrations ``accept`` refuses (a PluginError) is
    reported, and none of what it registered stays in ``found``.
    """
    manager = plugin_manager() if _manager is None else _manager
    refused = _left_out(manager)
    for plugin, calls in itertools.groupby(_registrations(hook_name), key=lambda call: call[0]):
        if plugin in refused:
            continue
        before = set(found)
        try:
            for _, args, kwargs in calls:
                try:
                    accept(plugin, *args, **kwargs)
                except TypeError as exc:  # register() called with the wrong arguments
                    raise PluginError(f"{_describe(plugin)} called register() wrongly in {hook_name}: {exc}") from exc
        except PluginError as exc:
            if _is_core(plugin):
                raise
            for key in set(found) - before:
                del found[key]
            refused.add(plugin)
            _report(_problem(plugin, str(exc)), manager.get_plugin(plugin))


def _registrations(hook_name: str) -> list[tuple[str, tuple, dict]]:
    """What the plugins register in ``hook_name``: each plugin's hook runs once while it stays registered.

    A plugin registered later (a test's fixture plugin) has its own hook called
    then, alone. A plugin whose hook raises is reported and the hook called again
    without it, since pluggy stops at the first exception.
    """
    manager = plugin_manager() if _manager is None else _manager
    known = _collected.setdefault(hook_name, {})
    for name in [name for name, (plugin, _) in known.items() if manager.get_plugin(name) is not plugin]:
        del known[name]  # unregistered, or another plugin under its name
    skipped = sorted(set(known) | _left_out(manager))
    while True:
        caller = manager.subset_hook_caller(hook_name, [manager.get_plugin(name) for name in skipped])
        impls = caller.get_hookimpls()
        owners = {impl.function.__code__: impl.plugin_name for impl in impls}
        calls: list[tuple[str, tuple, dict]] = []

        def register(*args, **kwargs):
            calls.append((_owner(sys._getframe(1), owners), args, kwargs))

        if not impls:
            break
        try:
            caller(register=register)
            break
        except Exception as exc:
            plugin = _owner(_innermost_frame(exc), owners)
            if plugin is None or _is_core(plugin):
                raise
            _report(_problem(plugin, f"failed in {hook_name}: {type(exc).__name__}: {exc}"), manager.get_plugin(plugin))
            skipped.append(plugin)
    for impl in impls:
        known[impl.plugin_name] = (manager.get_plugin(impl.plugin_name), [c for c in calls if c[0] == impl.plugin_name])
    every = getattr(manager.hook, hook_name).get_hookimpls()
    order = {impl.plugin_name: (0 if impl.tryfirst else 2 if impl.trylast else 1, index)
             for index, impl in enumerate(_load_order(manager, every))}
    ranked = sorted((name for name in known if name in order), key=order.__getitem__)
    return [call for name in ranked for call in known[name][1]]


def _load_order(manager: pluggy.PluginManager, impls) -> list:
    """``impls`` with automodel's own plugins first, then in the order the others were registered.

    So a third-party plugin that reuses a built-in name is the one left out,
    whatever order the entry points happen to be found in.
    """
    rank = {name: index for index, (name, _) in enumerate(manager.list_name_plugin())}
    return sorted(impls, key=lambda impl: (_distributions.get(impl.plugin_name, ("",))[0] != "automodel",
                                           rank.get(impl.plugin_name, len(rank))))


def _owner(frame, owners: dict) -> str | None:
    """The plugin whose hook implementation is running in ``frame`` or a frame that called it."""
    while frame is not None:
        if frame.f_code in owners:
            return owners[frame.f_code]
        frame = frame.f_back
    return None


def _innermost_frame(exc: BaseException):
    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback.tb_frame if traceback is not None else None


def _is_core(plugin: str) -> bool:
    return plugin in CORE_PLUGINS


def get_tasks() -> dict[str, Task]:
    """All registered tasks by name."""
    found: dict[str, tuple[Task, str]] = {}

    def accept(plugin, task):
        if not isinstance(task, Task):
            raise PluginError(f"{_describe(plugin)} registered {task!r}, which is not a Task.")
        if task.name in found:
            raise PluginError(
                f"Task {task.name!r} is registered twice: by {_describe(found[task.name][1])} "
                f"and by {_describe(plugin)}. Rename one of them."
            )
        found[task.name] = (task, plugin)

    _collect("register_tasks", accept, found)
    return {name: task for name, (task, _) in found.items()}


def get_task(name: str) -> Task:
    tasks = get_tasks()
    if name not in tasks:
        raise PluginError(f"Unknown task {name!r}. Known tasks: {', '.join(sorted(tasks))}.{_left_out_note()}")
    return tasks[name]


def _left_out_note() -> str:
    """For an unknown name: the plugins left out, one of which may have provided it."""
    left = problems()
    return "" if not left else " Left out, with their errors: " + "; ".join(map(str, left))


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

    _collect("register_architectures", accept, found)
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
            f"Run `automodel plugins` to list them with their tasks.{_left_out_note()}"
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

    _collect("register_datasets", accept, found)
    return found


def get_dataset(name: str) -> Dataset:
    found = get_datasets()
    if name not in found:
        raise DataError(
            f"Unknown data set {name!r}. Built-in data sets: {', '.join(sorted(found))}; "
            "or pass your own data, e.g. (x, y) numpy arrays."
        )
    return found[name]
