"""What the processes of one search session share, through the run directory.

A search with worker processes runs in a chief and any number of workers, maybe
on several machines that share the run directory. Besides the run's own files
they agree through these:

    session.json         this session's settings (what every worker builds its
                         tuner from), its deadline and the chief's address
    chief_token          the token every call to the chief carries (``auth.py``),
                         readable by its owner only
    stop.json            the stop request (``automodel.runs.stop``)
    train_data.npz, validation_data.npz   the prepared splits the workers train on

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import time
import uuid

from ..runs.rundir import RunDir, read_json, write_json
from ..runs.stop import forget_stop

SESSION_FILE = "session.json"
WORKER_SPLITS = ("train", "validation")


def start(run: RunDir, settings: dict, deadline: float | None) -> dict:
    """Begin a session: forget an old stop request, record the settings."""
    forget_stop(run)
    session = {
        "id": uuid.uuid4().hex,
        "started": time.time(),
        "deadline": deadline,
        "settings": settings,
        "chief": None,
    }
    write_json(run.path / SESSION_FILE, session)
    return session


def read(run: RunDir) -> dict | None:
    try:
        return read_json(run.path / SESSION_FILE)
    except (FileNotFoundError, ValueError):
        return None


def set_chief(run: RunDir, address: str) -> None:
    """Publish the address the chief listens on (workers started here read it)."""
    write_json(run.path / SESSION_FILE, {**read(run), "chief": address})


def save_splits(run: RunDir, prepared) -> None:
    """Store the training and validation splits for worker processes."""
    for split in WORKER_SPLITS:
        x, y = getattr(prepared, split)[:2]  # arrays, or an image folder's files and labels
        run.save_data(split, x, y)


def rebuild(run: RunDir):
    """The prepared data and architectures of the search in ``run``, as its parent had them."""
    from .. import portable, registry
    from ..data.prepared import PreparedData, as_split
    from ..tasks import TaskSpec

    meta = run.meta()
    spec = TaskSpec.from_dict(meta["spec"])
    source = meta["data"].get("source", "arrays")
    train, validation = (as_split(run.load_data(split), source, spec) for split in WORKER_SPLITS)
    prepared = PreparedData(
        spec=spec,
        train=train,
        validation=validation,
        test=None,
        classes=meta.get("classes"),
        fingerprint=meta["data"]["fingerprint"],
        source=source,
    )
    configured = meta.get("configured", {})  # configured in code or registered in the parent's session
    return prepared, [portable.rebuild(configured[name]) if name in configured else registry.get_architecture(name)
                      for name in meta["architectures"]]
