"""One way to write a file (or a folder) that readers depend on: whole, or not at all.

Every file automodel writes for users and readers (the run directory's records
and arrays, the refit weights, the generator's sample grid, ``predict``'s
output, an export's folder) goes through ``atomic_write``: the writer fills a
temporary path beside the target, which is renamed onto the target when the
block ends without error (a rename within one folder is atomic) and removed on
any error, the rename's own included. A reader sees the old file or the whole
new one; a failure or an interruption leaves neither a partial target nor a
temporary file. The best-epoch checkpoint and the training backup, written by
KerasTuner and Keras, are made to go through it too (``engine/resume.py``);
KerasTuner's ``oracle.json`` and ``trial.json`` are KerasTuner's own.

The temporary name starts with a dot (``glob("*/run.json")`` and listings pass
it by) and ends with the target's suffixes, since writers such as Keras'
``save_weights`` and ``np.savez`` insist on theirs. A file's temporary path is
not created in advance (``mkstemp`` would create it private, 0600, and the
rename would carry that mode onto the target): the writer creates it, so it
gets the mode any new file gets, the process' umask applying. A folder is made
with ``os.mkdir``, the umask applying by itself, so nothing reads or changes
the process-wide umask.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


class AtomicWrite:
    """A temporary path beside ``target``: ``commit`` renames it onto the target, ``discard`` removes it.

    As a context manager it yields the temporary path, commits when the block
    ends and discards on any exception. A writer that spans several calls
    (``Predictions`` in the CLI) calls ``commit`` or ``discard`` itself.
    ``folder=True`` makes the temporary path a folder for the block to fill;
    ``move(temporary, target)`` replaces ``os.replace`` where moving into place
    needs more (an export keeps the folder it replaces until the new one is in).
    """

    def __init__(self, target, *, folder: bool = False, move=os.replace):
        self.target = Path(target)
        self.folder, self.move = folder, move
        kind, suffixes = ("partial", "") if folder else ("tmp", "".join(self.target.suffixes))
        self.path = self.target.parent / f".{self.target.name}.{kind}-{secrets.token_hex(6)}{suffixes}"
        if folder:
            os.mkdir(self.path)
        self.done = False

    def commit(self) -> None:
        """Move the written temporary path onto the target; on any error, remove it and raise."""
        try:
            self.move(self.path, self.target)
        except BaseException:
            self.discard()
            raise
        self.done = True

    def discard(self) -> None:
        """Remove the temporary path (a file, or a folder with what is in it); the target is left as it was."""
        if self.done:
            return
        self.done = True
        _remove(self.path)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind, value, traceback) -> bool:
        if kind is None:
            self.commit()
        else:
            self.discard()
        return False


def atomic_write(target, *, folder: bool = False, move=os.replace) -> AtomicWrite:
    """``with atomic_write(path) as temporary:`` write ``temporary``; it becomes ``path`` only if the block succeeds."""
    return AtomicWrite(target, folder=folder, move=move)


def remove_leftovers(target) -> None:
    """Remove the temporary paths that writers of ``target`` killed mid-write left beside it."""
    target = Path(target)
    for left in target.parent.glob(f".{target.name}.*"):
        if left.name.startswith((f".{target.name}.tmp-", f".{target.name}.partial-")):
            _remove(left)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
