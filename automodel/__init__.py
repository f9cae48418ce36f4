"""automodel: plugin-based AutoML for Jupyter and the terminal, on KerasTuner.

Importing automodel does not import TensorFlow: the search engine and results
load on first use (``automodel.search``, ``automodel.open_run``), so listing
plugins and showing the notebook panel stay fast.
"""

import os
from importlib.metadata import PackageNotFoundError, version

from . import data  # automodel.data.image_folder(...)
from .architecture import CONTRACT_VERSION, Architecture
from .errors import AutomodelError, DataError, PluginError, SearchError
from .hookspecs import hookimpl
from .registry import get_architecture, get_architectures, get_datasets, get_task, get_tasks, list_plugins
from .registry import problems as plugin_problems
from .tasks import Task, TaskSpec

# TensorFlow's C++ start-up chatter would flood notebooks and terminals.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    __version__ = version("automodel")  # pyproject.toml says it, once
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"

_LAZY = {
    "search": ("automodel.api", "search"),
    "open_run": ("automodel.result", "open_run"),
    "SearchResult": ("automodel.result", "SearchResult"),
}

__all__ = [
    "CONTRACT_VERSION",
    "Architecture",
    "AutomodelError",
    "DataError",
    "PluginError",
    "SearchError",
    "SearchResult",
    "Task",
    "TaskSpec",
    "data",
    "get_architecture",
    "get_architectures",
    "get_datasets",
    "get_task",
    "get_tasks",
    "hookimpl",
    "open_run",
    "list_plugins",
    "plugin_problems",
    "search",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        if name == "search":
            from .startup import load_tensorflow

            load_tensorflow()  # without TensorFlow's native start-up lines, which a notebook would show
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'automodel' has no attribute {name!r}")
