"""The insight tabs beside the leaderboard, driven from Python on real runs: figures, tables, redraws."""

from __future__ import annotations

import html.parser
import shutil
import subprocess
import sys
import time

import pytest
from test_widgets import wait_until

from automodel.insight import diagnostics, figures, search
from automodel.runs.leaderboard import leaderboard
from automodel.widgets import Leaderboard
from automodel.widgets.insight import Insight, trials_key


class Cells(html.parser.HTMLParser):
    """The text of each table row's cells, header row included."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


def as_number(text: str) -> float:
    return float("nan") if text == "" else float(text)


def shown_on(insight: Insight, tab: int) -> Insight:
    insight.selected_index = tab
    assert insight.wait(120), "the drawing did not end"
    assert insight.notice.kind is None, insight.notice.text
    return insight


def counting(monkeypatch, name: str) -> list:
    """Count the calls of ``figures.NAME`` (the one expensive step of drawing a tab)."""
    calls, real = [], getattr(figures, name)
    monkeypatch.setattr(figures, name, lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    return calls


def test_search_tab_of_a_finished_run_holds_its_figures_and_summary(digits_run):
    insight = shown_on(Insight(digits_run.path, interval=0), 0)
    expected = figures.search_figures(digits_run.path)
    assert {"objective", "curves", "architectures"} <= set(expected) and "importance" not in expected  # 2 trials
    shown = insight.search_figures.shown
    assert list(shown) == list(expected)
    for name, figure in expected.items():
        assert shown[name].startswith(b"\x89PNG") and shown[name] == figures.png(figure), name
        image = insight.search_figures.images[name]
        assert f"automodel-insight-{name.replace('_', '-')}" in image._dom_classes
    assert "importance needs 4 trials with an objective" in insight.search_note.value

    rows = Cells(insight.summary.value).rows
    summary = search.architecture_summary(digits_run.path)
    assert rows[0] == list(summary.columns)
    assert len(rows) == 1 + len(summary)
    for row, record in zip(rows[1:], summary.to_dict("records")):
        assert row[0] == record["architecture"]
        for text, column in zip(row[1:], summary.columns[1:]):
            assert as_number(text) == pytest.approx(record[column], rel=1e-3, nan_ok=True), column
    insight.close()


def test_diagnostics_tab_shows_the_saved_diagnostics_of_the_chosen_model(digits_run):
    found = diagnostics.read(digits_run.path)
    assert found is not None and found["kind"] == "classification"
    insight = Insight(digits_run.path, interval=0)
    assert insight.wait(60) and insight.diagnostic_figures.shown == {}  # drawn when its tab opens, not before
    shown_on(insight, 1)
    expected = figures.diagnostic_figures(digits_run.path)
    assert set(expected) == {"confusion", "mistakes"}
    shown = insight.diagnostic_figures.shown
    assert {name: shown[name] for name in expected} == {name: figures.png(f) for name, f in expected.items()}
    assert "automodel-diagnostics-confusion" in insight.diagnostic_figures.images["confusion"]._dom_classes
    assert f"trial {found['model']['trial']}" in insight.diagnostics_note.value
    assert f"accuracy {found['accuracy']:.4g}" in insight.diagnostics_note.value

    rows = Cells(insight.scores.value).rows
    assert rows[0] == ["class", "precision", "recall", "f1", "support"]
    assert [row[0] for row in rows[1:]] == [str(name) for name in found["report"]]
    for row, scores in zip(rows[1:], found["report"].values()):
        assert [as_number(text) for text in row[1:]] == pytest.approx(
            [scores[name] for name in ("precision", "recall", "f1", "support")], rel=1e-3)
    insight.close()


def test_unchanged_polls_draw_nothing_and_a_new_epoch_redraws(digits_run, monkeypatch):
    board = Leaderboard(digits_run.path, interval=0)
    assert board.insight.wait(120)
    assert board.insight.search_figures.shown  # drawn once on show
    search_draws = counting(monkeypatch, "search_figures")
    diagnostic_draws = counting(monkeypatch, "diagnostic_figures")
    for _ in range(3):  # polls of a run that did not change
        board.refresh()
        assert board.insight.wait(60)
    assert search_draws == [] and diagnostic_draws == []

    # a trial that trained one more epoch changes the key: the search tab is drawn again, once
    grown = board.board.copy()
    grown.loc[0, "epochs"] += 1
    assert trials_key(grown) != trials_key(board.board)
    board.insight.update(digits_run.path, grown, board.status)
    assert board.insight.wait(60) and len(search_draws) == 1 and diagnostic_draws == []

    board.insight.selected_index = 1  # the diagnostics tab draws when it opens, and only then
    assert board.insight.wait(60) and len(diagnostic_draws) == 1
    board.insight.selected_index = 0  # back to a tab drawn for this very key
    board.refresh()
    assert board.insight.wait(60) and len(search_draws) == 2  # the real board again: one fewer epoch
    board.refresh()
    assert board.insight.wait(60) and len(search_draws) == 2 and len(diagnostic_draws) == 1
    board.close()


def test_a_run_that_has_not_started_says_what_will_come(tmp_path):
    insight = Insight(tmp_path / "not-yet", interval=0)
    assert insight.wait(30) and insight.layout.display is None
    assert "fill in as the search's trials end" in insight.search_note.value
    assert insight.search_figures.shown == {}


def test_a_broken_run_directory_is_a_message_in_the_tab(digits_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(digits_run.path, run_dir)
    insight = Insight(interval=0)
    (run_dir / "run.json").write_text('{"objective": {}}')
    insight.update(run_dir, leaderboard(digits_run.path), "finished")
    assert insight.wait(30) and insight.notice.kind == "error"
    assert "Cannot draw the search insight" in insight.notice.text


def test_the_insight_tabs_import_neither_tensorflow_nor_matplotlib_until_drawn():
    code = (
        "import sys\n"
        "from automodel.widgets import Leaderboard, SearchApp\n"
        "SearchApp()._repr_mimebundle_(); Leaderboard()\n"
        "print(*(name in sys.modules for name in ('tensorflow', 'matplotlib', 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_a_generation_run_shows_its_sample_grid_while_the_trial_trains(tmp_path):
    run_dir = tmp_path / "gan"
    view = Leaderboard(run_dir, interval=0.2)
    view.insight.selected_index = 1  # the Diagnostics tab, where the samples are
    process = subprocess.Popen(
        [sys.executable, "-m", "automodel.cli", "search", "--task", "image_generation", "--data", "digits",
         "--architectures", "gan", "--tuner", "random", "--max-trials", "1", "--epochs", "4", "--dir", str(tmp_path),
         "--name", "gan"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = []  # (status, the samples on show) while the search writes the run
    try:
        while process.poll() is None:
            seen.append((view.status, view.insight.diagnostic_figures.shown.get("samples")))
            time.sleep(0.05)
    finally:
        process.kill()
    assert process.wait() == 0, process.stderr.read()
    shown_while_running = [samples for status, samples in seen if status == "running" and samples]
    assert shown_while_running and all(s.startswith(b"\x89PNG") for s in shown_while_running)

    wait_until(lambda: not view.watching and view.insight.wait(5), what="the view to see the run end")
    view.refresh()
    assert view.insight.wait(30)
    grid = diagnostics.sample_grid(run_dir)
    assert grid == run_dir / "trial_0" / "samples.png"
    assert view.insight.diagnostic_figures.shown == {"samples": grid.read_bytes()}
    assert "Generated samples of trial 0" in view.insight.diagnostics_note.value
    assert "automodel-diagnostics-samples" in view.insight.diagnostic_figures.images["samples"]._dom_classes
    view.close()
