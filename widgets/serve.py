"""``automodel ui``: the search panel as a local web app, served by Voilà.

Voilà runs a generated one-cell notebook (``DesktopApp`` over the runs folder)
in a kernel of its own and shows only its output, so the user sees an app, not
a notebook. The template is Voilà's ``lab`` template without its links to a
CDN (Font Awesome, Mermaid): the icons come from Voilà's own bundle, so the app
looks the same offline. The server listens on 127.0.0.1 unless ``ip`` says
otherwise, and always asks for a token, which is printed with the URL.

Whoever has the URL chooses paths on this machine, so the app reaches one root
folder only (``--root``, default: the folder it was started in): the runs folder
must lie inside it, and the panel refuses every path from the page that leads
outside it (``rooted.Root``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import tempfile
import threading
import time
import webbrowser
from pathlib import Path

import nbformat

from automodel import AutomodelError, settings
from automodel.addresses import EVERY_INTERFACE, is_loopback, probe_port, reachable_name

from .rooted import Root

LOCALHOST = "127.0.0.1"
TEMPLATES = Path(__file__).parent / "share"  # holds voila/templates/automodel


def app_notebook(directory: Path, browse_from: Path, root: Path) -> nbformat.NotebookNode:
    """The notebook Voilà runs: the desktop panel, with runs and exports under ``directory``, paths inside ``root``."""
    source = (
        "import os\n"
        f"os.chdir({str(directory)!r})  # runs and exports land in the runs folder\n"
        "from automodel.widgets import DesktopApp\n"
        f"DesktopApp({str(directory)!r}, browse_from={str(browse_from)!r}, root={str(root)!r})"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def choose_port(ip: str, port: int | None) -> int:
    """``port`` if it is free on ``ip`` (a free one if None); an automodel error if it cannot be had."""
    try:
        return probe_port(ip, port or 0)
    except socket.gaierror as exc:
        raise AutomodelError(f"--ip {ip!r} is not an address of this machine ({exc.strerror}).") from None
    except OSError as exc:
        raise AutomodelError(
            f"Port {port} on {ip or 'all addresses'} cannot be used ({exc.strerror}). "
            "Choose another with --port, or leave --port out to take a free one."
        ) from None


def app_url(ip: str, port: int, token: str) -> str:
    host = reachable_name(ip)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/?token={token}"


def _when_listening(ip: str, port: int, then, timeout: float = 120.0) -> None:
    """Call ``then()`` once the server accepts connections (from a thread of its own)."""
    address = LOCALHOST if ip in EVERY_INTERFACE else ip

    def wait():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((address, port), timeout=1).close()
            except OSError:
                time.sleep(0.1)
                continue
            then()
            return

    threading.Thread(target=wait, name="automodel-ui-ready", daemon=True).start()


def _stop_serving(signum, frame) -> None:
    """Ctrl-C: end Voilà's event loop, after which Voilà shuts its kernels down.

    Without this, Ctrl-C raises KeyboardInterrupt wherever the loop happens to be
    and the shutdown that follows runs on an interrupted loop; a second Ctrl-C
    interrupts for good.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    loop = asyncio.get_event_loop()
    loop.call_soon_threadsafe(loop.stop)


def app_folders(directory=None, root=None) -> tuple[Path, Path, Path]:
    """The runs folder, the root and where the file browser starts, each checked (``--dir``, ``--root``)."""
    root = Path(root or Path.cwd()).expanduser().resolve()
    if not root.is_dir():
        raise AutomodelError(f"--root {root} is not a folder. Give the folder the app may reach.")
    directory = (root / settings.DEFAULTS["directory"]) if directory is None else Path(directory).expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise AutomodelError(f"--dir {directory} is a file. Give a folder for runs and exports.")
    if not Root(root).holds(directory):
        raise AutomodelError(f"--dir {directory} is outside --root {root}, the folder the app may reach. "
                             "Give a --dir inside it, or another --root.")
    return directory, root, Path(Root(root).start(Path.cwd()))


def serve(directory=None, *, root=None, port: int | None = None, ip: str = LOCALHOST, open_browser: bool = True,
          announce=print) -> None:
    """Serve the desktop app until Ctrl-C (or SIGTERM); kernels are shut down on the way out.

    ``directory`` holds the runs (default: ``automodel-runs`` in the root); ``root``
    is the one folder the app reaches (default: the current folder).
    """
    from voila.app import Voila

    directory, root, browse_from = app_folders(directory, root)
    port = choose_port(ip, port)
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    url = app_url(ip, port, token)
    local = is_loopback(ip)

    def ready():
        announce(f"automodel ui: {url}")
        if not local:
            announce(f"automodel ui: listening on {ip or 'all addresses'}; anyone with the URL above can use the app.")
        announce("automodel ui: press Ctrl-C to stop.")
        if open_browser:
            webbrowser.open(url)

    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES), os.environ.get("JUPYTER_PATH")]))
    with tempfile.TemporaryDirectory(prefix="automodel-ui-") as home:
        notebook = Path(home) / "automodel.ipynb"  # the page title is the notebook's name
        nbformat.write(app_notebook(directory, browse_from, root), notebook)
        _when_listening(ip, port, ready)
        app = Voila.instance()
        app.initialize(argv=[
            str(notebook), f"--Voila.ip={ip}", f"--Voila.port={port}", "--Voila.port_retries=0",
            f"--Voila.token={token}", "--Voila.open_browser=False",
            "--Voila.log_level=ERROR",  # not "the notebook is not trusted": it is generated here
            "--Voila.tornado_settings=ws_ping_timeout=30000",  # within the ping interval, as tornado wants
            "--VoilaConfiguration.template=automodel",
            # only the widget extensions: the page needs nothing else, and other JupyterLab extensions
            # installed beside Voilà may be built for another JupyterLab and fail to load in its page
            "--VoilaConfiguration.extension_allowlist=@voila-dashboards/widgets-manager8",
            "--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager",
            "--KernelManager.transport=ipc",  # the kernel talks over local files, not TCP ports
            f"--VoilaConfiguration.show_tracebacks={local}",  # a remote visitor sees no code paths
        ])
        signal.signal(signal.SIGINT, _stop_serving)
        app.start()
    announce("automodel ui: stopped.")
