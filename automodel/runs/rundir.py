"""The run directory: the single source of truth of a search.

The leaderboard, the widgets, the CLI and the exporter all read it, so a live
local search, a resumed one and a distributed one look the same. KerasTuner owns
``oracle.json`` and ``trial_*/trial.json`` and the checkpoints; automodel adds::

    run.json                       task, spec, classes, data summary, settings
    test_data.npz                  the held-out test split, for evaluate()
    train_data.npz, validation_data.npz   the other splits, for worker processes
    trial_*/automodel_trial.json   architecture, status, reason, params, timing,
                                   and the per-epoch history (live curves)
    ensemble.json                  the ensemble selected over the trials (ensemble.py)
    exports.json                   the folders its models were exported to

Files are replaced atomically (``atomic.atomic_write``), so a reader never sees
half a file. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write

RUN_FILE = "run.json"
TRIAL_RECORD = "automodel_trial.json"
KERAS_TUNER_TRIAL = "trial.json"
TEST_DATA = "test_data.npz"
ENSEMBLE_RECORD = "ensemble.json"
EXPORTS_RECORD = "exports.json"  # the folders exported from the run (its own file: exports run beside a search)


CHECKPOINT = "checkpoint.weights.h5"  # KerasTuner's name for a trial's best weights


def write_json(path: Path, data) -> None:
    """Write ``data`` as JSON to ``path`` atomically (``atomic_write``)."""
    with atomic_write(path) as tmp, open(tmp, "w") as handle:
        json.dump(data, handle, indent=1, default=_jsonable)


def write_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then rename the file to ``path``: readers see all of it or none."""
    with atomic_write(path) as tmp:
        write(str(tmp))


def save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` ``array`` to ``path`` atomically."""
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def now() -> str:
    """The time, as run.json records it."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path):
    with open(path) as handle:
        return json.load(handle)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class RunDir:
    """Paths and records of one run directory."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunDir({str(self.path)!r})"

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    def is_run(self) -> bool:
        return self.run_file.is_file()

    def meta(self) -> dict:
        return read_json(self.run_file)

    def write_meta(self, meta: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.run_file, meta)

    def update_meta(self, **changes) -> dict:
        meta = {**self.meta(), **changes}
        self.write_meta(meta)
        return meta

    # -- trials --------------------------------------------------------------
    def trial_dir(self, trial_id: str) -> Path:
        return self.path / f"trial_{trial_id}"

    def checkpoint(self, trial_id: str) -> Path:
        """The trial's best epoch's weights, as KerasTuner saves them."""
        return self.trial_dir(trial_id) / CHECKPOINT

    def trial_ids(self) -> list[str]:
        """Ids of the trials that have started, in order."""
        ids = [
            d.name[len("trial_"):]
            for d in self.path.glob("trial_*")
            if (d / KERAS_TUNER_TRIAL).is_file() or (d / TRIAL_RECORD).is_file()
        ]
        return sorted(ids, key=lambda i: (0, int(i), i) if i.isdigit() else (1, 0, i))

    def keras_tuner_trial(self, trial_id: str) -> dict:
        path = self.trial_dir(trial_id) / KERAS_TUNER_TRIAL
        return _read_or_empty(path)

    def trial_record(self, trial_id: str) -> dict:
        return _read_or_empty(self.trial_dir(trial_id) / TRIAL_RECORD)

    def write_trial_record(self, trial_id: str, record: dict) -> None:
        directory = self.trial_dir(trial_id)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / TRIAL_RECORD, record)

    def ensemble_record(self) -> dict | None:
        """The ensemble the search selected (or why it has none); None before one was selected."""
        path = self.path / ENSEMBLE_RECORD
        return _read_or_empty(path) or None

    def exports(self) -> list[dict]:
        """The exports made from this run, oldest first: ``path``, ``trial``, ``created``."""
        return _read_or_empty(self.path / EXPORTS_RECORD).get("exports", [])

    def record_export(self, folder: Path, trial: str) -> None:
        """Add an export's folder to ``exports.json``, so the report finds its model card wherever it went."""
        entry = {"path": str(Path(folder).resolve()), "trial": trial, "created": now()}
        kept = [e for e in self.exports() if e["path"] != entry["path"]]
        write_json(self.path / EXPORTS_RECORD, {"exports": [*kept, entry]})

    # -- data ----------------------------------------------------------------
    def save_test_data(self, x: np.ndarray, y: np.ndarray | None) -> None:
        self.save_data("test", x, y)

    def load_test_data(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        return self.load_data("test")

    def save_data(self, split: str, x: np.ndarray, y: np.ndarray | None) -> None:
        """Store one split as ``{split}_data.npz`` (worker processes load train and validation)."""
        arrays = {"x": x.astype(str) if x.dtype == object else x}  # texts without pickle
        if y is not None:
            arrays["y"] = y
        write_atomically(self.path / f"{split}_data.npz", lambda tmp: np.savez_compressed(tmp, **arrays))

    def load_data(self, split: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        path = self.path / f"{split}_data.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as archive:
            x = archive["x"]
            return (x.astype(object) if x.dtype.kind == "U" else x), archive.get("y")


def _read_or_empty(path: Path) -> dict:
    try:
        return read_json(path)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
