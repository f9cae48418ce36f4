"""What the ``automodel`` command prints: JSON for scripts, and the lines people read.

``--json`` output is strict JSON (``allow_nan=False``): numpy and pandas values
become plain numbers, and NaN, infinities and missing values become null, so any
parser reads it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import math
import sys
import time

DONE, USAGE_OR_DATA_ERROR, SEARCH_ENDED_EARLY, INTERRUPTED = 0, 2, 3, 130
EXIT_CODES = {
    DONE: "done (a search whose time budget ran out is done too)",
    USAGE_OR_DATA_ERROR: "a usage or data error: one line on stderr names the problem and the fix",
    SEARCH_ENDED_EARLY: "the search stopped before its end (automodel stop) or failed once it had started "
    "(trials failing in a row, no trial completed, a worker or the chief failing)",
    INTERRUPTED: "interrupted (Ctrl-C); the run directory resumes where it stopped",
}


def jsonable(value):
    """``value`` with numpy and pandas scalars as Python ones, and NaN, infinities and missing values as None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    return str(value)  # paths, timestamps


def print_json(value, lines: bool = False, file=None) -> None:
    """One JSON document on stdout, or ``file`` (on one line with ``lines``, as in an event stream)."""
    print(json.dumps(jsonable(value), allow_nan=False, indent=None if lines else 1), file=file, flush=True)


def describe_model(source: dict, named: str | None = None) -> str:
    """What ``SearchResult.model_source`` says, in words: ``best trial 3 (refit on ...)``, ``trial 3``, an ensemble."""
    members = source.get("members")
    if members:
        parts = ", ".join(f"{m['trial']}{' refit' if m.get('refit') else ''} x{m.get('weight', 0):.2f}" for m in members)
        return f"the ensemble of {len(members)} trials ({parts})"
    which = f"trial {source['trial']}" if named not in (None, "refit") else f"best trial {source['trial']}"
    return which + (" (refit on training and validation data)" if source.get("refit") else "")


def describe_ensemble(chosen: dict | None, objective: str) -> str:
    """One line on the ensemble a search selected (``ensemble.json``), or why it has none."""
    if not chosen:
        return "ensemble: none selected yet"
    if "skipped" in chosen:
        return f"ensemble: none ({chosen['skipped']})"
    members = ", ".join(f"{m['trial']} ({m['weight']:.0%})" for m in chosen["members"])
    single = chosen["best_single"]
    use = "the default model" if chosen["better"] else f"not the default: {chosen['why_not_used']}"
    return (f"ensemble: trials {members}: {objective}={chosen['metrics'][objective]:.4f}, trial {single['trial']} alone "
            f"{single['metrics'][objective]:.4f} ({chosen['scored_on']}); {use}")


def scores(metrics: dict) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in metrics.items())


class Progress:
    """A one-line progress bar on stderr, drawn only where stderr is a terminal (never into logs or pipes)."""

    WIDTH = 30

    def __init__(self, what: str, stream=None):
        self.what, self.stream = what, stream or sys.stderr
        self.live = self.stream.isatty()
        self.start, self.drawn = time.monotonic(), False

    def update(self, rows: int, fraction: float) -> None:
        if not self.live:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        bar = "#" * int(self.WIDTH * fraction)
        self.stream.write(f"\r{self.what} [{bar:-<{self.WIDTH}}] {fraction:4.0%}  {rows:,} rows  "
                          f"{time.monotonic() - self.start:.0f}s")
        self.stream.flush()
        self.drawn = True

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def board_text(board, objective: str, all_columns: bool) -> str:
    import pandas as pd

    from ..runs.leaderboard import summary_columns

    if board.empty:
        return "(no trials yet)"
    if not all_columns:
        board = board[summary_columns(board.columns, objective)]
    board = board.copy()
    for column in board.columns[board.dtypes.astype(str) == "Int64"]:  # na_rep misses their <NA>
        board[column] = board[column].astype(object).where(board[column].notna(), "")
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 60):
        return board.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")


def board_records(board) -> list[dict]:
    return board.astype(object).where(board.notna(), None).to_dict(orient="records")


def describe_validation(meta: dict) -> str:
    from ..engine.validation import describe

    return describe(meta.get("validation") or {})
