"""The chief: KerasTuner's oracle of one search, served over gRPC to its workers.

Started by ``plan.search_with_workers`` as ``python -m automodel.distributed.chief RUN
--bind HOST:PORT``, after the run directory holds the session (``session.py``).
It builds the search's tuner only for its oracle, which reloads the run's state,
so a resumed search re-queues the trials that were running; a restarted worker
gets its own unfinished trial back.

KerasTuner's ``oracle_chief.OracleServicer`` answers the workers, and only
those whose calls carry the session's token (``auth.py``; the search wrote it
into the run directory before starting the chief). Its ``start_server`` loop is
not used, because this one must also:

- start no new trial once the time budget is spent, a stop was asked (the stop
  file) or too many trials failed in a row, telling the asking worker to stop so
  it leaves cleanly;
- note KerasTuner's consecutive-failure error instead of letting it escape from
  inside the oracle (it would leave the oracle's lock held and the trial
  unfinished), and end the search with it;
- end as soon as no trial runs and every worker has been told to stop (KerasTuner
  polls every 20 s), or on SIGTERM; and write the outcome into ``run.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent import futures

from ..addresses import parse_address, reachable_name
from ..errors import AutomodelError, SearchError
from ..runs import stop
from ..runs.rundir import RunDir, now
from . import auth, session
from .plan import supervised_by

POLL_SECONDS = 0.2


class _Terminated(Exception):
    pass


def _gated_servicer(oracle, run: RunDir, budget, failures: list):
    """KerasTuner's servicer with a gate on new trials and the budget's trial times."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine.trial import Trial, TrialStatus

    class GatedServicer(OracleServicer):
        closed: str | None = None

        def why_closed(self) -> str | None:
            if failures:
                return "consecutive failures"
            return budget.why_not_start()

        def CreateTrial(self, request, context):
            if request.tuner_id not in self.oracle.ongoing_trials:  # a restarted worker resumes its trial
                reason = self.why_closed()
                if reason:
                    self.closed = reason
                    self.oracle.tuner_ids.discard(request.tuner_id)
                    stopped = Trial(self.oracle.get_space(), trial_id="stopped", status=TrialStatus.STOPPED)
                    return protos.get_service().CreateTrialResponse(trial=stopped.to_proto())
            return super().CreateTrial(request, context)

        def EndTrial(self, request, context):
            response = super().EndTrial(request, context)
            budget.count_trial(run.trial_record(request.trial.trial_id))
            return response

        def finished(self) -> bool:
            """No trial runs and no worker waits for one, and none will be handed out."""
            oracle = self.oracle
            if oracle.ongoing_trials or oracle.tuner_ids:
                return False
            self.closed = self.closed or self.why_closed()
            return bool(self.stop_triggered or self.closed)

        def outcome(self) -> tuple[str, str | None]:
            if failures:
                return "failed", failures[-1]
            if self.closed:
                return f"stopped: {self.closed}", None
            return "finished", None

    return GatedServicer(oracle)


def _note_consecutive_failures(oracle, run: RunDir) -> list[str]:
    """Replace KerasTuner's raise on too many failures in a row by a note (see the module docstring).

    The note is the last failed trial's reason, from its record: the traceback
    does not travel to the chief.
    """
    failures: list[str] = []
    check = oracle._check_consecutive_failures

    def note():
        try:
            check()
        except RuntimeError as exc:
            failures.append(run.trial_record(oracle.end_order[-1]).get("reason") or str(exc))

    oracle._check_consecutive_failures = note
    return failures


def serve(run: RunDir, bind: str) -> int:
    """Serve the oracle of ``run`` on ``bind`` until the search ends."""
    import grpc
    from keras_tuner.src import protos

    from ..engine import trials
    from ..engine.budget import Budget
    from ..startup import load_tensorflow

    load_tensorflow()
    current = session.read(run)
    if current is None:
        raise SearchError(f"{run.path} holds no search session (session.json); start the search with automodel.")
    token = auth.stored_token(run)
    if token is None:
        raise SearchError(f"{run.path} holds no token ({auth.TOKEN_FILE}); start the search with automodel.")
    prepared, chosen = session.rebuild(run)
    budget = Budget(deadline=current["deadline"], stop_request=lambda: stop.stop_reason(run))
    tuner = trials.build_tuner(run, prepared, chosen, current["settings"], budget, trains=False)
    oracle = tuner.oracle
    oracle.verbose = 0
    failures = _note_consecutive_failures(oracle, run)
    servicer = _gated_servicer(oracle, run, budget, failures)

    host, port = parse_address(bind)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1),  # one request at a time, as KerasTuner
                         interceptors=[auth.server_interceptor(token)])  # every call, on 127.0.0.1 too
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        port = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise SearchError(f"The chief cannot listen on {bind} ({exc}). Choose another address or port.") from exc
    server.start()
    tuner.save()
    session.set_chief(run, f"{reachable_name(host)}:{port}")
    status, error = "stopped: interrupted", None
    try:
        while not servicer.finished():
            time.sleep(POLL_SECONDS)
        status, error = servicer.outcome()
    except _Terminated:
        pass
    finally:
        server.stop(grace=2).wait()
        oracle.save()
        run.update_meta(status=status, error=error, updated=now())
    return 0


def _terminate(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automodel.distributed.chief", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--bind", required=True, help="HOST:PORT to listen on (port 0: any free port)")
    parser.add_argument("--parent-pid", type=int, help="end when this process ends")
    args = parser.parse_args(argv)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # the chief trains nothing
    signal.signal(signal.SIGTERM, _terminate)
    supervised_by(args.parent_pid)
    try:
        return serve(RunDir(args.run_dir), args.bind)
    except AutomodelError as exc:
        print(f"automodel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
