"""The search settings as controls, turned into ``automodel.search`` arguments.

Tasks, demo data sets and architectures come from the registry, so an
installed third-party plugin appears as one more checkbox with its description.
Data can be a built-in data set, an object from the notebook (``(x, y)``
arrays, a DataFrame: whatever ``automodel.search`` accepts as ``data``), or a
path: a folder of images in class sub-folders (``automodel.data.image_folder``)
or a CSV / .npz file, typed or chosen with a file browser (``ipyfilechooser``)
that starts in ``browse_from``. A table names its target column. With a ``root``
(the desktop app's), every path the form takes (data, run directory) must lead
inside it (``rooted.Root``). What the form can check without TensorFlow it
checks here; the rest is checked by ``search`` itself, before any training.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

import automodel
from automodel import DataError, SearchError, settings
from automodel.data import image_folder

from .rooted import Root, RootedChooser

TUNER_CHOICES = tuple((label, name) for name, (label, _) in settings.TUNERS.items())
PATH = "path:"
TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz")
STYLE = {"description_width": "110px"}
WIDE = {"width": "430px"}


def _notebook_sources(data) -> dict:
    """``data`` as passed to the panel: a dict of named data, or one unnamed object."""
    if data is None:
        return {}
    if isinstance(data, dict):
        return {str(name): value for name, value in data.items()}
    return {"notebook data": data}


class SearchForm(widgets.VBox):
    """Task, data, architectures, tuner, budget and run directory of one search."""

    def __init__(
        self,
        data=None,
        *,
        task: str | None = None,
        dataset: str | None = None,
        architectures: list[str] | None = None,
        tuner: str = settings.DEFAULTS["tuner"],
        max_trials: int = settings.DEFAULTS["max_trials"],
        epochs: int = settings.DEFAULTS["epochs"],
        time_budget=None,
        directory=settings.DEFAULTS["directory"],
        name: str | None = None,
        browse_from=None,
        root=None,
    ):
        self.root = Root(root)
        self.notebook_data = _notebook_sources(data)
        self.tasks = automodel.get_tasks()  # a broken plugin raises here, shown by the panel
        self.datasets = automodel.get_datasets()
        self._check_presets(task, dataset, architectures, tuner)
        self._wanted_architectures = architectures
        self.architecture_boxes: dict[str, widgets.Checkbox] = {}
        self.architecture_list = widgets.VBox()
        self._data_widgets(task, dataset, browse_from)
        self._search_widgets(tuner, max_trials, epochs, time_budget, directory, name)
        super().__init__([self._layout()])
        self.task.observe(lambda _: self._task_changed(), "value")
        self.data.observe(lambda _: self._data_changed(), "value")
        self._task_changed(dataset)

    def _data_widgets(self, task, dataset, browse_from) -> None:
        """What to learn: the task, and the data (a built-in set, the notebook's, or a path) with its options."""
        self.task = widgets.Dropdown(
            description="Task",
            options=[(t.name, t.name) for t in self.tasks.values()],
            value=task or self._default_task(dataset),
            style=STYLE,
            layout=WIDE,
        )
        self.data = widgets.Dropdown(description="Data", style=STYLE, layout=WIDE)
        self.path = widgets.Text(
            description="Path", placeholder="folder of images (a sub-folder per class), .csv or .npz",
            style=STYLE, layout={**WIDE, "display": "none"},
        )
        self.browse = RootedChooser(
            self.root, path=self.root.start(browse_from or Path.cwd()), select_desc="Choose",
            change_desc="Choose another",
            title="A folder of images (open it, then Choose) or a .csv / .npz file",
            filter_pattern=[f"*{suffix}" for suffix in (*TABLE_SUFFIXES, ".npz")], layout={**WIDE, "display": "none"},
        )
        self.browse.register_callback(self._path_chosen)
        self.target = widgets.Text(
            description="Target column", placeholder="the column to predict (tables)", style=STYLE,
            layout={**WIDE, "display": "none"},
        )
        self.image_size = widgets.Text(
            description="Image size", placeholder="e.g. 64x64 (folders of mixed sizes)", style=STYLE,
            layout={**WIDE, "display": "none"},
        )

    def _search_widgets(self, tuner, max_trials, epochs, time_budget, directory, name) -> None:
        """How to search, and where the run directory goes."""
        self.tuner = widgets.Dropdown(description="Tuner", options=TUNER_CHOICES, value=tuner, style=STYLE, layout=WIDE)
        # 0 is automodel.search's None: trials until the time budget is spent, epochs from the data size
        self.max_trials = widgets.BoundedIntText(description="Max trials (0: auto)", value=max_trials or 0, min=0, max=100_000, style=STYLE, layout=WIDE)
        self.epochs = widgets.BoundedIntText(description="Epochs / trial (0: auto)", value=epochs or 0, min=0, max=100_000, style=STYLE, layout=WIDE)
        self.time_budget = widgets.Text(
            description="Time budget", value="" if time_budget is None else str(time_budget),
            placeholder="e.g. 90s, 15m, 2h (empty: no limit)", style=STYLE, layout=WIDE,
        )
        self.directory = widgets.Text(description="Directory", value=str(directory), style=STYLE, layout=WIDE)
        self.name = widgets.Text(description="Run name", value=name or "", placeholder="(the data's name)", style=STYLE, layout=WIDE)
        self.overwrite = widgets.Checkbox(description="Start over (delete that run's trials)", value=False, indent=False)

    def _layout(self) -> widgets.HBox:
        """The settings beside the architectures, each widget with a CSS class the browser tests find it by."""
        for widget, css in (
            (self.task, "task"), (self.data, "data"), (self.path, "path"), (self.browse, "browse"), (self.target, "target"),
            (self.image_size, "image-size"), (self.tuner, "tuner"),
            (self.max_trials, "max-trials"), (self.epochs, "epochs"), (self.time_budget, "time-budget"),
            (self.directory, "directory"), (self.name, "name"), (self.overwrite, "overwrite"),
            (self.architecture_list, "architectures"),
        ):
            widget.add_class(f"automodel-{css}")
        form = widgets.VBox(
            [self.task, self.data, self.path, self.browse, self.target, self.image_size, self.tuner, self.max_trials,
             self.epochs, self.time_budget, self.directory, self.name, self.overwrite],
            layout={"min_width": "440px", "overflow": "visible"},
        )
        architectures_box = widgets.VBox([widgets.HTML("<b>Architectures to try</b>"), self.architecture_list])
        return widgets.HBox([form, architectures_box], layout={"grid_gap": "24px", "overflow": "visible"})

    def _check_presets(self, task, dataset, architectures, tuner) -> None:
        if task is not None:
            automodel.get_task(task)  # names the known tasks
        if dataset is not None and dataset not in self.datasets:
            raise DataError(f"Unknown data set {dataset!r}. Built-in data sets: {', '.join(sorted(self.datasets))}.")
        for name in architectures or ():
            automodel.get_architecture(name)  # names the installed ones
        settings.check_tuner(tuner)

    def _default_task(self, dataset: str | None) -> str:
        if dataset in self.datasets:
            return self.datasets[dataset].tasks[0]
        if not self.notebook_data and self.datasets:
            return next(iter(self.datasets.values())).tasks[0]
        return next(iter(self.tasks))

    def _task_changed(self, dataset: str | None = None) -> None:
        task = self.task.value
        choices = [
            (f"{d.name}: {d.description}" if d.description else d.name, f"dataset:{d.name}")
            for d in self.datasets.values()
            if task in d.tasks
        ]
        choices += [(f"{name} (from the notebook)", f"notebook:{name}") for name in self.notebook_data]
        choices.append(("a folder or CSV file...", PATH))
        self.data.options = choices
        preferred = f"dataset:{dataset}" if dataset else None
        values = [value for _, value in choices]
        if preferred in values:
            self.data.value = preferred
        elif self.notebook_data:
            self.data.value = f"notebook:{next(iter(self.notebook_data))}"
        else:
            self.data.value = values[0]
        self._show_architectures(task)

    def _show_architectures(self, task: str) -> None:
        wanted = self._wanted_architectures
        self.architecture_boxes = {}
        rows = []
        ranks = {name: arch.portfolio_rank for name, arch in automodel.get_architectures(task).items()}
        # in the order a search takes them all (portfolio_rank), since the ticked ones are passed in this order
        for info in sorted(automodel.list_plugins(), key=lambda info: ranks.get(info.name, 1)):
            if task not in info.tasks:
                continue
            box = widgets.Checkbox(value=wanted is None or info.name in wanted, description=info.name, indent=False, layout={"width": "120px"})
            box.add_class(f"automodel-arch-{info.name}")
            about = widgets.HTML(f'{info.description} <span style="color:#777">({info.distribution} {info.version})</span>')
            self.architecture_boxes[info.name] = box
            rows.append(widgets.HBox([box, about]))
        if not rows:
            rows = [widgets.HTML(f"No installed architecture supports {task}; install a plugin for it.")]
        self.architecture_list.children = rows

    def _data_changed(self) -> None:
        kind, _, key = self.data.value.partition(":")
        table = kind == "notebook" and hasattr(self.notebook_data[key], "columns")  # a DataFrame
        for field, shown in ((self.path, kind == "path"), (self.browse, kind == "path"), (self.image_size, kind == "path"),
                             (self.target, kind == "path" or table)):
            field.layout.display = None if shown else "none"

    def _path_chosen(self, chooser: RootedChooser) -> None:
        if chooser.selected:  # the chooser chooses nothing outside the root
            self.path.value = str(Path(chooser.selected))  # a chosen folder ends in a separator

    # -- reading the form ------------------------------------------------------
    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.task, self.data, self.path, self.target, self.image_size, self.tuner, self.max_trials, self.epochs, self.time_budget,
                self.directory, self.name, self.overwrite, *self.architecture_boxes.values()]

    def set_disabled(self, disabled: bool) -> None:
        for control in self.controls:
            control.disabled = disabled

    def _chosen_data(self) -> tuple[object, str]:
        """The ``data`` argument for search, and a name for the run."""
        kind, _, key = self.data.value.partition(":")
        if kind == "dataset":
            return key, key
        if kind == "notebook":
            return self.notebook_data[key], key
        text = self.path.value.strip()
        if not text:
            raise DataError("Type the path of a folder of images (a sub-folder per class), or of a .csv or .npz file.")
        path = self.root.check(text, "The data path")
        if not path.exists():
            raise DataError(f"{path} does not exist. Check the path (relative paths start in the notebook's folder).")
        if path.is_dir():
            return image_folder(path, image_size=self._image_size()), path.name
        return str(path), path.name.split(".")[0]

    def _image_size(self) -> tuple[int, int] | None:
        text = self.image_size.value.strip().lower().replace(" ", "")
        if not text:
            return None
        height, _, width = text.partition("x")
        if not (height.isdigit() and width.isdigit()):
            raise DataError(f"Image size {self.image_size.value!r}: type height x width in pixels, e.g. 64x64.")
        return int(height), int(width)

    def chosen_architectures(self) -> list[str]:
        return [name for name, box in self.architecture_boxes.items() if box.value]

    def options(self) -> dict:
        """Keyword arguments for ``automodel.search``; raises an automodel error on bad input."""
        data, data_name = self._chosen_data()
        architectures = self.chosen_architectures()
        if not architectures:
            raise SearchError("No architecture is ticked. Tick at least one architecture to try.")
        target = self.target.value.strip() if self.target.layout.display is None else ""
        labelled = self.tasks[self.task.value].target != "generation"
        if labelled and not target and isinstance(data, str) and data.endswith(TABLE_SUFFIXES):
            raise DataError(f"Which column of {data} is the target? Type its name under Target column.")
        directory, name = self.directory.value.strip() or "automodel-runs", self.name.value.strip() or data_name
        self._check_run_dir(directory, name)
        return dict(
            **({"target": target} if target else {}),
            task=self.task.value,
            data=data,
            architectures=architectures,
            tuner=self.tuner.value,
            max_trials=self.max_trials.value or None,
            epochs=self.epochs.value or None,
            time_budget=self.time_budget.value.strip() or None,
            directory=directory,
            name=name,
            overwrite=self.overwrite.value,
        )

    def run_dir(self) -> Path:
        """Where the chosen search writes (and what it resumes)."""
        options = self.options()
        return Path(options["directory"]) / options["name"]

    def _check_run_dir(self, directory: str, name: str) -> None:
        """The run directory (the run name may hold ``..``) and the folder of runs, inside the root."""
        self.root.check(directory, "The directory")
        self.root.check(Path(directory).expanduser() / name, "The run directory")
