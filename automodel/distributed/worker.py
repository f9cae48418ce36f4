"""A worker process: trains the trials a chief hands out, until the chief says stop.

``automodel worker --chief HOST:PORT --dir RUN --token TOKEN`` runs one, on this
machine or any other that shares the run directory; searches with ``workers=``
start theirs the same way. Every call to the chief carries the session's token
(``auth.py``): ``--token``, else ``AUTOMODEL_TOKEN``, else the run directory's
token file (readable by the chief's user only); a worker whose token the chief
refuses leaves with one line and ``ERROR_EXIT``, which its supervisor does not
restart. The worker rebuilds the search from the run directory (task spec,
architectures, settings and the prepared splits) and runs KerasTuner's own
worker loop (``KERASTUNER_TUNER_ID`` / ``KERASTUNER_ORACLE_IP`` /
``KERASTUNER_ORACLE_PORT``), writing each trial's record itself.

Host memory is checked between trials: a worker over its limit leaves with
``RECYCLE_EXIT`` and its supervisor starts a fresh process in its place (one
started by hand replaces its own process image instead). A worker
restarted with the same ``--id`` gets its unfinished trial back from the chief,
and the trial resumes from its last epoch.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time

from ..addresses import parse_address
from ..errors import AutomodelError
from ..runs import liveness, stop
from ..runs.rundir import RunDir
from . import auth, session
from .plan import RECYCLE_EXIT, parse_size, supervised_by

CHIEF_TIMEOUT_SECONDS = 300  # a request the chief leaves unanswered this long means it is gone
IDLE_SECONDS = 0.5  # between requests while the chief has no trial ready (Hyperband waits for a bracket)


class Recycle(Exception):
    """Raised between trials when the worker has outgrown its memory limit."""


def _limits(max_memory: int | None):
    """A tuner mixin: recycle the process past ``max_memory`` bytes; do not hammer an idle chief."""
    import psutil

    class WorkerLimits:
        trials_run = 0
        asked = False

        def pre_create_trial(self):
            if self.asked:
                time.sleep(IDLE_SECONDS)  # the last request got no trial
            self.asked = True
            rss = psutil.Process().memory_info().rss
            if max_memory and self.trials_run and rss > max_memory:
                raise Recycle(f"{rss / 2**20:.0f} MiB resident, over the limit of {max_memory / 2**20:.0f} MiB")
            super().pre_create_trial()

        def on_trial_begin(self, trial):
            self.asked = False
            self.trials_run += 1
            super().on_trial_begin(trial)

    return WorkerLimits


def _wait_for_run(run: RunDir, seconds: float) -> dict:
    """The session of ``run`` once its chief listens (a worker may start before the chief)."""
    give_up = time.monotonic() + seconds
    while True:
        current = session.read(run)
        if run.is_run() and current and current.get("chief") and run.meta().get("status") == "running":
            return current
        if time.monotonic() > give_up:
            raise AutomodelError(
                f"{run.path} holds no running search after {seconds:.0f}s. Pass the run directory the "
                "chief prints (DIR/NAME), on a file system this machine shares with the chief."
            )
        time.sleep(1)


def _leave_when_session_ends(run: RunDir, session_id: str) -> None:
    """Exit once the chief has ended the session: a worker that joined late would wait for it in vain.

    The chief ends a session only when no trial runs, so there is nothing to lose.
    """

    def watch():
        while (session.read(run) or {}).get("id") == session_id and run.meta().get("status") == "running":
            time.sleep(1)
        print("automodel worker: the search has ended", file=sys.stderr, flush=True)
        os._exit(0)

    threading.Thread(target=watch, name="automodel-session-watch", daemon=True).start()


def run_worker(run_dir, chief: str | None = None, worker_id: str | None = None, max_memory=None, wait: float = 600,
               token: str | None = None) -> int:
    """Train trials for the chief of ``run_dir`` until it has none left; return the exit status.

    ``chief`` is its ``HOST:PORT``; by default the address it published in the run directory.
    ``token`` is the session's (``auth.worker_token`` says where it comes from otherwise).
    """
    if chief is not None:
        parse_address(chief)
    if token is not None:
        auth.check_token(token, "--token")  # now, not after the wait for the chief
    worker_id = worker_id or f"worker-{socket.gethostname()}-{os.getpid()}"
    if "chief" in worker_id:
        raise AutomodelError(f"--id {worker_id!r}: a worker id must not contain 'chief' (KerasTuner reserves it).")
    limit = parse_size(max_memory) if max_memory is not None else None
    run = RunDir(run_dir)
    current = _wait_for_run(run, wait)
    token = auth.worker_token(run, token)
    _leave_when_session_ends(run, current["id"])
    chief = chief or current["chief"]
    host, port = parse_address(chief)
    os.environ.update(KERASTUNER_TUNER_ID=worker_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))

    from ..startup import load_tensorflow

    load_tensorflow()
    import grpc
    from keras_tuner.src.distribute import oracle_client

    from ..engine import trials
    from ..engine.budget import Budget

    oracle_client.TIMEOUT = CHIEF_TIMEOUT_SECONDS
    prepared, chosen = session.rebuild(run)
    for arch in chosen:
        arch.prepare(prepared.spec)
    budget = Budget(deadline=current["deadline"], stop_request=lambda: stop.stop_reason(run))
    settings = current["settings"]
    budget.trial_cap = settings.get("trial_cap")
    tuner = trials.build_tuner(run, prepared, chosen, settings, budget, mixins=(_limits(limit),))
    auth.authenticate(tuner.oracle, f"{host}:{port}", token)  # KerasTuner's OracleClient, before its first call
    try:
        with liveness.beating(run, worker_id):  # who trains, for readers of the run directory
            trials.run_trials(tuner, prepared, settings)
    except Recycle as why:
        print(f"automodel worker {worker_id}: recycling the process ({why})", file=sys.stderr, flush=True)
        return RECYCLE_EXIT
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise AutomodelError(f"The chief at {chief} refused this worker's token: pass --token as printed by "
                                 "`automodel chief` (or set AUTOMODEL_TOKEN).") from None
        raise AutomodelError(f"Lost the chief at {chief} ({exc.code().name}). Is it still running?") from exc
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("--chief", help="HOST:PORT the chief listens on (default: as it wrote in the run directory)")
    parser.add_argument("--dir", required=True, help="the run directory (DIR/NAME, shared with the chief)")
    parser.add_argument("--id", help="worker id; restart a killed worker with the same id to resume its trial")
    parser.add_argument("--token", help="the session's token, as the chief prints it (default: AUTOMODEL_TOKEN, "
                                        "else the run directory's token file)")
    parser.add_argument("--max-memory", help="replace the process when it grows past this, e.g. 8GB")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for the chief's run directory")
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # set by a search that starts workers


def main(args) -> int:
    """The ``automodel worker`` command; without a supervisor, it replaces itself when recycled."""
    supervised_by(args.parent_pid)
    code = run_worker(args.dir, args.chief, args.id, args.max_memory, args.wait, args.token)
    if code == RECYCLE_EXIT and args.parent_pid is None:
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "automodel.cli", *sys.argv[1:]])  # a fresh process image
    return code
