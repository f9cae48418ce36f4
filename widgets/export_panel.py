"""Export a trained model from the panel: formats, a folder, and what was written.

The work is ``SearchResult.export`` (automodel's exporter, which checks each
artifact in its own runtime); the panel collects the choices, runs it in the
background, and shows the verification of each format from the returned model
card and the files in the target folder. The verification samples (real test
rows) are written beside the model only when "Include samples" is ticked, as
``include_samples`` has it; with a ``root`` (the desktop app's) the folder must
lead inside it. Runtimes such as TensorFlow Lite log
to file descriptor 2 from native code, which a notebook would show in a cell,
so the export runs with it silenced.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

import automodel
from automodel import AutomodelError, SearchError
from automodel.export import DEFAULT_FORMATS, FORMATS
from automodel.startup import load_tensorflow, quiet_native_stderr

from .notice import Notice
from .rooted import Root
from .worker import Job

LABELS = {
    "keras": ".keras file",
    "saved_model": "TensorFlow SavedModel",
    "tflite": "TensorFlow Lite",
    "onnx": "ONNX, needs the onnx extra",
}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _verification(name: str, outcome: dict) -> str:
    if outcome.get("status") == "verified":
        return (f"<b>{html.escape(name)}</b>: <code>{html.escape(str(outcome.get('path', '')))}</code>, checked with "
                f"{html.escape(str(outcome.get('runtime', '')))} (largest difference {outcome.get('max_abs_diff', 0):.2g})")
    return f"<b>{html.escape(name)}</b>: {html.escape(str(outcome.get('status')))}: {html.escape(str(outcome.get('reason', '')))}"


def listing_html(folder: Path, files: list[Path], card: dict | None) -> str:
    """The formats as verified (from the model card), then every file written."""
    card = card if isinstance(card, dict) else {}
    checks = "".join(f"<li>{_verification(n, o)}</li>" for n, o in (card.get("formats") or {}).items())
    test = (card.get("metrics") or {}).get("test") or {}
    scores = ", ".join(f"{k} {v:.4g}" for k, v in test.items())
    files_html = "".join(
        f'<li class="automodel-file"><code>{html.escape(f.relative_to(folder).as_posix())}</code> '
        f"({_size(f.stat().st_size)})</li>"
        for f in files
    )
    return (
        (f"<div>Trial {html.escape(str(card.get('trial')))} on the test split: {scores}</div>" if scores else "")
        + (f"<ul>{checks}</ul>" if checks else "")
        + f"<div>Written to <code>{html.escape(str(folder.resolve()))}</code>:</div><ul>{files_html}</ul>"
    )


class ExportPanel(widgets.VBox):
    """Formats, folder, overwrite, sample files, the Export button, and the files written."""

    def __init__(self, folder: str = "exported-model", root=None, **kwargs):
        self.root = Root(root)
        self.formats = {
            name: widgets.Checkbox(
                value=name in DEFAULT_FORMATS, indent=False, layout={"width": "auto"},
                description=f"{name} ({LABELS[name]})" if name in LABELS else name,
            )
            for name in FORMATS
        }
        self.folder = widgets.Text(description="Folder", value=folder, layout={"width": "420px"})
        self.overwrite = widgets.Checkbox(description="Replace the folder if it exists", value=False, indent=False)
        self.samples = widgets.Checkbox(description="Include samples (test rows it was verified on)", value=False,
                                        indent=False)
        self.button = widgets.Button(description="Export", icon="download", button_style="primary", disabled=True)
        self.listing = widgets.HTML()
        self.notice = Notice()
        for name, box in self.formats.items():
            box.add_class(f"automodel-format-{name}")
        for widget, name in ((self.folder, "export-folder"), (self.button, "export"), (self.listing, "export-listing"),
                             (self.samples, "include-samples")):
            widget.add_class(f"automodel-{name}")
        super().__init__(
            [
                widgets.HTML("<b>Export</b>"),
                widgets.HBox(list(self.formats.values()), layout={"flex_flow": "row wrap"}),
                widgets.HBox([self.folder, self.overwrite, self.samples]),
                self.button,
                self.notice,
                self.listing,
            ],
            **kwargs,
        )
        self.add_class("automodel-export-panel")
        self.job: Job | None = None
        self.written: list[Path] = []  # the files of the last export, for code that drives the panel
        self.card: dict | None = None  # the model card the last export returned

    def chosen_formats(self) -> tuple[str, ...]:
        return tuple(name for name, box in self.formats.items() if box.value)

    def export(self, run_dir, trial: str | None = None) -> Job:
        """Export ``trial`` (default: the best) of ``run_dir`` in the background."""
        formats = self.chosen_formats()
        overwrite, include_samples = self.overwrite.value, self.samples.value
        self.listing.value = ""
        self.written, self.card = [], None
        if not formats:
            self.notice.error(SearchError("No format is ticked. Tick at least one export format."))
            return None
        try:
            folder = self.root.check(self.folder.value.strip() or "exported-model", "The export folder")
        except AutomodelError as exc:
            self.notice.error(exc)
            return None
        self.button.disabled = True
        self.notice.show(f"Exporting {'the best model' if trial is None else 'the ensemble' if trial == 'ensemble' else f'trial {trial}'} as {', '.join(formats)}...")

        def work():
            load_tensorflow()
            with quiet_native_stderr():
                return automodel.open_run(run_dir).export(folder, formats=formats, trial=trial, overwrite=overwrite,
                                                          include_samples=include_samples)

        def done(error):
            self.button.disabled = False
            if error is not None:
                self.notice.error(error, self.job.trace)
                return
            self.card = self.job.value
            self.written = sorted(p for p in folder.rglob("*") if p.is_file())
            self.listing.value = listing_html(folder, self.written, self.card)
            self.notice.show(f"Exported to {folder}: {len(self.written)} files.", "success")

        self.job = Job(work, done, name="automodel-export")
        return self.job.start()

    def export_chosen(self, board) -> Job | None:
        """Export the trial chosen in the leaderboard ``board`` (default: the best) of the run it shows."""
        if board.run_dir is None:
            return None
        return self.export(board.run_dir, board.trial.value)

    def wait(self, timeout: float | None = None) -> bool:
        return self.job is None or self.job.join(timeout)
