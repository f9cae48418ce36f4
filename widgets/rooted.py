"""The desktop app's reach: one root folder, and nothing outside it.

``automodel ui`` serves the panel to whoever has its URL (on another machine
with ``--ip``), and every path that comes from the page is theirs to choose: the
data typed or clicked in the file browser, the run directory and run name, an
export folder. ``Root`` resolves each with ``os.path.realpath``, so that ``..``
and symbolic links count where they lead, and refuses any that leads outside the
root folder with an error naming the root and ``--root``. ``RootedChooser`` is
the file browser that opens no folder outside the root and offers no parent
above it. In a notebook the panel has no root (``Root(None)``): it reaches what
its kernel reaches, as any code in the notebook does.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from ipyfilechooser import FileChooser

from automodel import AutomodelError


class Root:
    """The folder the app may reach; ``None``: anywhere."""

    def __init__(self, folder=None):
        self.folder = None if folder is None else os.path.realpath(os.path.expanduser(folder))

    def holds(self, path) -> bool:
        """Whether ``path`` (relative to the current folder) leads to the root or below it."""
        if self.folder is None:
            return True
        real = os.path.realpath(os.path.expanduser(path))
        return os.path.commonpath([real, self.folder]) == self.folder

    def refusal(self, path, what: str) -> AutomodelError:
        """The error for ``what`` (``path``, if given: not where a link leads, which is outside) leading out."""
        named = what if path is None else f"{what} {path}"
        return AutomodelError(
            f"{named} leads outside {self.folder}, the folder this app may reach. Choose a path inside it, "
            "or start the app with automodel ui --root FOLDER to let it reach another folder."
        )

    def check(self, path, what: str) -> Path:
        """``path`` (user-expanded) if the root holds it; else the refusal, as an ``AutomodelError``."""
        path = Path(path).expanduser()
        if not self.holds(path):
            raise self.refusal(path, what)
        return path

    def start(self, folder) -> str:
        """Where a file browser opens: ``folder`` if the root holds it, else the root."""
        return str(Path(folder).expanduser()) if self.holds(folder) else self.folder


class RootedChooser(FileChooser):
    """An ``ipyfilechooser.FileChooser`` kept inside ``root``.

    A folder outside it (a link that leads out, a parent in the path list) is
    not opened, and a chosen file or folder outside it is not chosen: the
    refusal (``refused``) is shown in the chooser's label instead. The path list
    offers no parent above the root, and the root's listing no ``..``.
    """

    def __init__(self, root: Root, **kwargs):
        self.root = root
        self.refused = ""
        super().__init__(**kwargs)

    def refuse(self, error: AutomodelError) -> None:
        self.refused = str(error)
        self._label.value = self._LBL_TEMPLATE.format(html.escape(self.refused), "#b00020")

    def _set_form_values(self, path: str, filename: str) -> None:
        if not self.root.holds(path):
            self.refuse(self.root.refusal(None, "That folder"))  # path is where a link led: not shown
            shown = self._pathlist.value and self._expand_path(self._pathlist.value)
            path = shown if shown and self.root.holds(shown) else self.root.folder
        super()._set_form_values(path, filename)
        if self.root.folder is not None:
            self._trim(path)

    def _trim(self, path: str) -> None:
        """Drop the path list's parents above the root, and ``..`` from the root's own listing."""
        self._pathlist.unobserve(self._on_pathlist_select, names="value")
        self._dircontent.unobserve(self._on_dircontent_select, names="value")
        try:
            shown = self._pathlist.value
            self._pathlist.options = [p for p in self._pathlist.options if self.root.holds(p)]
            self._pathlist.value = shown
            up = self._map_name_to_disp.get(os.pardir)
            if up is not None and not self.root.holds(os.path.join(path, os.pardir)):
                chosen = self._dircontent.value
                self._dircontent.options = [name for name in self._dircontent.options if name != up]
                self._dircontent.value = chosen
        finally:
            self._pathlist.observe(self._on_pathlist_select, names="value")
            self._dircontent.observe(self._on_dircontent_select, names="value")

    def _apply_selection(self) -> None:
        super()._apply_selection()
        if self.selected and not self.root.holds(self.selected):
            self.refuse(self.root.refusal(self.selected, "The choice"))
            self._selected_path = self._selected_filename = None
