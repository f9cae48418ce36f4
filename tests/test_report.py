"""``automodel report``: one self-contained HTML file of a run, read back as a reader's browser would.

The report of the shared digits run is parsed for what it must hold: every plot
of ``insight.figures`` as a PNG data URI, the leaderboard's trials and best score,
the per-class scores of ``diagnostics.json``, and nothing fetched from anywhere.
Then Chromium opens the file with every request that is not the file itself
refused, and every image must have decoded.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from browser_tools import ARTIFACTS, Browser, require_chromium, wait_for
from PIL import Image

from automodel.cli import main
from automodel.insight import diagnostics, figures
from automodel.runs.leaderboard import leaderboard

PNG_URI = "data:image/png;base64,"


class Page(HTMLParser):
    """The parts of a report a test reads: images by figure, every src/href, and each table's rows of cell texts."""

    def __init__(self, text: str):
        super().__init__()
        self.figures, self.images, self.references, self.tags = {}, [], [], []
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.best_score = None
        self._figure = self._cell = self._best = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.references += [attrs[name] for name in ("src", "href") if attrs.get(name)]
        if tag == "figure":
            self._figure = attrs.get("data-figure")
        elif tag == "img":
            self.images.append(attrs["src"])
            self.figures[self._figure] = attrs["src"]
        elif tag == "table":
            self.tables.append((attrs.get("class") or "", []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif "automodel-best-score" in (attrs.get("class") or ""):
            self._best = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "figure":
            self._figure = None
        elif tag == "b" and self._best is not None:
            self.best_score, self._best = "".join(self._best), None

    def handle_data(self, data):
        for part in (self._cell, self._best):
            if part is not None:
                part.append(data)

    def table(self, css: str) -> list[list[str]]:
        return next(rows for classes, rows in self.tables if css in classes.split())


def png_size(uri: str) -> tuple[int, int]:
    """The width and height of the PNG a data URI holds (it must be one)."""
    assert uri.startswith(PNG_URI), uri[:40]
    data = base64.b64decode(uri[len(PNG_URI):], validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def written(digits_run, tmp_path_factory):
    """The report of the shared digits run, written once (``SearchResult.report``): its path and its parsed page."""
    path = digits_run.report(tmp_path_factory.mktemp("report") / "report.html")
    return path, Page(path.read_text(encoding="utf-8"))


def test_every_figure_is_an_embedded_png(digits_run, written):
    _, page = written
    expected = {**figures.search_figures(digits_run.path), **figures.diagnostic_figures(digits_run.path)}
    assert {"objective", "curves", "architectures", "confusion"} <= set(expected)  # what a finished digits run has
    assert set(expected) <= set(page.figures)
    for key, figure in expected.items():
        with Image.open(io.BytesIO(figures.png(figure))) as drawn:
            assert png_size(page.figures[key]) == drawn.size, key  # that figure, as it draws
    assert all(src.startswith(PNG_URI) for src in page.images)


def test_the_leaderboard_lists_every_trial_and_the_best_score(digits_run, written):
    _, page = written
    board = leaderboard(digits_run.path)
    objective = digits_run.meta["objective"]["name"]
    rows = page.table("automodel-table")  # the first one is the leaderboard
    head, body = rows[0], rows[1:]
    assert head[:3] == ["trial", "architecture", "status"] and objective in head
    assert [row[0] for row in body] == list(board["trial"])
    column = head.index(objective)
    assert [float(row[column]) for row in body] == pytest.approx(list(board[objective]), rel=1e-3)
    assert page.best_score == f"{board.iloc[0][objective]:.4g}"


def test_the_per_class_table_is_the_saved_diagnostics(digits_run, written):
    _, page = written
    saved = diagnostics.read(digits_run.path)
    rows = page.table("automodel-per-class")
    assert rows[0] == ["class", "precision", "recall", "f1", "support"]
    shown = {row[0]: [float(cell) for cell in row[1:]] for row in rows[1:]}
    assert list(shown) == [str(name) for name in saved["classes"]]
    for name, scores in saved["report"].items():
        expected = [scores["precision"], scores["recall"], scores["f1"], scores["support"]]
        assert shown[name] == pytest.approx(expected, abs=5e-4), name
    assert sum(scores["support"] for scores in saved["report"].values()) == digits_run.meta["data"]["split"]["test"]


def test_nothing_is_fetched_from_anywhere(written):
    path, page = written
    text = path.read_text(encoding="utf-8")
    assert page.references and all(ref.startswith((PNG_URI, "#")) for ref in page.references), page.references
    assert not re.search(r"https?://", text)
    assert not {"script", "link", "iframe", "object"} & set(page.tags)
    assert "@import" not in text and "url(" not in text


def test_report_refuses_to_overwrite_without_overwrite(capsys, digits_run, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("the user's own file")
    code, _, err = cli(capsys, "report", digits_run.path, "--to", target)
    assert code == 2 and target.read_text() == "the user's own file"
    assert err.strip() == (f"automodel: error: {target} already exists. Pass overwrite=True (--overwrite) to "
                           "replace it, or choose another path.")
    code, out, err = cli(capsys, "report", digits_run.path, "--to", target, "--overwrite")
    assert code == 0, err
    assert f"wrote {target}" in out and target.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left beside it


def test_a_bad_run_dir_is_one_clear_line_and_exit_code_2(tmp_path):
    target = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "automodel.cli", "report", str(tmp_path / "no-run"), "--to",
                           str(target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"automodel: error: {tmp_path / 'no-run'} is not an automodel run directory (no " \
                                  "run.json found)."
    assert not target.exists()


def test_a_report_with_its_diagnostics_loads_no_tensorflow(digits_run, tmp_path):
    """Everything comes from the run directory's files; only missing diagnostics need the model."""
    target = tmp_path / "report.html"
    code = (f"import sys; from automodel.cli import main\n"
            f"assert main(['report', {str(digits_run.path)!r}, '--to', {str(target)!r}]) == 0\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8").count(PNG_URI) >= 5


def test_missing_diagnostics_are_computed_and_the_export_card_is_included(capsys, digits_run, tmp_path):
    """A run without diagnostics.json gets them (as the search would have saved them); its export, its card."""
    run = tmp_path / "digits"
    shutil.copytree(digits_run.path, run)
    saved = diagnostics.read(run)
    (run / diagnostics.DIAGNOSTICS).unlink()
    (run / "exports.json").unlink(missing_ok=True)  # exports of the shared run by other tests

    code, _, err = cli(capsys, "report", run, "--to", tmp_path / "bare.html", "--no-diagnostics")
    assert code == 0, err
    assert diagnostics.read(run) is None and "No diagnostics" in (tmp_path / "bare.html").read_text()
    assert "No export of this run" in (tmp_path / "bare.html").read_text()

    import automodel

    (tmp_path / "elsewhere").mkdir()
    card = automodel.open_run(run).export(tmp_path / "elsewhere" / "exported", formats=["keras"])
    # found through the run's record, not by looking beside the run directory
    exported = str((tmp_path / "elsewhere" / "exported").resolve())
    assert [e["path"] for e in automodel.open_run(run).run.exports()] == [exported]
    code, out, err = cli(capsys, "report", run, "--to", tmp_path / "report.html")
    assert code == 0, err
    assert "computing the diagnostics" in out
    assert diagnostics.read(run)["report"] == saved["report"]  # the same model on the same split
    page = Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "automodel-per-class" in [css for classes, _ in page.tables for css in classes.split()]
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"<h1>{card['name']}: {card['task']}</h1>" in text  # the card's own heading, as markdown-it renders it
    assert "From the export <code>exported</code>" in text

    (tmp_path / "not-an-export").mkdir()
    code, _, err = cli(capsys, "report", run, "--to", tmp_path / "other.html", "--export", tmp_path / "not-an-export")
    assert code == 2 and "is not an automodel export" in err and not (tmp_path / "other.html").exists()


def test_an_image_generation_report_shows_the_sample_grid(capsys, tmp_path):
    """Generation has no test-split diagnostics to compute: its best trial's sample grid is shown instead."""
    import automodel

    result = automodel.search(task="image_generation", data="digits", architectures=["gan"], tuner="random",
                              max_trials=1, epochs=1, directory=tmp_path, name="gan", seed=0)
    code, out, err = cli(capsys, "report", result.path, "--to", tmp_path / "report.html")
    assert code == 0, err
    assert "computing" not in out and diagnostics.read(result.path) is None
    page = Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    grid = diagnostics.sample_grid(result.path)
    assert grid == result.run.trial_dir(result.best_trial_id) / "samples.png"
    assert base64.b64decode(page.figures["samples"][len(PNG_URI):]) == grid.read_bytes()
    assert {"objective", "curves"} <= set(page.figures) and "confusion" not in page.figures


def test_the_report_opens_offline_in_chromium_with_every_image_shown(written, tmp_path):
    """Chromium with every request but the file itself refused: every image decodes; nothing was asked for."""
    require_chromium()
    path, page_parsed = written
    browser = Browser(tmp_path / "chromium-profile")
    attempted = []

    def file_only(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    try:
        context = browser.browser.new_context(viewport={"width": 1280, "height": 1600})
        context.route("**/*", file_only)
        page = context.new_page()
        page.goto(path.as_uri())
        images = page.locator("img")
        wait_for(lambda: page.evaluate("[...document.images].every(i => i.complete)"), 30, "the images", page)
        widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
        assert len(widths) == len(page_parsed.images) >= 5 and all(w > 0 for w in widths), widths
        assert images.first.is_visible()
        assert page.locator("table.automodel-per-class tr").count() == 11  # a header and 10 digits
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        browser.stop()
    assert attempted == []
