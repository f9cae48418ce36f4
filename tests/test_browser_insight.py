"""The insight and diagnostics tabs in a real browser: JupyterLab during a search, the desktop app after one.

The JupyterLab test runs the tutorial's panel (``test_browser``'s server and
helpers), starts a three-trial search by clicking and watches the objective plot
appear while the status still says running, then opens the Diagnostics tab once
the search has ended. The desktop test serves ``automodel ui`` (``test_ui``'s
app) over a folder holding a finished run and shows both tabs in the Runs tab.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import shutil

import pytest
from browser_tools import _set_number, screenshot, wait_for
from test_browser import _tutorial_panel, jupyter  # noqa: F401 (a fixture: the JupyterLab server and browser)
from test_ui import App

from automodel.insight import diagnostics, figures


def _open_tab(insight, title: str) -> None:
    insight.locator(".lm-TabBar-tab", has_text=title).first.click()


def _shown(scope, css: str):
    image = scope.locator(f"img.{css}")
    image.wait_for(state="visible", timeout=120_000)
    return image


def _architecture_rows(insight, expected: int = 2):
    """The per-architecture table's rows once there are ``expected`` (the header and one per architecture): the page
    may render the table's HTML after the figures beside it."""
    rows = insight.locator("table.automodel-insight-architectures tr")
    wait_for(lambda: rows.count() == expected, 30, "the per-architecture table", insight.page)
    return rows


def _check_diagnostics(insight, classes: int) -> None:
    """The Diagnostics tab on show: the confusion matrix, the mistakes and a row per class."""
    _open_tab(insight, "Diagnostics")
    for name in ("confusion", "mistakes"):
        assert _shown(insight, f"automodel-diagnostics-{name}").evaluate("img => img.naturalWidth") > 200
    table = insight.locator("table.automodel-diagnostics-classes tr")
    wait_for(lambda: table.count() == classes + 1, 30, "the per-class table", insight.page)
    assert "held-out test split: accuracy" in insight.locator(".automodel-diagnostics-note").inner_text()


def test_insight_fills_during_a_search_in_jupyterlab(jupyter):  # noqa: F811
    with _tutorial_panel(jupyter, "insight", "/lab/tree") as (panel, folder):
        panel.locator(".automodel-tuner select").select_option(label="Random search")
        _set_number(panel, "automodel-max-trials", 3)
        _set_number(panel, "automodel-epochs", 2)
        insight = panel.locator(".automodel-insight")
        panel.locator("button.automodel-start").click()

        objective = _shown(insight, "automodel-insight-objective")  # drawn once the first trial has ended
        status = panel.locator(".automodel-status").inner_text()
        assert "· running ·" in status and "completed" in status, status
        note = insight.locator(".automodel-insight-note")
        wait_for(lambda: note.inner_text().startswith("Not drawn yet: hyperparameter"), 10, "the note", panel.page)
        screenshot(insight, "insight-jupyterlab-running")

        panel.locator(".automodel-notice-success").first.wait_for(timeout=240_000)
        assert "finished · 3 trials (3 completed)" in panel.locator(".automodel-status").inner_text()
        for name in ("curves", "architectures", "parallel-coordinates"):
            _shown(insight, f"automodel-insight-{name}")
        assert objective.evaluate("img => img.naturalWidth") > 200
        rows = _architecture_rows(insight)  # one architecture searched
        assert "cnn" in rows.nth(1).inner_text()
        screenshot(insight, "insight-jupyterlab")

        classes = len(diagnostics.read(folder / "automodel-runs" / "digits")["report"])
        _check_diagnostics(insight, classes)
        screenshot(insight, "diagnostics-jupyterlab")


@pytest.fixture()
def desktop_with_a_run(tmp_path, digits_run, jupyter):  # noqa: F811
    """``automodel ui`` over a runs folder that holds a copy of a finished run, and the module's browser
    (one Playwright at a time in a thread)."""
    shutil.copytree(digits_run.path, tmp_path / "runs" / "finished-digits")
    app = App(tmp_path, tmp_path / "runs")
    try:
        yield app, jupyter[1], tmp_path / "runs" / "finished-digits"
    finally:
        app.stop()


def test_desktop_app_shows_the_insight_and_diagnostics_of_a_finished_run(desktop_with_a_run):
    app, browser, run_dir = desktop_with_a_run
    blocked = len(browser.blocked)
    page = browser.new_page()
    try:
        page.goto(app.url)
        page.locator(".automodel-app").wait_for(timeout=90_000)
        page.locator(".automodel-tabs .lm-TabBar-tab", has_text="Runs").click()
        runs = page.locator(".automodel-run-browser")
        assert "finished-digits" in runs.locator(".automodel-runs select").inner_text()
        insight = runs.locator(".automodel-insight")
        for name in figures.search_figures(run_dir):
            _shown(insight, f"automodel-insight-{name.replace('_', '-')}")
        assert "importance needs 4 trials" in insight.locator(".automodel-insight-note").inner_text()  # it has 2
        _architecture_rows(insight)
        screenshot(runs, "insight-desktop")

        found = diagnostics.read(run_dir)
        assert found is not None, f"the search wrote no diagnostics.json into {run_dir}"
        _check_diagnostics(insight, len(found["report"]))
        screenshot(runs, "diagnostics-desktop")
    finally:
        page.context.close()
    assert browser.blocked[blocked:] == []  # nothing was fetched from the internet
