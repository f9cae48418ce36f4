"""Pluggy markers and hook specifications for the ``automodel`` project.

Every hook takes a ``register`` callback rather than returning values, so that
the host validates, de-duplicates and attributes what a plugin offers in one
place (the style of ``llm`` and ``datasette``).
"""

import pluggy

PROJECT = "automodel"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_architectures(register):
    """Register :class:`automodel.Architecture` instances: ``register(arch)``."""


@hookspec
def register_tasks(register):
    """Register :class:`automodel.Task` instances: ``register(task)``."""


@hookspec
def register_datasets(register):
    """Register demo data sets: ``register(name, loader, task=..., description=...)``.

    ``loader()`` returns ``(x, y)`` numpy arrays; it runs only when the data set
    is used, so registering one costs nothing. ``task`` is a task name or a
    sequence of them (the first is the default).
    """
