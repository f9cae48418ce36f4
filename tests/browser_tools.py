"""What the real-browser tests share: Debian's Chromium driven by Playwright, and process care.

Chromium runs in its own process group with the network switched off and is
driven over the DevTools protocol; every page aborts requests that would leave
127.0.0.1 and records them, so a test can assert that an app loads nothing from
the internet. Servers are stopped by process group, their kernels by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
    "--window-size=1400,2000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name resolves: nothing leaves the machine
]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing, so the browser tests cannot run. Install Debian's Chromium "
            "(apt-get install -y chromium); ./scripts/test does this by itself."
        )


def wait_for(condition, timeout: float, what: str, page=None):
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


def stop_group(process: subprocess.Popen, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the process group of ``process`` (started with start_new_session), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (a server's kernels run in sessions of their own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Browser:
    """Debian's Chromium in its own process group, driven by Playwright over CDP."""

    def __init__(self, profile: Path):
        from playwright.sync_api import sync_playwright

        self.process = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.is_file() and port_file.read_text().strip(), 60, "Chromium's DevTools port")
        port = port_file.read_text().split()[0]
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        self.blocked: list[str] = []  # requests that tried to leave the machine

    def new_page(self):
        context = self.browser.new_context(viewport={"width": 1400, "height": 2000})
        context.route("**/*", self._local_only)
        return context.new_page()

    def _local_only(self, route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def stop(self) -> None:
        try:
            self.browser.close()
            self.playwright.stop()
        finally:
            stop_group(self.process, grace=5)


def _set_number(panel, css: str, value: int) -> None:
    field = panel.locator(f".{css} input")
    field.fill(str(value))
    field.press("Enter")


def search_two_trials(panel):
    """Set a small budget in the panel, press Start, and wait for the filled leaderboard."""
    panel.locator(".automodel-tuner select").select_option(label="Random search")
    _set_number(panel, "automodel-max-trials", 2)
    _set_number(panel, "automodel-epochs", 2)
    panel.locator("button.automodel-start").click()
    rows = panel.locator(".automodel-leaderboard tr.automodel-row.automodel-completed")
    wait_for(lambda: rows.count() >= 2, 240, "2 completed rows on the leaderboard", panel.page)
    panel.locator(".automodel-notice-success").first.wait_for(timeout=60_000)
    assert rows.count() == 2
    assert "finished · 2 trials (2 completed)" in panel.locator(".automodel-status").inner_text()
@contextlib.contextmanager
def browser_for(server, profile: Path):
    """A Chromium to test ``server`` with; on the way out both stop (``server.stop()``), whatever happened."""
    browser = None
    try:
        browser = Browser(profile)
        yield browser
    finally:
        if browser is not None:
            browser.stop()
        server.stop()


def export_by_clicking(panel, exported: Path) -> list[str]:
    """Export as .keras and TensorFlow Lite to ``exported`` with the panel; the files written."""
    panel.locator(".automodel-format-saved_model input").uncheck()
    panel.locator(".automodel-export-folder input").fill(str(exported))
    panel.locator(".automodel-export-folder input").press("Enter")
    panel.locator("button.automodel-export").click()
    listing = panel.locator(".automodel-export-listing li.automodel-file")
    errors = panel.locator(".automodel-notice-error")
    wait_for(lambda: listing.count() > 0 or errors.count() > 0, 240, "the export", panel.page)
    assert errors.count() == 0, errors.all_inner_texts()
    written = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    assert {"model.keras", "model.tflite", "model_card.json"} <= set(written), written
    assert not any(p.startswith("saved_model") for p in written)
    shown = listing.all_inner_texts()
    assert len(shown) == len(written) and all(any(w in s for s in shown) for w in written)
    return written


def screenshot(target, name: str) -> Path:
    """A screenshot of a page or locator in tests/artifacts/, which pytest leaves alone."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path
