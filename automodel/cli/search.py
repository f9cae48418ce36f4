"""``automodel search``, ``chief`` and ``demo``: run a search from the command line and sum it up.

Options come from ``options.py``; the checks that need no TensorFlow run
first, so a mistyped option costs no wait. Events print as lines for people (with
a live display below them when stdout is a terminal, ``progress.py``), or as one
JSON object a line with ``--json``; the exit code says whether the search
reached its end (``output.EXIT_CODES``).
"""

from __future__ import annotations

import contextlib
import os
import sys

from .. import registry, settings
from ..errors import AutomodelError
from .options import SEARCH_OPTIONS
from .output import (
    DONE,
    SEARCH_ENDED_EARLY,
    board_text,
    describe_ensemble,
    describe_model,
    describe_validation,
    print_json,
    scores,
)


def load_engine():
    from ..startup import load_tensorflow

    load_tensorflow()  # without TensorFlow's C++ start-up lines
    from ..api import search

    return search


def _print_trial(event, record=None, objective=None, score=None, **info):
    if event == "chief_ready":
        print(f"chief listening on {info['address']}; start workers with:", flush=True)
        join = f"automodel worker --chief {info['address']} --dir {info['run_dir']} --token {info['token']}"
        print(f"  {join}", flush=True)
    if event == "refit_start":
        print("refit: retraining the best trial on training and validation data", flush=True)
    if event == "refit_end":
        done = record or {}
        if not done:
            print("refit: cut short by the time budget; the trial's own model is kept", flush=True)
        elif "skipped" in done:
            print(f"refit: not used: {done['skipped']}", flush=True)
        else:
            print(f"refit: trial {done['trial']} on {done['samples']} samples, {done['epochs']} epochs, "
                  f"{done['seconds']:.1f}s", flush=True)
    if event == "ensemble":
        print(describe_ensemble(record, objective), flush=True)
    if event != "trial_end":
        return
    line = f"trial {record['trial_id']:>4}  {record['architecture'] or '?':<10} {record['status']:<9}"
    if score is not None:
        line += f"  {objective}={score:.4f}"
    line += f"  epochs={record.get('epochs', 0)}  {record.get('seconds', 0):.1f}s"
    if record.get("reason") or record.get("stopped"):
        line += f"  ({record.get('reason') or record.get('stopped')})"
    print(line, flush=True)


def _json_event(event, **info):
    print_json({"event": event, **info}, lines=True)


def _read_data(path: str | None, image_size=None):
    """A data set name or a file as it is (the data layer reads it); a folder as an image folder."""
    if path is not None and os.path.isdir(path):
        from ..data import image_folder

        return image_folder(path, image_size=tuple(image_size) if image_size else None)
    return path


def ended_early(status: str) -> bool:
    """Whether a run's status says its search ended before its end: stopped (not by its budget) or failed."""
    if status == "finished":
        return False
    return not (status.startswith("stopped") and "time budget" in status)


def _check_first(options: dict) -> None:
    """The checks of ``automodel.search`` that need no TensorFlow, so that a mistyped option costs no wait."""
    settings.check(**{name: options.get(name, settings.DEFAULTS.get(name)) for name in (
        "tuner", "max_trials", "epochs", "time_budget", "batch_size", "patience", "max_params",
        "max_consecutive_failures")})
    settings.check_ensemble_size(options.get("max_ensemble_size"))
    for name in options.get("architectures") or ():
        registry.get_architecture(name)


def run_search(options: dict, as_json: bool = False) -> int:
    """Run a search and sum it up; exit 3 if it stops early or fails once started (see ``EXIT_CODES``)."""
    _check_first(options)
    search = load_engine()
    started = []
    report = _json_event if as_json else _print_trial
    progress = None if as_json or not sys.stdout.isatty() else _live_display(options)

    def reporter(event, **info):
        if event == "search_start":  # settings, data and plugins are checked by now
            started.append(event)
        report(event, **info)
        if progress is not None:
            progress(event, **info)

    try:
        with progress.shown() if progress is not None else contextlib.nullcontext():
            result = search(reporter=reporter, **options)
            meta = result.run.meta()
            summary = {"run_dir": str(result.path), "status": meta["status"], "validation": describe_validation(meta)}
            source = result.model_source()
            summary.update(model=source, test=result.evaluate())
    except AutomodelError as exc:
        if not started:
            raise  # a usage or data error, before anything was trained
        if as_json:
            _json_event("search_end", status="failed", error=str(exc), exit_code=SEARCH_ENDED_EARLY)
        print(f"automodel: the search failed: {exc}", file=sys.stderr)
        return SEARCH_ENDED_EARLY
    code = SEARCH_ENDED_EARLY if ended_early(meta["status"]) else DONE
    if as_json:
        _json_event("search_end", **summary, exit_code=code)
    else:
        print()
        print(board_text(result.leaderboard(), meta["objective"]["name"], all_columns=False))
        print()
        print(f"run directory: {result.path}  ({meta['status']}; scored by {summary['validation']})")
        print(f"{describe_model(source)} on the held-out test split: {scores(summary['test'])}")
    if code != DONE:
        print(f"automodel: the search ended early ({meta['status']}); run the same command again to resume it.",
              file=sys.stderr)
    return code


def _live_display(options: dict):
    """The live progress display of a terminal (``progress.py``): rich loads only for it."""
    from .progress import SearchProgress

    return SearchProgress.for_options(options)


def search_options_of(args) -> dict:
    options = {row.name: getattr(args, row.name) for row in SEARCH_OPTIONS}
    for name in ("data", "validation_data", "test_data"):
        options[name] = _read_data(options[name], args.image_size)
    target = options["target"]
    options["target"] = target[0] if target and len(target) == 1 else target
    return options
