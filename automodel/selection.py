"""Which architectures a search trains: chosen by name or instance, recorded, prepared.

All of it happens before the run directory is touched, so an unknown name, an
architecture for another task or one that cannot get its weights stops the
search with nothing written (or, taken only by default, is left out).
"""

from __future__ import annotations

import warnings

from . import portable, registry
from .architecture import Architecture
from .errors import PluginError, SearchError


def choose(task: str, names: list[str] | None):
    available = registry.get_architectures(task)
    if names is None:
        if not available:
            raise SearchError(
                f"No installed architecture supports task {task!r}. "
                "Run `automodel plugins` to see what is installed."
            )
        return sorted(available.values(), key=lambda arch: arch.portfolio_rank)  # stable: ties keep their order
    if isinstance(names, str):
        names = [names]
    if not names:
        raise SearchError("architectures is empty: name at least one, or pass None for all.")
    chosen = []
    for name in dict.fromkeys(names):
        # an Architecture instance configures a plugin (e.g. VGG16Transfer(weights=path))
        arch = name if isinstance(name, Architecture) else registry.get_architecture(name)
        name = arch.name
        if task not in arch.tasks:
            raise SearchError(
                f"Architecture {name!r} does not support task {task!r} (it supports "
                f"{', '.join(arch.tasks)}). For {task!r} use: {', '.join(sorted(available)) or 'none installed'}."
            )
        chosen.append(arch)
    return chosen


def configurations(chosen: list) -> tuple[dict, dict]:
    """How to rebuild each architecture that is not an installed plugin as it stands (``portable.py``).

    Returns ``{name: record}`` for run.json, and ``{name: why}`` for those that can
    live in this process only (worker processes and ``open_run`` cannot make them).
    """
    installed = {row.name for row in registry.list_plugins() if row.distribution != "unknown"}
    known = registry.get_architectures()
    records, unportable = {}, {}
    for arch in chosen:
        if arch.name in installed and (known[arch.name] is arch or portable.same(known[arch.name], arch)):
            continue  # found by name everywhere
        try:
            records[arch.name] = portable.record(arch)
        except portable.NotPortable as why:
            unportable[arch.name] = str(why)
    return records, unportable


def prepare(chosen: list, spec, named: bool) -> tuple[list, dict]:
    """Each architecture's ``prepare`` (weights to fetch, inputs it cannot take), before anything is written.

    An architecture the caller named that cannot get what it needs stops the search
    with its PluginError. One the search took by default is left out with a warning
    that names it and the fix, so a machine without internet access still trains
    what needs none: returns the architectures ready and ``{name: why}`` of those left out.
    """
    ready, left_out = [], {}
    for arch in chosen:
        try:
            arch.prepare(spec)
        except PluginError as exc:
            if named:
                raise
            left_out[arch.name] = str(exc)
            warnings.warn(f"automodel: left out architecture {arch.name!r}: {exc}", stacklevel=4)
        else:
            ready.append(arch)
    if not ready:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_out.items())
        raise PluginError(f"No installed architecture for task {spec.task!r} can take this data or machine "
                          f"({reasons}).")
    return ready, left_out
