"""The search-insight and diagnostic plots, as matplotlib Figures.

Each figure is drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas
(no pyplot: no global state, safe from a panel's background thread); matplotlib
is imported on the first plot. A figure shows itself in a notebook (it has a
``_repr_png_``), and ``png(figure)`` gives the bytes the panel and the report
embed. Each function returns None when there is nothing to plot yet.
"""

from __future__ import annotations

import io
import math
import textwrap

import numpy as np

from ..runs.rundir import RunDir
from . import diagnostics as diagnosing
from . import search

PADDING_FLOOR = -3.0e38  # series of different lengths are padded with float32's lowest value (data/sequences.py)


def png(figure) -> bytes:
    """The figure as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _figure(width: float = 7.0, height: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    figure._repr_png_ = lambda: png(figure)  # a notebook shows it without pyplot's inline backend
    return figure


def _time_axis(seconds) -> tuple[np.ndarray, str]:
    """Seconds, or minutes once the search is longer than a few of them."""
    seconds = np.asarray(seconds, dtype=float)
    if len(seconds) and np.nanmax(seconds) > 180:
        return seconds / 60, "minutes since the search started"
    return seconds, "seconds since the search started"


def objective_figure(run_dir):
    """Each trial's objective at the time it ended, the best-so-far line, pruned and failed trials marked."""
    over_time = search.objective_over_time(run_dir)
    if over_time.empty:
        return None
    name = search.objective_name(run_dir)
    x, xlabel = _time_axis(over_time["ended"])
    figure = _figure()
    axes = figure.subplots()
    status = over_time["status"].to_numpy()
    scored = over_time["objective"].notna().to_numpy()
    if scored.any():  # carried on to the right edge, so one ended trial already shows its line
        best = over_time["best_so_far"][scored].to_numpy()
        edge = np.nanmax(x) + max(0.05 * (np.nanmax(x) - np.nanmin(x)), 0.05 * abs(np.nanmax(x)), 1e-3)
        axes.step(np.append(x[scored], edge), np.append(best, best[-1]), where="post", color="tab:green",
                  label="best so far")
    done = scored & (status == "completed")
    if done.any():
        axes.scatter(x[done], over_time["objective"][done], color="tab:blue", zorder=3, label="completed")
    pruned = scored & (status == "pruned")
    if pruned.any():
        axes.scatter(x[pruned], over_time["objective"][pruned], marker="v", facecolors="none",
                     edgecolors="tab:orange", zorder=3, label="pruned")
    failed = status == "failed"
    if failed.any():  # no objective: at the bottom edge
        axes.scatter(x[failed], np.full(failed.sum(), 0.02), marker="x", color="tab:red", zorder=3,
                     transform=axes.get_xaxis_transform(), clip_on=False, label="failed")
    axes.set(xlabel=xlabel, ylabel=name, title=f"{name} of each trial ({search.direction(run_dir)}imised)")
    axes.legend(fontsize=8)
    return figure


def parallel_coordinates_figure(run_dir):
    """One line per trial across its hyperparameters (each axis scaled to its range), coloured by the objective."""
    import matplotlib
    from matplotlib import cm, colors

    frame = search.parallel_coordinates(run_dir)
    frame = frame[[c for c in frame.columns if c == "objective" or frame[c].nunique() > 1]]  # what varied
    if len(frame) < 2 or len(frame.columns) < 2:
        return None
    labels = frame.attrs.get("labels", {})
    low, high = frame.min(), frame.max()
    scaled = (frame - low) / (high - low).replace(0, 1)
    objective = frame["objective"]
    reverse = search.direction(run_dir) == "min"  # the better trials in the brighter colour
    norm = colors.Normalize(objective.min(), objective.max())
    colormap = matplotlib.colormaps["viridis_r" if reverse else "viridis"]
    figure = _figure(max(7.0, 1.1 * len(frame.columns)), 4.0)
    axes = figure.subplots()
    positions = np.arange(len(frame.columns))
    for trial, row in scaled.iterrows():
        axes.plot(positions, row.to_numpy(), color=colormap(norm(objective[trial])), alpha=0.8, linewidth=1.2)
    axes.vlines(positions, 0, 1, color="0.7", linewidth=0.8, zorder=0)
    for position, column in zip(positions, frame.columns):
        ends = labels[column] if column in labels else [f"{low[column]:.3g}", f"{high[column]:.3g}"]
        axes.annotate(ends[0], (position, -0.04), ha="center", va="top", fontsize=7, annotation_clip=False)
        axes.annotate(ends[-1], (position, 1.04), ha="center", va="bottom", fontsize=7, annotation_clip=False)
    axes.set_xticks(positions, [column.replace("/", "/\n", 1) for column in frame.columns], fontsize=7)
    axes.set_yticks([])
    axes.set_ylim(-0.12, 1.12)
    axes.set_title(f"Hyperparameters of {len(frame)} trials, coloured by {search.objective_name(run_dir)}")
    figure.colorbar(cm.ScalarMappable(norm=norm, cmap=colormap), ax=axes, label=search.objective_name(run_dir))
    return figure


def importance_figure(run_dir):
    """The hyperparameters' importance, most important on top, the method in the title."""
    found = search.importance(run_dir)
    if not found.values:
        return None
    names, values = list(found.values)[::-1], list(found.values.values())[::-1]
    figure = _figure(7.0, max(2.4, 0.32 * len(names) + 1.2))
    axes = figure.subplots()
    axes.barh(names, values, color="tab:purple")
    axes.set_xlabel(f"growth of the forest's squared error when shuffled, over the variance ({found.trials} trials)",
                    fontsize=8)
    axes.set_title("Hyperparameter importance:\n" + textwrap.fill(found.method, 70), fontsize=10)
    axes.tick_params(axis="y", labelsize=8)
    return figure


def curves_figure(run_dir, trial_ids=None):
    """The objective per epoch of several trials (default: the best 8), overlaid."""
    per_trial = search.curves(run_dir, trial_ids)
    if not per_trial:
        return None
    name = search.objective_name(run_dir)
    figure = _figure()
    axes = figure.subplots()
    for trial_id, values in per_trial.items():
        axes.plot(range(1, len(values) + 1), values, marker="o", markersize=2.5, label=f"trial {trial_id}")
    axes.set(xlabel="epoch", ylabel=name, title=f"{name} per epoch")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=7, ncols=2)
    return figure


def architecture_figure(run_dir):
    """Best and median objective per architecture, with how many trials each ran.

    Points, not bars: scores of one search lie close together, and a bar whose
    axis does not start at zero would exaggerate their differences.
    """
    summary = search.architecture_summary(run_dir)
    summary = summary[summary["best"].notna()]
    if summary.empty:
        return None
    name = search.objective_name(run_dir)
    positions = np.arange(len(summary))
    figure = _figure(max(5.0, 1.3 * len(summary) + 2), 3.4)
    axes = figure.subplots()
    axes.vlines(positions, summary["median"], summary["best"], color="lightgray", zorder=1)
    axes.scatter(positions, summary["best"], s=60, label="best", color="tab:green", zorder=3)
    axes.scatter(positions, summary["median"], s=50, marker="D", label="median", color="tab:gray", zorder=2)
    axes.set_xlim(-0.6, len(summary) - 0.4)
    axes.set_xticks(positions, [f"{a}\n({n} trials)" for a, n in zip(summary["architecture"], summary["trials"])])
    scores = np.concatenate([summary["best"], summary["median"]])
    spread = max(float(np.ptp(scores)), 1e-3 * max(1.0, float(np.abs(scores).max())))
    axes.set_ylim(scores.min() - spread, scores.max() + spread * 0.5)
    axes.set(ylabel=name, title=f"{name} per architecture")
    axes.legend(fontsize=8)
    return figure


def confusion_figure(diagnostics: dict):
    """The confusion matrix (rows true, columns predicted) and per-class precision, recall and F1."""
    if not diagnostics or diagnostics.get("kind") != "classification":
        return None
    classes = [str(c) for c in diagnostics["classes"]]
    matrix = np.asarray(diagnostics["confusion"])
    figure = _figure(9.0, max(3.6, 0.32 * len(classes) + 1.6))
    matrix_axes, report_axes = figure.subplots(1, 2, width_ratios=[1.2, 1])
    matrix_axes.imshow(matrix, cmap="Blues")
    if len(classes) <= 20:
        threshold = matrix.max() / 2
        for (row, col), count in np.ndenumerate(matrix):
            matrix_axes.text(col, row, str(count), ha="center", va="center", fontsize=7,
                             color="white" if count > threshold else "black")
    ticks = np.arange(len(classes))
    matrix_axes.set_xticks(ticks, classes, fontsize=7, rotation=90 if len(classes) > 10 else 0)
    matrix_axes.set_yticks(ticks, classes, fontsize=7)
    matrix_axes.set(xlabel="predicted", ylabel="true",
                    title=f"Confusion matrix (accuracy {diagnostics['accuracy']:.3f})")
    report = diagnostics["report"]
    for offset, score in zip((-0.27, 0, 0.27), ("precision", "recall", "f1")):
        report_axes.barh(ticks + offset, [report[c][score] for c in classes], height=0.27, label=score)
    report_axes.set_yticks(ticks, classes, fontsize=7)
    report_axes.invert_yaxis()
    report_axes.set(xlim=(0, 1.05), title="Per class (scikit-learn)")
    report_axes.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    return figure


def _sample_kind(diagnostics: dict, sample) -> str:
    kind = diagnostics.get("inputs")
    if kind:
        return kind
    if isinstance(sample, str):
        return "text"
    return "image" if np.ndim(sample) >= 2 else "sequence"


def _draw_sample(axes, sample, kind: str) -> None:
    if kind == "text":
        axes.text(0.02, 0.98, textwrap.fill(str(sample)[:240], 32), va="top", ha="left", fontsize=7,
                  transform=axes.transAxes)
    elif kind == "image":
        image = np.asarray(sample, dtype=float)
        image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        span = image.max() - image.min()
        axes.imshow((image - image.min()) / (span or 1), cmap="gray" if image.ndim == 2 else None)
    else:
        series = np.asarray(sample, dtype=float)
        axes.plot(np.where(series <= PADDING_FLOOR, np.nan, series), linewidth=1)
        return
    axes.set_xticks([])
    axes.set_yticks([])


def mistakes_figure(diagnostics: dict, x_test):
    """The most confident mistakes: image thumbnails, text snippets or series, with true and predicted labels.

    ``x_test`` is the test split's inputs, indexed by a mistake's ``index``.
    """
    mistakes = (diagnostics or {}).get("mistakes") or []
    if not mistakes or x_test is None:
        return None
    columns = min(4, len(mistakes))
    rows = math.ceil(len(mistakes) / columns)
    figure = _figure(2.0 * columns + 0.4, 2.1 * rows + 0.5)
    grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axes, mistake in zip(grid, mistakes):
        sample = x_test[mistake["index"]]
        _draw_sample(axes, sample, _sample_kind(diagnostics, sample))
        axes.set_title(f"true {mistake['true']}, predicted {mistake['predicted']}\n"
                       f"confidence {mistake['confidence']:.0%} (row {mistake['index']})", fontsize=7)
    for axes in grid[len(mistakes):]:
        axes.set_axis_off()
    figure.suptitle("Most confident mistakes on the test split", fontsize=10)
    return figure


def regression_figure(diagnostics: dict):
    """Predicted against true values with the diagonal, and the residuals against the predictions."""
    if not diagnostics or diagnostics.get("kind") != "regression":
        return None
    true, predicted = np.asarray(diagnostics["true"]), np.asarray(diagnostics["predicted"])
    figure = _figure(9.0, 3.8)
    fit_axes, residual_axes = figure.subplots(1, 2)
    fit_axes.scatter(true, predicted, s=10, alpha=0.6)
    ends = [min(true.min(), predicted.min()), max(true.max(), predicted.max())]
    fit_axes.plot(ends, ends, color="tab:red", linewidth=1, label="predicted = true")
    fit_axes.set(xlabel="true", ylabel="predicted",
                 title=f"RMSE {diagnostics['rmse']:.4g}, MAE {diagnostics['mae']:.4g}, R\u00b2 {diagnostics['r2']:.3f}")
    fit_axes.legend(fontsize=8)
    residual_axes.scatter(predicted, diagnostics["residuals"], s=10, alpha=0.6, color="tab:orange")
    residual_axes.axhline(0, color="tab:red", linewidth=1)
    residual_axes.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals")
    return figure


def residuals_figure(diagnostics: dict):
    """How the residuals (true - predicted) are distributed."""
    if not diagnostics or diagnostics.get("kind") != "regression":
        return None
    figure = _figure(6.0, 3.2)
    axes = figure.subplots()
    axes.hist(diagnostics["residuals"], bins="auto", color="tab:orange")
    axes.axvline(0, color="tab:red", linewidth=1)
    axes.set(xlabel="residual (true - predicted)", ylabel="samples", title="Residuals on the test split")
    return figure


def search_figures(run_dir) -> dict:
    """Every search-insight figure that has data: objective, parallel_coordinates, importance, curves, architectures."""
    drawn = {
        "objective": objective_figure(run_dir),
        "parallel_coordinates": parallel_coordinates_figure(run_dir),
        "importance": importance_figure(run_dir),
        "curves": curves_figure(run_dir),
        "architectures": architecture_figure(run_dir),
    }
    return {name: figure for name, figure in drawn.items() if figure is not None}


def _test_inputs(run_dir, found: dict):
    """The test split's inputs the mistakes need; an image folder's images read from their files."""
    run = RunDir(run_dir)
    stored = run.load_test_data()
    if stored is None:
        return None
    x = stored[0]
    if run.meta()["data"].get("source") != "image_folder":
        return x
    from PIL import Image

    indices = {mistake["index"] for mistake in found.get("mistakes") or []}
    return {i: np.asarray(Image.open(str(x[i])).convert("RGB")) for i in indices if i < len(x)}


def diagnostic_figures(run_dir) -> dict:
    """The figures of ``RUN/diagnostics.json``: confusion and mistakes, or regression and residuals; {} without it."""
    found = diagnosing.read(run_dir)
    if not found:
        return {}
    if found.get("kind") == "classification":
        drawn = {"confusion": confusion_figure(found), "mistakes": mistakes_figure(found, _test_inputs(run_dir, found))}
    else:
        drawn = {"regression": regression_figure(found), "residuals": residuals_figure(found)}
    return {name: figure for name, figure in drawn.items() if figure is not None}
