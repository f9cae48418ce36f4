"""``automodel ui``: the desktop app, from its widgets to a real browser on the served page.

The browser test starts ``automodel ui --no-browser`` as a user would, reads the
printed URL, runs a tiny search by clicking, exports, looks at the Runs tab, and
checks that the page fetched nothing from the internet, that the server and its
kernel listen on 127.0.0.1 only and ask for the token, and that Ctrl-C stops
them all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest
from browser_tools import (
    alive, browser_for, export_by_clicking, require_chromium, screenshot, search_two_trials, stop_group, wait_for,
)

from automodel import AutomodelError
from automodel.cli import main
from automodel.widgets import DesktopApp
from automodel.widgets.serve import app_folders, app_notebook, choose_port
from conftest import plugin_of, registered, tiny_architecture


# -- the widgets, without a browser -------------------------------------------------
def test_runs_tab_lists_runs_and_shows_the_chosen_leaderboard(tmp_path, digits_run):
    shutil.copytree(digits_run.path, tmp_path / "digits")
    (tmp_path / "not-a-run").mkdir()
    app = DesktopApp(tmp_path)
    runs = app.runs
    assert [label.split(" · ")[0] for label, _ in runs.runs.options] == ["digits"]
    assert runs.board.run_dir == tmp_path / "digits" and runs.board.has_model
    assert not runs.exporter.button.disabled
    assert app.search.form.directory.value == str(tmp_path)

    shutil.copytree(digits_run.path, tmp_path / "again")
    app.tabs.selected_index = 1  # opening the tab reads the folder again, keeping the choice
    assert sorted(label.split(" · ")[0] for label, _ in runs.runs.options) == ["again", "digits"]
    assert runs.runs.value == str(tmp_path / "digits")

    for name, box in runs.exporter.formats.items():  # the chosen run's best trial, as .keras
        box.value = name == "keras"
    runs.exporter.folder.value = str(tmp_path / "exported")
    runs.exporter.button.click()
    assert runs.exporter.wait(120) and runs.exporter.notice.kind == "success", runs.exporter.notice.text
    assert {"model.keras", "model_card.json"} <= {p.name for p in runs.exporter.written}
    assert runs.exporter.card["trial"] == digits_run.best_trial_id
    runs.board.unwatch()


def test_stop_in_the_runs_tab_reaches_the_search_through_the_run_directory(tmp_path, small_digits):
    # the panel's own Stop is not used: the request travels as a closed page's search would get it
    with registered(plugin_of(tiny_architecture()), "tiny"):
        app = DesktopApp(
            tmp_path, data={"small": small_digits}, task="image_classification", architectures=["tiny"],
            tuner="random", max_trials=5, epochs=200,
        )
        app.search.start()
        wait_for(lambda: app.search.progress.epochs.value >= 1, 60, "the first epoch")
        app.tabs.selected_index = 1
        runs = app.runs
        assert runs.runs.value == str(tmp_path / "small") and not runs.stop_button.disabled
        runs.stop_button.click()
        assert runs.stop_button.disabled and "Asked the search to stop" in runs.notice.text
        assert app.search.wait(60)
    board = app.search.board.board
    assert len(board) == 1 and board.iloc[0]["reason"] == "stopped by user" and board.iloc[0]["epochs"] < 200
    assert app.search.result.run.meta()["status"] == "stopped: stopped by user"
    runs.refresh()
    assert runs.stop_button.disabled  # the run has ended
    runs.board.unwatch()


def test_stop_of_a_run_that_is_not_running_says_so(tmp_path, digits_run, capsys):
    shutil.copytree(digits_run.path, tmp_path / "digits")
    runs = DesktopApp(tmp_path).runs
    assert runs.stop_button.disabled
    runs.stop()
    assert runs.notice.kind == "error" and "is not running (its status is 'finished'), so there is nothing to stop" in runs.notice.text
    assert main(["stop", str(tmp_path / "digits")]) == 2
    assert "nothing to stop" in capsys.readouterr().err


def test_runs_tab_of_an_empty_folder_says_so(tmp_path):
    runs = DesktopApp(tmp_path / "runs").runs
    assert runs.runs.options == () and runs.exporter.button.disabled
    assert "No runs in" in runs.empty.value and "start a search" in runs.empty.value


def test_the_file_browser_fills_the_data_path(tmp_path):
    (tmp_path / "images" / "cats").mkdir(parents=True)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    form = DesktopApp(tmp_path / "runs", browse_from=tmp_path).search.form
    form.data.value = "path:"
    assert form.browse.layout.display is None  # shown with the path field
    # a file is chosen in its folder; a folder of images by opening it
    for folder, name, chosen in ((tmp_path, "table.csv", tmp_path / "table.csv"), (tmp_path / "images", "", tmp_path / "images")):
        form.browse.reset(path=str(folder), filename=name)
        form.browse._select.click()  # opens the chooser
        form.browse._select.click()  # chooses
        assert form.path.value == str(chosen)


def test_the_app_notebook_runs_the_desktop_panel_in_the_runs_folder(tmp_path):
    source = app_notebook(tmp_path / "runs", tmp_path, tmp_path).cells[0].source
    assert f"os.chdir({str(tmp_path / 'runs')!r})" in source
    assert f"DesktopApp({str(tmp_path / 'runs')!r}, browse_from={str(tmp_path)!r}, root={str(tmp_path)!r})" in source


# -- one root folder: no path from the page leads outside it ---------------------------
@pytest.fixture()
def rooted(tmp_path):
    """A root with a table, a folder outside it with another, and links from the root to outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "data").mkdir(parents=True)
    outside.mkdir()
    for folder in (root / "data", outside):
        (folder / "table.csv").write_text("a,b\n1,2\n")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "data" / "linked.csv").symlink_to(outside / "table.csv")
    return root, outside


def refused(error, root) -> bool:
    text = str(error)
    return f"leads outside {root}, the folder this app may reach" in text and "automodel ui --root FOLDER" in text


def test_paths_from_the_page_must_lead_inside_the_root(rooted):
    root, outside = rooted
    app = DesktopApp(root / "runs", browse_from=root, root=root)
    form = app.search.form
    form.data.value, form.target.value = "path:", "b"
    for path in (outside / "table.csv", root / ".." / "outside" / "table.csv", root / "linked" / "table.csv",
                 root / "data" / "linked.csv"):  # outside; a .. escape; a linked folder; a linked file
        form.path.value = str(path)
        with pytest.raises(AutomodelError) as error:
            form.options()
        assert refused(error.value, root) and f"The data path {path} " in str(error.value)
    assert app.search.start() is None and refused(app.search.notice.text, root)  # what the user sees

    form.path.value = str(root / "data" / "table.csv")  # inside: as before
    assert form.options()["data"] == str(root / "data" / "table.csv")
    form.path.value = "../data/table.csv"  # relative to the runs folder, where the app's kernel runs
    (root / "runs").mkdir()
    with contextlib.chdir(root / "runs"):
        assert form.options()["data"] == "../data/table.csv"
    form.path.value = str(root / "data" / "table.csv")
    for folder, name, what in ((outside, "mine", "The directory"), (root / "runs", "../../x", "The run directory")):
        form.directory.value, form.name.value = str(folder), name
        with pytest.raises(AutomodelError, match=what) as error:
            form.options()
        assert refused(error.value, root)

    exporter = app.runs.exporter
    for folder in (str(outside / "model"), str(root / "linked" / "model")):
        exporter.folder.value = folder
        assert exporter.export(root / "runs" / "digits") is None
        assert exporter.notice.kind == "error" and refused(exporter.notice.text, root)
    assert sorted(p.name for p in outside.iterdir()) == ["table.csv"]  # nothing was written outside

    (outside / "run").mkdir()
    (outside / "run" / "run.json").write_text("{}")
    (root / "runs" / "linked-run").symlink_to(outside / "run", target_is_directory=True)
    app.runs.refresh()
    assert app.runs.runs.options == ()  # a run that leads outside is not listed


def test_the_file_browser_opens_nothing_outside_the_root(rooted):
    root, _ = rooted
    form = DesktopApp(root / "runs", browse_from=root / "data", root=root).search.form
    chooser = form.browse
    assert chooser._pathlist.options == (str(root / "data"), str(root))  # no parent above the root
    chooser._select.click()  # opens it
    chooser._pathlist.value = str(root)
    assert "📁 .." not in chooser._dircontent.options  # no way up from the root
    chooser._dircontent.value = chooser._map_name_to_disp["linked"]  # a link to a folder outside
    assert chooser._pathlist.value == str(root) and refused(chooser.refused, root)
    assert "outside" not in chooser.refused.replace(f"leads outside {root}", "")  # where the link leads is not told
    chooser._dircontent.value = chooser._map_name_to_disp["data"]
    chooser._dircontent.value = chooser._map_name_to_disp["linked.csv"]  # a link to a file outside
    chooser._select.click()
    assert chooser.selected is None and refused(chooser.refused, root) and form.path.value == ""
    assert "leads outside" in chooser._label.value  # shown where the choice would be
    chooser._select.click()
    chooser._dircontent.value = chooser._map_name_to_disp["table.csv"]  # inside: chosen as before
    chooser._select.click()
    assert form.path.value == str(root / "data" / "table.csv")


def test_root_is_the_current_folder_unless_root_says_another(tmp_path, monkeypatch, capsys):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(tmp_path)
    assert app_folders() == (tmp_path / "automodel-runs", tmp_path, tmp_path)
    assert app_folders("runs") == (tmp_path / "runs", tmp_path, tmp_path)
    # --root elsewhere: the runs go into it, and the file browser starts there
    assert app_folders(None, other) == (other / "automodel-runs", other, other)
    with pytest.raises(AutomodelError, match=f"--dir {tmp_path / 'runs'} is outside --root {other}"):
        app_folders("runs", other)
    assert main(["ui", "--no-browser", "--root", str(other), "--dir", str(tmp_path / "runs")]) == 2
    assert "Give a --dir inside it, or another --root" in capsys.readouterr().err
    assert main(["ui", "--no-browser", "--root", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err

    (other / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "elsewhere").mkdir()
    for root, allowed in ((tmp_path / "elsewhere", False), (other, True)):  # --root changes what the page may reach
        form = DesktopApp(other / "runs", root=root).search.form
        form.data.value, form.target.value, form.path.value = "path:", "b", str(other / "table.csv")
        if allowed:
            assert form.options()["data"] == str(other / "table.csv")
        else:
            with pytest.raises(AutomodelError, match="leads outside"):
                form.options()


# -- bad input, before any server starts ---------------------------------------------
def test_a_taken_port_is_refused_with_the_fix(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AutomodelError, match=f"Port {port} on 127.0.0.1 cannot be used.*--port"):
            choose_port("127.0.0.1", port)
        assert main(["ui", "--no-browser", "--port", str(port)]) == 2
    assert "leave --port out to take a free one" in capsys.readouterr().err


def test_an_address_of_another_machine_is_refused(capsys):
    assert main(["ui", "--no-browser", "--ip", "no-such-host.invalid"]) == 2
    assert "is not an address of this machine" in capsys.readouterr().err


def test_a_file_as_the_runs_folder_is_refused(tmp_path, capsys):
    (tmp_path / "runs").write_text("")
    assert main(["ui", "--no-browser", "--dir", str(tmp_path / "runs")]) == 2
    assert "is a file. Give a folder" in capsys.readouterr().err


# -- the real app in a real browser -----------------------------------------------
class App:
    """``automodel ui --no-browser`` in its own process group, as a user starts it."""

    def __init__(self, cwd, runs, *options, browser: str | None = None):
        """``browser``: a command to open the URL with (as $BROWSER); without one, ``--no-browser``."""
        env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
        if browser:
            env["BROWSER"] = browser
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "automodel.cli", "ui", *([] if browser else ["--no-browser"]), "--dir", str(runs), *options],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = wait_for(self._url, 90, "the printed URL")
        self.ready_seconds = time.monotonic() - self.started

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def _url(self):
        assert self.process.poll() is None, "\n".join(self.lines)
        return next((line.split()[-1] for line in self.lines if line.startswith("automodel ui: http")), None)

    def ctrl_c(self, timeout: float = 30) -> int:
        """Press Ctrl-C in the app's terminal (SIGINT to its process group); its exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"automodel ui still runs {timeout:.0f}s after Ctrl-C:\n" + "\n".join(self.lines)) from None
        self._reader.join(5)
        return code

    def stop(self) -> None:
        """What a failed test left running: the server's process group and its kernels."""
        try:
            kernels = [process.pid for process in self.processes()[1:]]
        except psutil.NoSuchProcess:
            kernels = []
        stop_group(self.process, grace=5, sig=signal.SIGKILL)
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]


@pytest.fixture()
def desktop(tmp_path):
    require_chromium()
    app = App(tmp_path, tmp_path / "runs")
    with browser_for(app, tmp_path / "chromium-profile") as browser:
        yield app, browser


def test_automodel_ui_search_export_and_stop_in_a_real_browser(desktop, tmp_path):
    app, browser = desktop
    assert app.url.startswith("http://127.0.0.1:") and "?token=" in app.url
    base = app.url.split("?")[0]
    with pytest.raises(urllib.error.HTTPError):  # no token, no app (a redirect to a login page)
        urllib.request.build_opener(NoRedirect).open(base, timeout=10)

    page = browser.new_page()
    try:
        page.goto(app.url)
        panel = page.locator(".automodel-app")
        panel.wait_for(timeout=90_000)
        print(f"ui: URL printed after {app.ready_seconds:.1f}s, panel shown after {time.monotonic() - app.started:.1f}s")
        assert panel.locator(".automodel-arch-cnn input").is_checked()
        data = panel.locator(".automodel-data select")
        data.select_option(label="a folder or CSV file...")  # the file browser starts where the app was launched
        panel.locator(".automodel-browse").wait_for()
        assert panel.locator(".automodel-browse select").first.inner_text().split() == [str(tmp_path)]  # its root
        data.select_option(index=0)
        panel.locator(".automodel-browse").wait_for(state="hidden")
        panel.locator(".automodel-arch-vgg16 input").uncheck()  # ImageNet weights are not at hand offline
        search_two_trials(panel)
        assert (tmp_path / "runs" / "digits" / "run.json").is_file()
        export_by_clicking(panel, tmp_path / "runs" / "exported-digits")
        screenshot(page, "desktop-app")

        page.locator(".automodel-tabs .lm-TabBar-tab", has_text="Runs").click()
        runs = page.locator(".automodel-run-browser")
        export = runs.locator("button.automodel-export")
        wait_for(lambda: export.is_enabled(), 30, "the chosen run's export button", page)
        assert runs.locator(".automodel-leaderboard tr.automodel-completed").count() == 2
        assert "digits" in runs.locator(".automodel-runs select").inner_text()
        assert runs.locator(".automodel-no-runs").inner_text() == ""
        screenshot(page, "desktop-app-runs")
    finally:
        page.context.close()
    assert browser.blocked == []  # nothing was fetched from the internet

    listening = {
        conn.laddr.ip
        for process in app.processes()
        for conn in process.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert listening == {"127.0.0.1"}

    kernels = [process.pid for process in app.processes()[1:]]
    assert kernels  # the app's kernel
    assert app.ctrl_c() == 0
    assert app.lines[-1] == "automodel ui: stopped."
    wait_for(lambda: not any(alive(pid) for pid in kernels), 30, "the kernels to stop")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_on_every_address_the_token_is_still_required_and_the_browser_opens_the_url(tmp_path):
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    browser.chmod(0o755)
    app = App(tmp_path, tmp_path / "runs", "--ip", "0.0.0.0", browser=f"{browser} %s")
    try:
        assert app.url.startswith(f"http://{socket.gethostname()}:") and "?token=" in app.url
        assert wait_for(lambda: opened.is_file() and opened.read_text().strip(), 30, "the browser") == app.url
        assert any("listening on 0.0.0.0" in line for line in app.lines)
        local = "http://127.0.0.1:" + app.url.split(":", 2)[2]
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.build_opener(NoRedirect).open(local.split("?")[0], timeout=10)
        with urllib.request.urlopen(local, timeout=60) as page:  # the token opens it
            assert page.status == 200 and b"<title>automodel</title>" in page.read()
        assert app.ctrl_c() == 0 and app.lines[-1] == "automodel ui: stopped."
    finally:
        app.stop()
