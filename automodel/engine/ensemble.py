"""Ensemble selection over a search's trials (Caruana et al., ICML 2004).

A search trains many models; averaging the right few usually beats the best
one, and guards against the trial that was lucky on a small validation set.
Greedy forward selection with replacement: start from nothing, and for
``ROUNDS`` rounds add the trial whose addition makes the averaged validation
predictions (``predictions.py``: out-of-fold where the search cross-validated)
score best; keep the best round, so the weights are how often each trial was
picked. Classification averages probabilities, regression values; scores are
the objective with the loss breaking ties (accuracy is coarse on small data).
``max_size`` caps the number of distinct members: once reached, only members
already chosen can be added again. The same predictions give the same ensemble.

Scored on the predictions it was selected on, an ensemble looks better than it
is, more so the fewer the samples. So it becomes the default model only if the
selection also wins held out (``held_out``): selected on one half of the
predictions and scored on the other, against the best single trial chosen on
the same half, over ``HALVINGS`` random halvings. On Covid3Month (140
out-of-fold predictions) a three-trial ensemble had scored 8 % less MSE than
its best trial on all of them, 6 % more on held-out halves, and 7 % more RMSE on
the test set.

``build`` writes ``ensemble.json`` into the run directory: the members and
weights and the scores of the ensemble and of the best single trial on the same
predictions, or why there is no ensemble. ``keras_model`` puts the members'
trained models side by side on one input under a weighted average made of plain
Keras layers, so it saves and exports like any single model. Only the latter
imports TensorFlow.
"""

from __future__ import annotations

import numpy as np

from ..runs.leaderboard import WITH_MODEL, leaderboard
from ..runs.rundir import ENSEMBLE_RECORD, RunDir, now, write_json
from . import predictions

ROUNDS = 25
HALVINGS = 20  # random halvings of the predictions for the held-out check; each half is scored once
EPSILON = 1e-7  # Keras' clipping of probabilities in the cross-entropy


def scores(outputs: np.ndarray, y: np.ndarray, target: str) -> dict:
    """The validation metrics of ``outputs`` against ``y``, named as the leaderboard names them."""
    outputs = outputs.astype("float64")
    if target == "classification":
        chosen = np.clip(outputs[np.arange(len(y)), y.astype(int)], EPSILON, 1 - EPSILON)
        return {"val_accuracy": float(np.mean(outputs.argmax(axis=-1) == y)), "val_loss": float(-np.mean(np.log(chosen)))}
    error = outputs - y.reshape(outputs.shape)
    return {"val_loss": float(np.mean(error**2)), "val_mae": float(np.mean(np.abs(error)))}


def _rank(metrics: dict, target: str) -> tuple:
    """Higher is better: the objective, then the loss (rounded: rounding noise is no improvement)."""
    if target == "classification":
        key = metrics["val_accuracy"], -metrics["val_loss"]
    else:
        key = -metrics["val_loss"], -metrics["val_mae"]
    return tuple(round(value, 10) for value in key)


def select(candidates: list[np.ndarray], y: np.ndarray, target: str, rounds: int = ROUNDS,
           max_size: int | None = None) -> tuple[np.ndarray, dict]:
    """How often each candidate is picked in the best round, and that round's metrics.

    Ties go to the earlier candidate, so pass them best first.
    """
    stacked = np.stack([c.astype("float64") for c in candidates])
    counts = np.zeros(len(candidates), dtype=int)
    total = np.zeros_like(stacked[0])
    best_counts, best_metrics, best_rank = None, None, None
    for round_number in range(1, rounds + 1):
        full = max_size is not None and np.count_nonzero(counts) >= max_size
        allowed = np.flatnonzero(counts) if full else range(len(candidates))
        ranked = [(_rank(scores((total + stacked[i]) / round_number, y, target), target), -i) for i in allowed]
        pick = -max(ranked)[1]
        counts[pick] += 1
        total += stacked[pick]
        metrics = scores(total / round_number, y, target)
        if best_rank is None or _rank(metrics, target) > best_rank:
            best_counts, best_metrics, best_rank = counts.copy(), metrics, _rank(metrics, target)
    return best_counts // np.gcd.reduce(best_counts), best_metrics  # 2:2 is 1:1


def held_out(candidates: list[np.ndarray], y: np.ndarray, target: str, rounds: int = ROUNDS,
             max_size: int | None = None, halvings: int = HALVINGS) -> dict | None:
    """The mean metrics of the selection and of the best single candidate, each chosen on one half and scored on the other.

    None with fewer than 4 samples (no halves to score). The halvings are drawn
    from a fixed seed: the same predictions give the same answer.
    """
    if len(y) < 4:
        return None
    rng = np.random.default_rng(0)
    ensembles, singles = [], []
    for _ in range(halvings):
        halves = np.array_split(rng.permutation(len(y)), 2)
        for chosen_on, scored_on in (halves, halves[::-1]):
            order, counts, _ = _ranked_selection([c[chosen_on] for c in candidates], y[chosen_on], target, rounds,
                                                 max_size)
            mixed = sum(count * candidates[i][scored_on].astype("float64") for count, i in zip(counts, order))
            ensembles.append(scores(mixed / counts.sum(), y[scored_on], target))
            singles.append(scores(candidates[order[0]][scored_on], y[scored_on], target))
    return {"ensemble": _mean(ensembles), "best_single": _mean(singles), "halves": 2 * halvings}


def _ranked_selection(candidates: list[np.ndarray], y: np.ndarray, target: str, rounds: int,
                      max_size: int | None) -> tuple[list[int], np.ndarray, dict]:
    """The candidates' indices, best alone first, and the selection's counts (in that order) and metrics."""
    ranks = [_rank(scores(candidate, y, target), target) for candidate in candidates]
    order = sorted(range(len(candidates)), key=lambda i: ranks[i], reverse=True)
    counts, metrics = select([candidates[i] for i in order], y, target, rounds, max_size)
    return order, counts, metrics


def _mean(metrics: list[dict]) -> dict:
    return {name: float(np.mean([one[name] for one in metrics])) for name in metrics[0]}


def build(run: RunDir, max_size: int | None = None, rounds: int = ROUNDS) -> dict:
    """Select the ensemble of ``run``'s trials, write ``ensemble.json`` and return its record."""
    meta = run.meta()
    target = meta["spec"]["target"]
    done = _select(run, meta, target, max_size, rounds)
    done = {**done, "created": now()}
    write_json(run.path / ENSEMBLE_RECORD, done)
    return done


def _select(run: RunDir, meta: dict, target: str, max_size: int | None, rounds: int) -> dict:
    if target == "generation":
        return {"skipped": "image generation has no ensemble: averaging generators' images blurs them"}
    if max_size is not None and max_size < 2:
        return {"skipped": f"max_ensemble_size={max_size} asks for a single model"}
    y = predictions.targets(run)
    board = leaderboard(run.path)
    trials = [] if board.empty else list(board.loc[board["status"].isin(WITH_MODEL), "trial"])
    kept = {trial: predictions.load(run, trial) for trial in trials}
    kept = {trial: p for trial, p in kept.items() if p is not None and y is not None and len(p) == len(y)}
    if len(kept) < 2:
        return {"skipped": f"{_count(len(kept))} with validation predictions: an ensemble needs two"}
    leader = trials[0]
    trials = list(kept)
    indices, counts, metrics = _ranked_selection([kept[trial] for trial in trials], y, target, rounds, max_size)
    order = [trials[i] for i in indices]
    best = order[0]
    single = scores(kept[best], y, target)
    members = [{"trial": trial, "weight": round(int(count) / int(counts.sum()), 6), "count": int(count)}
               for trial, count in zip(order, counts) if count]
    members.sort(key=lambda member: -member["count"])
    check = held_out([kept[trial] for trial in order], y, target, rounds, max_size)
    why_not = _why_not_used(metrics, single, best, check, target, len(members))
    if leader not in kept:  # the leaderboard's best, scored on fewer folds (ranking.py), was never weighed
        folded = (meta.get("validation") or {}).get("method") == "cv"
        why_not = (f"trial {leader}, first on the leaderboard, has no predictions for all {len(y)} samples"
                   f"{' (it did not train every fold)' if folded else ''}, so the ensemble cannot be compared with it")
    return {
        "members": members,
        "metrics": metrics,
        "best_single": {"trial": best, "metrics": single},
        "better": why_not is None,
        "held_out": check,
        "candidates": len(kept),
        "rounds": rounds,
        "max_size": max_size,
        "scored_on": _scored_on(meta, len(y)),
        **({} if why_not is None else {"why_not_used": why_not}),
    }


def _why_not_used(metrics: dict, single: dict, best: str, check: dict | None, target: str, size: int) -> str | None:
    """Why the ensemble must not be the default model; None if it should be."""
    if size < 2 or _rank(metrics, target) <= _rank(single, target):
        return f"it scores no better than trial {best} alone"
    if check is not None and _rank(check["ensemble"], target) <= _rank(check["best_single"], target):
        both = ", ".join(f"{name} {value:.4g} against {check['best_single'][name]:.4g}"
                         for name, value in check["ensemble"].items())
        return (f"selected on half of the predictions, it scores no better on the other half than the best trial "
                f"chosen there ({both}, the mean of {check['halves']} halves)")
    return None


def _count(n: int) -> str:
    return {0: "no trial", 1: "only one trial"}.get(n, f"{n} trials")


def _scored_on(meta: dict, samples: int) -> str:
    if (meta.get("validation") or {}).get("method") == "cv":
        return f"out-of-fold predictions on {samples} training and validation samples"
    return f"predictions on the {samples} validation samples"


def forget(run: RunDir) -> None:
    """Drop an earlier ensemble: a resumed search selects its own."""
    (run.path / ENSEMBLE_RECORD).unlink(missing_ok=True)


def keras_model(members: list[tuple[str, object, int]]):
    """One Keras model averaging ``(trial id, trained model, count)`` members, weighted by count.

    Each member is a sub-model named after its trial; the weighted average is a
    Keras ``Average`` over each member's output repeated ``count`` times, so the
    model needs no custom layer to load or export.
    """
    import keras

    first = members[0][1].inputs[0]
    inputs = keras.Input(shape=first.shape[1:], dtype=first.dtype, name=first.name.split(":")[0])
    outputs = []
    for trial, model, count in members:
        member = keras.Model(model.inputs[0], model.outputs[0], name=f"trial_{trial}")
        outputs += [member(inputs)] * count
    return keras.Model(inputs, keras.layers.Average(name="weighted_average")(outputs), name="ensemble")
