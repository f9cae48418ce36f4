"""How an architecture instance was made, written down so that another process makes the same one.

Worker processes and ``open_run`` find installed plugins by name. An architecture
configured in code (``VGG16Transfer(weights=path)``) or registered in the session
has no name they can look up, so a search records it in ``run.json``: the import
path of its class and the arguments it was constructed with (``Architecture``
keeps them). Rebuilding it from that record here, before anything starts, proves
that a worker will get an equal instance. What cannot be written down (a class
defined in a notebook or inside a function, a lambda argument, an attribute set
after construction) stays in this process, and ``record`` says why.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path, PurePath

from .architecture import Architecture
from .errors import PluginError

# tags of the values JSON has no type for
_PATH, _TUPLE, _IMPORT = "$path", "$tuple", "$import"


class NotPortable(Exception):
    """This architecture cannot be rebuilt in another process; the message says why."""


def record(arch: Architecture) -> dict:
    """The JSON record that rebuilds ``arch`` elsewhere; raises NotPortable with the reason."""
    args, kwargs = getattr(arch, "_made_with", ((), {}))
    names = [*inspect.signature(type(arch)).parameters, *range(len(args))]
    entry = {"class": _import_path(type(arch), "its class"),
             "args": [_encode(value, f"argument {name}") for name, value in zip(names, args)],
             "kwargs": {key: _encode(value, f"argument {key}") for key, value in kwargs.items()}}
    try:
        rebuilt = rebuild(entry)
    except PluginError as exc:
        raise NotPortable(str(exc)) from None
    if not same(rebuilt, arch):
        raise NotPortable("it was changed after it was made (rebuilt from its class and arguments, it differs)")
    return entry


def rebuild(entry: dict) -> Architecture:
    """The architecture a ``record`` describes."""
    module, _, qualname = entry["class"].partition(":")
    try:
        cls = _resolve(module, qualname)
        arch = cls(*map(_decode, entry["args"]), **{key: _decode(value) for key, value in entry["kwargs"].items()})
    except Exception as exc:  # an import error, a constructor that now refuses its arguments
        raise PluginError(f"Cannot rebuild architecture {entry['class']} ({type(exc).__name__}: {exc}). Install the "
                          "module that defines it where the search runs, or pass the instance again.") from None
    if not isinstance(arch, Architecture):
        raise PluginError(f"{entry['class']} does not make an automodel Architecture.")
    return arch


def same(first, second) -> bool:
    """Provably equal architectures: the same class and attributes."""
    try:
        return type(first) is type(second) and bool(vars(first) == vars(second))
    except Exception:  # attributes that do not compare (arrays): not provably the same
        return False


def _resolve(module: str, qualname: str):
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _import_path(value, what: str) -> str:
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname:
        where = "in a notebook or script" if module == "__main__" else "inside a function"
        raise NotPortable(f"{what}, {qualname or value!r}, is defined {where}; define it in a module other processes "
                          "can import (a file beside the notebook, or an installed plugin)")
    try:
        found = _resolve(module, qualname)
    except (ImportError, AttributeError):
        found = None
    if found is not value:
        raise NotPortable(f"{what} {qualname} cannot be imported again as {module}:{qualname}")
    return f"{module}:{qualname}"


def _encode(value, what: str):
    """A JSON value for a constructor argument; tags mark paths, tuples and importable objects."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, PurePath):
        return {_PATH: os.fspath(value)}
    if isinstance(value, (list, tuple)):
        items = [_encode(item, what) for item in value]
        return items if isinstance(value, list) else {_TUPLE: items}
    if isinstance(value, dict) and all(isinstance(key, str) and not key.startswith("$") for key in value):
        return {key: _encode(item, what) for key, item in value.items()}
    if callable(value):
        return {_IMPORT: _import_path(value, what)}
    raise NotPortable(f"{what}, {value!r}, is a {type(value).__name__}, which cannot be written down; pass plain "
                      "values (numbers, strings, paths, lists, dicts) or importable functions")


def _decode(value):
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if _PATH in value:
        return Path(value[_PATH])
    if _TUPLE in value:
        return tuple(_decode(item) for item in value[_TUPLE])
    if _IMPORT in value:
        return _resolve(*value[_IMPORT].split(":", 1))
    return {key: _decode(item) for key, item in value.items()}
