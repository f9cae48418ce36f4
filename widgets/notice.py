"""One line of feedback in a panel: what happened, or what went wrong and how to fix it.

automodel's own errors already name the problem and the fix, so they are shown
as they are. Anything else is a bug somewhere; it is shown with its type and
message, and the traceback folded away below, never lost in a thread.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from automodel import AutomodelError

KINDS = ("info", "success", "error")
COLOURS = {"info": "#333", "success": "#1b5e20", "error": "#b00020"}


def describe(error: BaseException) -> str:
    """The readable one-liner for ``error``."""
    if isinstance(error, AutomodelError):
        return str(error)
    return f"Unexpected {type(error).__name__}: {error}"


class Notice(widgets.HTML):
    """An HTML line with a kind (info, success, error) as CSS class and colour."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_class("automodel-notice")
        self.kind = None
        self.text = ""

    def show(self, text: str, kind: str = "info", details: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.kind:
            self.remove_class(f"automodel-notice-{self.kind}")
        self.kind, self.text = kind, text
        self.add_class(f"automodel-notice-{kind}")
        body = f'<div style="color:{COLOURS[kind]};white-space:pre-wrap">{html.escape(text)}</div>'
        if details:
            body += f"<details><summary>details</summary><pre>{html.escape(details)}</pre></details>"
        self.value = body

    def error(self, error: BaseException, trace: str = "") -> None:
        """Show ``error``; the traceback only when it is not one of automodel's own."""
        self.show(describe(error), "error", "" if isinstance(error, AutomodelError) else trace)

    def clear(self) -> None:
        if self.kind:
            self.remove_class(f"automodel-notice-{self.kind}")
        self.kind, self.text, self.value = None, "", ""
