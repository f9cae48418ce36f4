"""Reporter events for trials that other processes run, read from the run directory.

In a search with worker processes the trials train elsewhere, but each one writes
its record (``automodel_trial.json``) after every epoch and the chief writes
KerasTuner's ``trial.json`` with the score when the trial ends. Polling those
files gives the caller's ``reporter`` the same ``trial_start``, ``epoch_end``
and ``trial_end`` events (``runs/events.py``) as a search in its own process, so
the CLI and the notebook panel work unchanged. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses

from ..runs import events
from ..runs.rundir import RunDir

FINAL = ("completed", "pruned", "failed")


@dataclasses.dataclass
class _Seen:
    epochs: int = 0
    ended: bool = False


class Relay:
    """Turns changes in the run directory into ``reporter(event, **info)`` calls."""

    def __init__(self, run: RunDir, reporter):
        self.run = run
        self.reporter = reporter
        self.objective = run.meta()["objective"]["name"]
        # what is there already is not news
        self.seen = {trial_id: self._state(run.trial_record(trial_id)) for trial_id in run.trial_ids()}

    @staticmethod
    def _state(record: dict) -> _Seen:
        return _Seen(record.get("epochs") or 0, record.get("status") in FINAL)

    def emit(self, event: str, **fields) -> None:
        events.report(self.reporter, event, **fields)

    def poll(self, final: bool = False) -> None:
        """Report what happened since the last call; ``final``: end trials the chief never scored."""
        if self.reporter is None:
            return
        for trial_id in self.run.trial_ids():
            seen = self.seen.get(trial_id)
            if seen is not None and seen.ended:
                continue
            record = self.run.trial_record(trial_id)
            if not record:
                continue
            if seen is None:
                seen = self.seen[trial_id] = _Seen()
                resumed = len(record.get("sessions") or []) > 1
                self.emit("trial_start", trial_id=trial_id, architecture=record.get("architecture"), resumed=resumed)
            self._epochs(trial_id, record, seen)
            self._end(trial_id, record, seen, final)

    def _epochs(self, trial_id: str, record: dict, seen: _Seen) -> None:
        history = record.get("history") or {}
        epochs = record.get("epochs") or 0
        first = record.get("initial_epoch") or 0
        for index in range(seen.epochs, epochs):
            logs = {name: values[index] for name, values in history.items() if index < len(values)}
            self.emit("epoch_end", trial_id=trial_id, epoch=first + index + 1, logs=logs)
        seen.epochs = max(seen.epochs, epochs)

    def _end(self, trial_id: str, record: dict, seen: _Seen, final: bool) -> None:
        if record.get("status") not in FINAL:
            return
        kt_trial = self.run.keras_tuner_trial(trial_id)
        if kt_trial.get("status") == "RUNNING" and not final:
            return  # the worker has not reported to the chief yet: the score is still to come
        seen.ended = True
        score = kt_trial.get("score") if record["status"] != "failed" else None
        self.emit("trial_end", record=record, objective=self.objective, score=score)
