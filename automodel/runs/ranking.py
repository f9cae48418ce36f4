"""The order of a search's trials, best first: what the leaderboard shows and the refit and the ensemble start from.

Trials are ranked by status (a completed trial before a pruned one, and so on),
then by the objective, then by the validation loss (accuracy on a few samples
ties often). A cross-validated trial too slow to train all its folds within its
time cap is scored on fewer of them, so two cross-validated trials are compared
on the folds both trained: every trial trains the same folds in the same order,
and the first ``min(k_a, k_b)`` are scored as the objective is, at the best
epoch of their mean curve; on a tie, the one with more folds (more evidence)
first. Ranked after every whole cross-validation instead, MiniRocket at 0.80 on
2 of ACSF1's 5 folds fell below a CNN at 0.12 on 3 of them. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field


def mean_curves(histories: list[dict]) -> dict:
    """Per epoch, the mean over the folds, up to the epoch every fold reached (folds stop at different epochs)."""
    names = dict.fromkeys(name for history in histories for name in history)
    curves = {}
    for name in names:
        series = [history[name] for history in histories if history.get(name)]
        length = min((len(values) for values in series), default=0)
        curves[name] = [sum(values[i] for values in series) / len(series) for i in range(length)]
    return curves


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


@dataclass(frozen=True)
class Entry:
    """One row to rank: its status's rank, its objective and tie-breaker, and its folds' histories (if any)."""

    status_rank: int
    value: float | None
    tie: float | None = None
    folds: tuple = field(default=())  # each fold's per-epoch history, in the order the folds trained


def order(entries: list[Entry], objective: str, direction: str, tie_breaker: str | None) -> list[int]:
    """The entries' indices, best first; equal entries keep their order."""
    sign = 1 if direction == "max" else -1

    def scored(entry: Entry, folds: int) -> tuple[float | None, float | None]:
        """The objective and tie-breaker on the first ``folds`` folds, at the best epoch of their mean curve."""
        if not entry.folds or folds == 0:
            return _number(entry.value), _number(entry.tie)
        curves = mean_curves(list(entry.folds[:folds]))
        values = [_number(v) for v in curves.get(objective) or []]
        finite = [i for i, v in enumerate(values) if v is not None]
        if not finite:
            return None, None
        best = max(finite, key=lambda i: sign * values[i])
        ties = curves.get(tie_breaker) or []
        return values[best], _number(ties[best]) if best < len(ties) else None

    def key(entry: Entry, folds: int) -> tuple:
        """Smaller is better: missing values last."""
        value, tie = scored(entry, folds)
        return (value is None, 0.0 if value is None else -sign * value,
                tie is None or tie_breaker == objective, 0.0 if tie is None else tie)

    def compare(i: int, j: int) -> int:
        a, b = entries[i], entries[j]
        if a.status_rank != b.status_rank:
            return -1 if a.status_rank < b.status_rank else 1
        common = min(len(a.folds), len(b.folds)) if a.folds and b.folds else 0
        ka, kb = key(a, common), key(b, common)
        if ka != kb:
            return -1 if ka < kb else 1
        return len(b.folds) - len(a.folds)  # as good on the folds both trained: more folds, more evidence

    return sorted(range(len(entries)), key=functools.cmp_to_key(compare))
