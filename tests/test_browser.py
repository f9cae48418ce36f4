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

CHROMIUM = Path("/usr/bin/chromium")
TUTORIAL = Path(__file__).parent.parent / "tutorials" / "notebook_search.ipynb"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
    "--window-size=1400,2000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name resolves: nothing leaves the machine
]
# JupyterLab user settings: no news toast over the page, no kernel dialog on opening
SETTINGS = {
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "docmanager-extension/plugin": {"autoStartDefaultKernel": True},
}


def _wait_for(condition, timeout: float, what: str, page=None):
    """Poll ``condition``; with a ``page``, wait through Playwright so its route handler keeps running."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


def _stop_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``process`` (started with start_new_session), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (the server's kernels run in sessions of their own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


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
        _wait_for(lambda: info.is_file() or self.process.poll() is not None, 60, "the server to start")
        assert self.process.poll() is None, (home / "server.log").read_text()[-3000:]
        self.url = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
        _wait_for(self._ready, 60, "the server to answer")

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
        kernels = _children(self.process.pid)
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
        _stop_group(self.process)
        self.log.close()


class Browser:
    """Debian's Chromium in its own process group, driven by Playwright over CDP."""

    def __init__(self, profile: Path):
        from playwright.sync_api import sync_playwright

        self.process = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        _wait_for(lambda: port_file.is_file() and port_file.read_text().strip(), 60, "Chromium's DevTools port")
        port = port_file.read_text().split()[0]
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")

    def new_page(self):
        context = self.browser.new_context(viewport={"width": 1400, "height": 2000})
        context.route("**/*", _local_only)
        return context.new_page()

    def stop(self) -> None:
        try:
            self.browser.close()
            self.playwright.stop()
        finally:
            _stop_group(self.process, grace=5)


def _local_only(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing, so the browser tests cannot run. Install Debian's Chromium "
            "(apt-get install -y chromium); ./scripts/test does this by itself."
        )
    root = tmp_path_factory.mktemp("notebooks")
    home = tmp_path_factory.mktemp("jupyter-home")
    server = Server(root, home)
    browser = None
    try:
        browser = Browser(home / "chromium-profile")
        yield server, browser
    finally:
        if browser is not None:
            browser.stop()
        server.stop()


def _open_and_run(page, server: Server, url_path: str, name: str):
    """Open notebook ``name``, run all its cells, and return the panel's locator."""
    page.goto(f"{server.url}{url_path}/{name}?reset&token={server.token}")
    if url_path.startswith("/lab"):  # the workspace may restore other tabs: wait for ours
        tab = page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel", has_text=Path(name).name)
        tab.wait_for(timeout=60_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    # Running cells before the kernel is up opens a "Select Kernel" dialog instead.
    _wait_for(lambda: server.kernel_state(name) == "idle", 90, "the notebook's kernel", page)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    started = time.monotonic()
    panel = page.locator(".automodel-app")
    panel.wait_for(timeout=90_000)
    print(f"{url_path}: panel shown {time.monotonic() - started:.2f}s after Run All")  # for the README
    return panel


def _set_number(panel, css: str, value: int) -> None:
    field = panel.locator(f".{css} input")
    field.fill(str(value))
    field.press("Enter")


def _search_two_trials(panel):
    """Set a small budget in the panel, press Start, and wait for the filled leaderboard."""
    panel.locator(".automodel-tuner select").select_option(label="Random search")
    _set_number(panel, "automodel-max-trials", 2)
    _set_number(panel, "automodel-epochs", 2)
    panel.locator("button.automodel-start").click()
    rows = panel.locator(".automodel-leaderboard tr.automodel-row.automodel-completed")
    _wait_for(lambda: rows.count() >= 2, 240, "2 completed rows on the leaderboard", panel.page)
    panel.locator(".automodel-notice-success").first.wait_for(timeout=60_000)
    assert rows.count() == 2
    assert "finished · 2 trials (2 completed)" in panel.locator(".automodel-status").inner_text()


def _screenshot(panel, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    panel.screenshot(path=str(path))
    return path


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
        _search_two_trials(panel)
        assert panel.locator(".automodel-curves").is_visible()

        panel.locator(".automodel-format-saved_model input").uncheck()  # .keras and TensorFlow Lite
        panel.locator(".automodel-export-folder input").fill("exported-digits")
        panel.locator(".automodel-export-folder input").press("Enter")
        panel.locator("button.automodel-export").click()
        listing = panel.locator(".automodel-export-listing li.automodel-file")
        errors = panel.locator(".automodel-notice-error")
        _wait_for(lambda: listing.count() > 0 or errors.count() > 0, 240, "the export", panel.page)
        assert errors.count() == 0, errors.all_inner_texts()
        exported = folder / "exported-digits"
        written = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
        assert {"model.keras", "model.tflite", "model_card.json"} <= set(written), written
        assert not any(p.startswith("saved_model") for p in written)
        shown = listing.all_inner_texts()
        assert len(shown) == len(written) and all(any(w in s for s in shown) for w in written)
        assert _screenshot(panel, "jupyterlab-panel").stat().st_size > 10_000


def test_search_in_notebook_7(jupyter):
    with _tutorial_panel(jupyter, "notebook7", "/notebooks") as (panel, folder):
        _search_two_trials(panel)
        assert (folder / "automodel-runs" / "digits" / "run.json").is_file()
        _screenshot(panel, "notebook7-panel")
