"""The reporter's events: what ``automodel.search(reporter=...)`` is called with, whoever trains the trials.

``reporter(event, **fields)``, with these fields:

    search_start  max_trials, epochs, batch_size, patience: the training settings chosen
    trial_start   trial_id, architecture, resumed (True when the trial continues an earlier session)
    epoch_end     trial_id, epoch (from 1, counting a resumed trial's earlier epochs), logs (metric -> value)
    trial_end     record (the trial's automodel_trial.json), objective (the metric's name),
                  score (KerasTuner's score of the trial; None when it failed)
    chief_ready   address, run_dir, token: a search with worker processes has its chief listening
                  (workers elsewhere pass the token: ``automodel worker --token``)
    ensemble      record (ensemble.json: the members and weights, or why there is none), objective
    refit_start   (no fields): the best trial's final refit begins
    refit_end     record (the refit's record in run.json; with ``skipped`` when its model is not used; None: cut short)

The same events come from a search in this process (the tuner's callbacks) and
from one with worker processes (``distributed.relay`` reads the run directory),
so the CLI, its JSON stream and the notebook panel need not know which ran.
"""

from __future__ import annotations

EVENTS = {
    "search_start": ("max_trials", "epochs", "batch_size", "patience"),
    "trial_start": ("trial_id", "architecture", "resumed"),
    "epoch_end": ("trial_id", "epoch", "logs"),
    "trial_end": ("record", "objective", "score"),
    "chief_ready": ("address", "run_dir", "token"),
    "ensemble": ("record", "objective"),
    "refit_start": (),
    "refit_end": ("record",),
}


def report(reporter, event: str, **fields) -> None:
    """Call ``reporter`` (if any) with ``event``; its fields must be the schema's, so a misspelt one fails at once."""
    if sorted(fields) != sorted(EVENTS[event]):
        raise TypeError(f"reporter event {event!r} takes {', '.join(EVENTS[event]) or 'no fields'}, not {', '.join(fields)}")
    if reporter is not None:
        reporter(event, **fields)
