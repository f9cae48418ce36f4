"""A leaderboard DataFrame as a compact HTML table for the panel.

The full leaderboard has a column per hyperparameter of every architecture;
the panel shows what a ranking needs (the objective and other validation
metrics, size, epochs, time, and the reason a trial failed or stopped). Rows
carry their status as a CSS class, so failures stand out and a browser test
can find them.
"""

from __future__ import annotations

import html

import pandas as pd

from automodel.runs.leaderboard import summary_columns

STYLE = (
    "<style>"
    ".automodel-table{border-collapse:collapse;font-size:12px}"
    ".automodel-table th,.automodel-table td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
    ".automodel-table tr.automodel-failed td{color:#b00020}"
    ".automodel-table tr.automodel-running td{color:#555;font-style:italic}"
    ".automodel-table tr.automodel-selected td{background:#e8f0fe}"
    "</style>"
)


def _cell(value) -> str:
    if pd.isna(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def board_html(board, objective: str, selected: str | None = None) -> str:
    """HTML for ``board`` (a leaderboard DataFrame, best first)."""
    if board is None or board.empty:
        return '<div class="automodel-empty">No trials yet.</div>'
    columns = summary_columns(board.columns, objective)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for record in board[columns].to_dict("records"):
        classes = f"automodel-row automodel-{record['status']}"
        if selected is not None and str(record["trial"]) == str(selected):
            classes += " automodel-selected"
        cells = "".join(f"<td>{_cell(record[c])}</td>" for c in columns)
        rows.append(f'<tr class="{classes}" data-trial="{html.escape(str(record["trial"]))}">{cells}</tr>')
    return f'{STYLE}<table class="automodel-table"><tr>{head}</tr>{"".join(rows)}</table>'
