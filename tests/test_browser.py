"""The tutorial notebook in a real JupyterLab (and Notebook 7), driven in Debian's Chromium.

One Jupyter server on 127.0.0.1 with a token, in its own process group; one
Chromium, started here in its own process group with the network switched off
and driven by Playwright over the DevTools protocol. Each test opens its own
copy of the tutorial (its own kernel), runs it, presses Start, waits for the
leaderboard, and the JupyterLab test exports the best model and checks the
files on disk. Screenshots go to tests/artifacts/, which pytest leaves alone.
Server, kernels and browser are stopped by their process ids at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_tools import (
    ARTIFACTS, browser_for, children, export_by_clicking, require_chromium, screenshot, search_two_trials, stop_group, wait_for,
)

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "01_quick_start.ipynb"
# JupyterLab user settings: no news toast over the page, no kernel dialog on opening
SETTINGS = {
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "docmanager-extension/plugin": {"autoStartDefaultKernel": True},
}


class Server:
    """A Jupyter server (JupyterLab and Notebook 7) serving ``root``."""

    def __init__(self, root: Path, home: Path):
        self.root, self.token = root, secrets.token_hex(16)
        # as a user's server starts (under pytest, ipykernel would not forward native output)
        env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
            env[name] = str(home / sub)
            (home / sub).mkdir(parents=True, exist_ok=True)
        for name, values in SETTINGS.items():
            path = home / "config" / "lab" / "user-settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.runtime = home / "runtime"
        self.log = open(home / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--ServerApp.port=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.workspaces_dir={home / 'workspaces'}", "--allow-root"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        info = self.runtime / f"jpserver-{self.process.pid}.json"
        wait_for(lambda: info.is_file() or self.process.poll() is not None, 60, "the server to start")
        assert self.process.poll() is None, (home / "server.log").read_text()[-3000:]
        self.url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
        wait_for(self._ready, 60, "the server to answer")

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_state(self, notebook: str) -> str | None:
        for session in self.api("/api/sessions"):
            if session["path"] == notebook and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def _ready(self) -> bool:
        try:
            return self.api("/api/status") is not None
        except OSError:
            return False

    def stop(self) -> None:
        kernels = children(self.process.pid)
        try:
            for session in self.api("/api/sessions"):
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
        except OSError:
            pass
        for pid in kernels:  # whatever the DELETE left running
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop_group(self.process)
        self.log.close()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("notebooks")
    home = tmp_path_factory.mktemp("jupyter-home")
    server = Server(root, home)
    with browser_for(server, home / "chromium-profile") as browser:
        yield server, browser


def _open_and_run(page, server: Server, url_path: str, name: str):
    """Open notebook ``name``, run all its cells, and return the panel's locator."""
    page.goto(f"{server.url}{url_path}/{name}?reset&token={server.token}")
    if url_path.startswith("/lab"):  # the workspace may restore other tabs: wait for ours
        tab = page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel", has_text=Path(name).name)
        tab.wait_for(timeout=60_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    # Running cells before the kernel is up opens a "Select Kernel" dialog instead.
    wait_for(lambda: server.kernel_state(name) == "idle", 90, "the notebook's kernel", page)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    started = time.monotonic()
    panel = page.locator(".automodel-app")
    panel.wait_for(timeout=90_000)
    print(f"{url_path}: panel shown {time.monotonic() - started:.2f}s after Run All")  # for the README
    return panel


@contextlib.contextmanager
def _tutorial_panel(jupyter, folder: str, url_path: str):
    """The tutorial opened and run in its own folder; a screenshot of the page if the block fails."""
    server, browser = jupyter
    (server.root / folder).mkdir()
    shutil.copy(TUTORIAL, server.root / folder / TUTORIAL.name)
    page = browser.new_page()
    try:
        yield _open_and_run(page, server, url_path, f"{folder}/{TUTORIAL.name}"), server.root / folder
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{folder}-failure.png"))
        raise
    finally:
        page.context.close()


def test_search_and_export_in_jupyterlab(jupyter):
    with _tutorial_panel(jupyter, "jupyterlab", "/lab/tree") as (panel, folder):
        assert panel.locator(".automodel-arch-cnn input").is_checked()
        search_two_trials(panel)
        assert panel.locator(".automodel-curves").is_visible()

        export_by_clicking(panel, folder / "exported-digits")
        assert screenshot(panel, "jupyterlab-panel").stat().st_size > 10_000


def test_search_in_notebook_7(jupyter):
    with _tutorial_panel(jupyter, "notebook7", "/notebooks") as (panel, folder):
        search_two_trials(panel)
        assert (folder / "automodel-runs" / "digits" / "run.json").is_file()
        screenshot(panel, "notebook7-panel")
