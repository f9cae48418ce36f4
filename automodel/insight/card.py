"""The model card of a run's export, for the HTML report: which export is the run's, and its card as HTML.

``automodel export`` writes ``MODEL_CARD.md`` into the folder it is given and
records the folder in the run's ``exports.json``; an export is still checked by its
card: ``model_card.json`` names the data's fingerprint, the trial and its
hyperparameters (or an ensemble's members), which must be this run's (a folder
exported again from another run no longer counts). Exports of runs from before
the record are looked for beside the run directory; another folder is given as
``export``. The Markdown
is rendered by markdown-it-py with raw HTML escaped and images off, so a card
can neither inject markup nor make the report fetch anything.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import AutomodelError
from ..export.model_card import CARD_JSON, CARD_MARKDOWN, is_card
from ..runs.leaderboard import ENSEMBLE, searched_hyperparameters
from ..runs.rundir import RunDir, read_json

__all__ = ["CARD_MARKDOWN", "card_html", "checked_export", "export_of"]


def export_of(run: RunDir) -> Path | None:
    """The newest export made from ``run``: recorded in its ``exports.json``, else beside it; None if there is none."""
    meta = run.meta()
    recorded = [Path(entry["path"]) for entry in run.exports()]
    for folders in (reversed(recorded), (card_file.parent for card_file in run.path.parent.glob(f"*/{CARD_JSON}"))):
        found = []
        for folder in folders:
            card = _card(folder)
            if card is not None and _made_from(card, run, meta):
                found.append((card.get("created") or "", folder))
        if found:
            return max(found)[1]
    return None


def checked_export(folder) -> Path:
    """``folder`` if ``automodel export`` wrote it, else an ``AutomodelError`` that says what to give."""
    folder = Path(folder)
    if _card(folder) is None:
        raise AutomodelError(f"{folder} is not an automodel export (no {CARD_JSON} and {CARD_MARKDOWN}). "
                             "Give the folder that automodel export wrote.")
    return folder


def card_html(folder: Path) -> str:
    """The export's ``MODEL_CARD.md`` as HTML: CommonMark with tables, raw HTML escaped, no images."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    return renderer.render((folder / CARD_MARKDOWN).read_text(encoding="utf-8"))


def _card(folder: Path) -> dict | None:
    """The export's card record, if ``folder`` holds a whole one (the JSON and the Markdown)."""
    try:
        card = read_json(folder / CARD_JSON)
    except (OSError, ValueError):
        return None
    return card if is_card(card) and (folder / CARD_MARKDOWN).is_file() else None


def _made_from(card: dict, run: RunDir, meta: dict) -> bool:
    """Whether ``card`` is of a model of ``run``: the same data, and the same trial configuration or ensemble."""
    if (card.get("data") or {}).get("fingerprint") != (meta.get("data") or {}).get("fingerprint"):
        return False
    trial = card.get("trial")
    if trial == ENSEMBLE:
        members = (run.ensemble_record() or {}).get("members") or []
        return sorted(m["trial"] for m in card.get("members") or []) == sorted(m["trial"] for m in members)
    values = (run.keras_tuner_trial(str(trial)).get("hyperparameters") or {}).get("values")
    return values is not None and searched_hyperparameters(values) == card.get("hyperparameters")
