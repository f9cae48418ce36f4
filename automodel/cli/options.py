"""The options of ``automodel.search`` that a user sets, in one table.

The command line builds ``automodel search`` and ``automodel chief`` from this
table, and the front ends can read it for their own labels and choices: each row
names one keyword of ``automodel.search``, its default (``settings.DEFAULTS``
where the panel shares it), what values it takes and a line of help. A test
holds the table to ``search``'s signature, both ways and default by default, so
a keyword added to the API without a row here (or a row the API no longer has)
fails before a user meets the gap. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from .. import settings
from ..errors import SearchError

DEFAULTS = settings.DEFAULTS


def workers_value(value) -> str | int | None:
    """``"auto"``, ``"none"`` (train in this process) or a whole number of worker processes."""
    if value == "auto":
        return value
    if value == "none":
        return None
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise SearchError(f"workers={value!r}: pass 'auto', 'none' or a whole number of worker processes.") from None
    if count < 0:
        raise SearchError(f"workers={value!r}: pass 'auto', 'none' or a whole number, at least 0.")
    return count


@dataclasses.dataclass(frozen=True)
class Option:
    """One keyword of ``automodel.search``, as a user sets it.

    ``kind`` turns the text a user types into the value (``None``: a switch,
    ``True`` when given); ``many``: it takes one or more values; ``flag``: the
    command-line spelling when it is not ``--`` plus the name with dashes.
    """

    name: str
    help: str
    kind: Callable | None = str
    default: object = None
    choices: tuple | None = None
    many: bool = False
    flag: str | None = None
    metavar: str | None = None

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


SEARCH_OPTIONS: tuple[Option, ...] = (
    Option("task", "task name (default: the demo data set's task)"),
    Option("data", "a built-in data set, a .csv/.tsv (with --target) or .npz (x, y) file, "
                   "or a folder of class sub-folders of images", default="digits"),
    Option("target", "the target column(s) of a CSV file", many=True, metavar="COLUMN"),
    Option("validation_data", "a separate validation set (same forms as --data)"),
    Option("test_data", "a separate test set (same forms as --data)"),
    Option("architectures", "architectures to try (default: all for the task)", many=True, metavar="NAME"),
    Option("tuner", "how the search space is explored", default=DEFAULTS["tuner"], choices=tuple(settings.TUNERS)),
    Option("max_trials", f"default: until --time-budget is spent, else {settings.TRIALS_WITHOUT_BUDGET}",
           kind=int, default=DEFAULTS["max_trials"]),
    Option("epochs", "most epochs of a trial (default: from the data size)", kind=int, default=DEFAULTS["epochs"]),
    Option("time_budget", "wall-clock budget of the whole search, e.g. 300, 90s, 5m, 1h"),
    Option("batch_size", "default: from the data size", kind=int, default=DEFAULTS["batch_size"]),
    Option("validation", "how trials are scored: one split, k-fold cross-validation, or auto (cross-validation "
                         "on small data)",
           default=DEFAULTS["validation"], choices=settings.VALIDATIONS),
    Option("patience", "epochs without a better objective before a trial stops (default: from the epochs)",
           kind=int, default=DEFAULTS["patience"]),
    Option("directory", "parent folder of run directories", default=DEFAULTS["directory"], flag="--dir",
           metavar="DIR"),
    Option("name", "run directory name (default: the data set or task name)"),
    Option("seed", "seed of the splits, the tuner and the weights", kind=int, default=DEFAULTS["seed"]),
    Option("overwrite", "start over instead of resuming", kind=None, default=False),
    Option("max_params", "fail trials whose model has more parameters", kind=int),
    Option("max_consecutive_failures", "failed trials in a row that end the search",
           kind=int, default=DEFAULTS["max_consecutive_failures"]),
    Option("workers", "worker processes: auto (one per GPU), none (train here) or a number", kind=workers_value,
           default="auto", metavar="auto|none|N"),
    Option("trials_per_gpu", "with --workers auto: trials sharing one GPU", kind=int, default=1),
    Option("strategy", "train each trial over all local GPUs", choices=tuple(settings.STRATEGIES)),
    Option("bind", "HOST:PORT the chief listens on for workers (default: 127.0.0.1, any free port)"),
    Option("max_worker_memory", "replace a worker process past this size, e.g. 8GB"),
    Option("max_ensemble_size", "most distinct trials in the ensemble (1: no ensemble; default: no cap)",
           kind=int, default=DEFAULTS["max_ensemble_size"]),
)

# keywords of automodel.search that only a program can pass: callables and events
PROGRAM_ONLY = {"reporter": "a callable, called for each event", "stop_event": "a threading.Event"}


def option(name: str) -> Option:
    return next(row for row in SEARCH_OPTIONS if row.name == name)
