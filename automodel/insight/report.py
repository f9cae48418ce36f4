"""A run as one HTML file to share: the search, the chosen model's diagnostics and its model card.

``automodel report RUN_DIR --to report.html`` writes it. Everything is inside the
file: the figures are PNG data URIs, the style sheet is inline and there is no
script, so it opens the same from a mail attachment, a shared drive or a machine
with no network, and shows only what the run directory held when it was written.

It is built from the run directory alone (no TensorFlow): ``run.json`` for the
heading, ``automodel.runs.leaderboard`` for the table, ``insight.figures`` and
``insight.search`` for the search, ``diagnostics.json`` for the model (the CLI
computes it first where it is missing), and the ``MODEL_CARD.md`` of the run's
export (``insight.card`` finds it). Without an export the card cannot be made
here, since it describes the exported artifacts and their verification, which
only an export produces; the report says how to get one.
"""

from __future__ import annotations

import base64
import datetime
import html as markup
import math
import numbers
from pathlib import Path

from ..engine.validation import describe as describe_validation
from ..errors import AutomodelError, SearchError
from ..runs import liveness
from ..runs.atomic import atomic_write
from ..runs.leaderboard import ENSEMBLE, WITH_MODEL, leaderboard, summary_columns
from ..runs.rundir import RunDir
from .search import hyperparameter_columns

# what each figure shows, by its key in figures.search_figures / diagnostic_figures
FIGURE_TITLES = {
    "objective": "Objective over time",
    "parallel_coordinates": "Hyperparameters of each trial",
    "importance": "Hyperparameter importance",
    "curves": "Learning curves",
    "architectures": "Architectures",
    "confusion": "Confusion matrix",
    "mistakes": "Most confident mistakes",
    "regression": "Predicted against true",
    "residuals": "Residuals",
}
REPORT_CLASSES = ("precision", "recall", "f1", "support")
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;margin:0;
 background:#f6f8fa;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
h3{font-size:16px;margin:18px 0 6px}
nav{font-size:14px;margin:14px 0 18px}
nav a{margin-right:14px;color:#0969da;text-decoration:none}
.automodel-subtitle{color:#59636e;margin:0 0 16px}
dl.automodel-facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0;font-size:14px}
dl.automodel-facts dt{color:#59636e}
dl.automodel-facts dd{margin:0}
.automodel-status{display:inline-block;padding:0 8px;border-radius:10px;background:#ddf4ff}
.automodel-status-finished{background:#dafbe1}
.automodel-status-failed,.automodel-status-interrupted{background:#ffebe9}
table.automodel-table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
.automodel-table th,.automodel-table td{padding:3px 10px;border-bottom:1px solid #d8dee4;text-align:left}
.automodel-table td{white-space:nowrap}
.automodel-table th{background:#f6f8fa;vertical-align:bottom}
.automodel-table td.automodel-number{text-align:right}
.automodel-table tr.automodel-best td{background:#eef6ee;font-weight:600}
.automodel-table tr.automodel-failed td{color:#b00020}
.automodel-table tr.automodel-pruned td{color:#6e7781}
.automodel-scroll{overflow-x:auto}
.automodel-figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:18px}
figure{margin:0;border:1px solid #d8dee4;border-radius:6px;padding:10px;background:#fff}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
.automodel-samples img{width:min(100%,480px);image-rendering:pixelated}
figcaption{font-size:14px;font-weight:600;margin-bottom:6px}
.automodel-note{color:#59636e;font-size:14px}
.automodel-card{border:1px solid #d8dee4;border-radius:6px;padding:4px 20px 10px;font-size:14px}
.automodel-card h1{font-size:20px;margin:12px 0 8px}
.automodel-card h2{font-size:16px;margin:20px 0 6px;border:none}
.automodel-card code{background:#f6f8fa;padding:0 3px}
.automodel-card pre{background:#f6f8fa;padding:8px;overflow-x:auto}
.automodel-card table{border-collapse:collapse}
.automodel-card th,.automodel-card td{border:1px solid #d8dee4;padding:2px 8px}
footer{margin-top:40px;color:#59636e;font-size:12px}
"""


def html(run_dir, export=None) -> str:
    """The report of the run directory ``run_dir`` as one HTML document (a string).

    ``export`` is an export folder of this run whose model card the report
    includes (default: the newest one found beside ``run_dir``).
    """
    run = _run(run_dir)
    meta = run.meta()
    sections = [
        ("leaderboard", "Leaderboard", _leaderboard_section(run, meta)),
        ("search", "Search", _search_section(run)),
        ("diagnostics", "Diagnostics of the model", _diagnostics_section(run, meta)),
        ("model-card", "Model card", _card_section(run, export)),
    ]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{content}</section>' for key, title, content in sections)
    title = f"automodel report: {run.path.name}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_text(title)}</title>'
        f"<style>{STYLE}</style></head><body><main>{_heading(run, meta, title)}<nav>{nav}</nav>{body}"
        f"<footer>Written by automodel {_text(meta.get('versions', {}).get('automodel', ''))} on {_now()} "
        f"from the run directory {_text(run.path.name)}.</footer></main></body></html>"
    )


def check_target(path, overwrite: bool = False) -> Path:
    """``path`` as the file to write, or an ``AutomodelError`` before any work (a folder; a file, unless overwrite)."""
    path = Path(path)
    if path.is_dir():
        raise AutomodelError(f"{path} is a folder; the report is one HTML file. Choose a file such as report.html.")
    if path.exists() and not overwrite:
        raise AutomodelError(f"{path} already exists. Pass overwrite=True (--overwrite) to replace it, "
                             "or choose another path.")
    if not path.parent.is_dir():
        raise AutomodelError(f"The folder {path.parent} does not exist. Create it, or choose another path.")
    return path


def write(run_dir, path, overwrite: bool = False, export=None) -> Path:
    """Write the report of ``run_dir`` to the file ``path`` atomically; an existing file only with ``overwrite``."""
    path = check_target(path, overwrite)
    page = html(run_dir, export=export)
    with atomic_write(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _run(run_dir) -> RunDir:
    run = RunDir(run_dir)
    if not run.is_run():
        raise SearchError(f"{run_dir} is not an automodel run directory (no run.json found).")
    return run


# -- the heading ------------------------------------------------------------------------------------------------------


def _heading(run: RunDir, meta: dict, title: str) -> str:
    status = liveness.status(run, meta)
    objective = meta["objective"]
    better = "higher" if objective["direction"] == "max" else "lower"
    facts = {
        "Task": meta["task"],
        "Data": _data_summary(meta),
        "Status": f'<span class="automodel-status automodel-status-{_text(status)}">{_text(status)}</span>',
        "Objective": f"{_text(objective['name'])} ({better} is better)",
        "Validated by": _text(describe_validation(meta.get("validation") or {})),
        "Search": _text(_budget(meta)),
        "Started": _text(_time(meta.get("created"))),
        "Last update": _text(_time(meta.get("updated"))) + _text(_duration(meta)),
    }
    if meta.get("refit"):
        facts["Final refit"] = _text(_refit(meta["refit"]))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts.items())
    return (f"<h1>{_text(title)}</h1><p class=\"automodel-subtitle\">A model search by automodel, as its run "
            f"directory recorded it.</p><dl class=\"automodel-facts\">{rows}</dl>")


def _data_summary(meta: dict) -> str:
    data = meta.get("data") or {}
    split = ", ".join(f"{name} {count:,}" for name, count in (data.get("split") or {}).items())
    parts = [f"from {data['source']}" if data.get("source") else "", f"samples: {split}" if split else ""]
    if meta.get("classes"):
        parts.append(f"{len(meta['classes'])} classes")
    if data.get("fingerprint"):
        parts.append(f"fingerprint {data['fingerprint']}")
    return _text("; ".join(filter(None, parts)) or "not recorded")


def _budget(meta: dict) -> str:
    parts = [f"{meta.get('tuner', '?')} tuner over {', '.join(meta.get('architectures') or []) or '-'}"]
    for key, name in (("max_trials", "max trials"), ("epochs", "epochs"), ("time_budget", "time budget")):
        if meta.get(key) is not None:
            parts.append(f"{name} {meta[key]}")
    return "; ".join(parts)


def _refit(refit: dict) -> str:
    if refit.get("skipped"):
        return f"trial {refit.get('trial')}: not used, {refit['skipped']}"
    return f"trial {refit.get('trial')} retrained on {refit.get('samples')} samples for {refit.get('epochs')} epochs"


def _time(stamp) -> str:
    if not stamp:
        return "-"
    return datetime.datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _duration(meta: dict) -> str:
    try:
        start, end = (datetime.datetime.fromisoformat(meta[key]) for key in ("created", "updated"))
    except (KeyError, TypeError, ValueError):
        return ""
    return f" ({(end - start).total_seconds():.0f} s after the start)"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- the leaderboard and the search -----------------------------------------------------------------------------------


def _leaderboard_section(run: RunDir, meta: dict) -> str:
    board = leaderboard(run.path)
    if board.empty:
        return '<p class="automodel-note">No trials yet.</p>'
    objective = meta["objective"]["name"]
    ranked = board[board["status"].isin((*WITH_MODEL, ENSEMBLE))]
    best = None if ranked.empty else ranked.iloc[0]
    line = "" if best is None else (
        f'<p>Best: <b class="automodel-best-trial">{_text(_trial_name(best["trial"]))}</b> with '
        f'{_text(objective)} = <b class="automodel-best-score">{_cell(best[objective])}</b>. '
        f"{len(board)} rows, best first; the hyperparameters of each trial are in the table below it.</p>"
    )
    summary = _table(board, summary_columns(board.columns, objective), best=None if best is None else best["trial"])
    hyperparameters = hyperparameter_columns(board)
    full = ("" if not hyperparameters else
            f"<h3>Hyperparameters</h3>{_table(board, ['trial', 'architecture', *hyperparameters])}")
    return f"{line}<div class=\"automodel-scroll\">{summary}{full}</div>"


def _trial_name(trial) -> str:
    return "the ensemble" if trial == ENSEMBLE else f"trial {trial}"


def _search_section(run: RunDir) -> str:
    from . import figures, search

    shown = figures.search_figures(run.path)
    summary = search.architecture_summary(run.path)
    table = "" if summary.empty else (
        f"<h3>Architectures</h3><div class=\"automodel-scroll\">{_table(summary, list(summary.columns))}</div>")
    if not shown:
        return table + '<p class="automodel-note">No trial has ended yet, so there is nothing to plot.</p>'
    importance = search.importance(run.path)
    note = (f'<p class="automodel-note">Importance: {_text(importance.method)}, over {importance.trials} trials.</p>'
            if importance.values else "")
    return _figures(shown) + note + table


def _figures(shown: dict) -> str:
    from .figures import png

    items = []
    for key, figure in shown.items():
        title = FIGURE_TITLES.get(key, key.replace("_", " ").capitalize())
        items.append(f'<figure class="automodel-figure" data-figure="{_text(key)}"><figcaption>{_text(title)}'
                     f'</figcaption><img alt="{_text(title)}" src="{_png_uri(png(figure))}"></figure>')
    return f'<div class="automodel-figures">{"".join(items)}</div>'


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# -- the model --------------------------------------------------------------------------------------------------------


def _diagnostics_section(run: RunDir, meta: dict) -> str:
    from . import diagnostics, figures

    found = diagnostics.read(run.path)
    parts = []
    if (meta.get("spec") or {}).get("target") == "generation":
        grid = diagnostics.sample_grid(run.path)
        if grid is not None:
            trial = grid.parent.name.removeprefix("trial_")
            parts.append(f'<figure class="automodel-figure automodel-samples" data-figure="samples"><figcaption>'
                         f"Samples of trial {_text(trial)}'s generator, at its best epoch</figcaption>"
                         f'<img alt="generated samples" src="{_png_uri(grid.read_bytes())}"></figure>')
    if found is None:
        if not parts:
            parts.append('<p class="automodel-note">No diagnostics in this run directory. A search saves them when '
                         "it ends, on its held-out test split; <code>automodel report</code> computes them where "
                         "they are missing, unless <code>--no-diagnostics</code>.</p>")
        return "".join(parts)
    parts.insert(0, f"<p>{_text(diagnostics.describe(found))}</p>")
    if found.get("kind") == "classification":
        parts.append(_class_table(found))
    elif found.get("kind") == "regression":
        parts.append(_scores_table({name: found[name] for name in ("rmse", "mae", "r2") if name in found}))
    parts.append(_figures(figures.diagnostic_figures(run.path)))
    return "".join(parts)


def _class_table(found: dict) -> str:
    rows = "".join(
        f'<tr data-class="{_text(name)}"><td>{_text(name)}</td>'
        + "".join(f'<td class="automodel-number">{_score(scores.get(column))}</td>' for column in REPORT_CLASSES)
        + "</tr>"
        for name, scores in found["report"].items()
    )
    head = "".join(f"<th>{column}</th>" for column in ("class", *REPORT_CLASSES))
    return (f'<h3>Per class</h3><table class="automodel-table automodel-per-class"><tr>{head}</tr>{rows}</table>')


def _score(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else _cell(value)


def _scores_table(scores: dict) -> str:
    rows = "".join(f'<tr><td>{_text(name)}</td><td class="automodel-number">{_cell(value)}</td></tr>'
                   for name, value in scores.items())
    return f'<table class="automodel-table automodel-scores"><tr><th>metric</th><th>value</th></tr>{rows}</table>'


def _card_section(run: RunDir, export) -> str:
    from . import card

    folder = card.export_of(run) if export is None else card.checked_export(export)
    if folder is None:
        return ('<p class="automodel-note">No export of this run found. The model card describes exported '
                "artifacts and how each was verified, so only an export writes it: run "
                "<code>automodel export RUN_DIR --to FOLDER</code>, then this report again.</p>")
    return (f'<p class="automodel-note">From the export <code>{_text(folder.name)}</code> '
            f'({card.CARD_MARKDOWN}).</p><div class="automodel-card">{card.card_html(folder)}</div>')


# -- tables -----------------------------------------------------------------------------------------------------------


def _table(frame, columns: list[str], best=None) -> str:
    """``frame``'s ``columns`` as an escaped HTML table; rows carry their status (and the best row) as classes."""
    head = "".join(f"<th>{_text(column).replace('/', '/<wbr>')}</th>" for column in columns)
    rows = []
    for record in frame[columns].to_dict("records"):
        classes = ["automodel-row"]
        if "status" in record:
            classes.append(f"automodel-{_text(record['status'])}")
        if best is not None and record.get("trial") == best:
            classes.append("automodel-best")
        cells = "".join(
            f'<td class="automodel-number">{_cell(value)}</td>' if _is_number(value) else f"<td>{_cell(value)}</td>"
            for value in record.values()
        )
        rows.append(f'<tr class="{" ".join(classes)}">{cells}</tr>')
    return f'<table class="automodel-table"><tr>{head}</tr>{"".join(rows)}</table>'


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _cell(value) -> str:
    """A table cell's text: numbers to 4 significant digits, missing values empty, everything escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NAType":
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:.4g}"
    return _text(value)


def _text(value) -> str:
    return markup.escape(str(value))
