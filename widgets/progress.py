"""Progress of a running search, fed by ``automodel.search``'s reporter events.

Two bars (trials of the budget, epochs of the current trial) and a line with
the current trial and its latest scores. Events arrive on the search thread;
widget updates from there reach the browser like any other.
"""

from __future__ import annotations

import time

import ipywidgets as widgets


class SearchProgress(widgets.VBox):
    """Trials and epochs done, and what is running now."""

    def __init__(self, **kwargs):
        self.trials = widgets.IntProgress(description="Trials", min=0, max=1, value=0, bar_style="info")
        self.epochs = widgets.IntProgress(description="Epochs", min=0, max=1, value=0, bar_style="info")
        self.label = widgets.HTML()
        for widget, name in ((self.trials, "trials"), (self.epochs, "epochs"), (self.label, "label")):
            widget.add_class(f"automodel-progress-{name}")
        super().__init__([widgets.HBox([self.trials, self.epochs]), self.label], **kwargs)
        self.add_class("automodel-progress")
        self.trials_done = 0
        self.started = None
        self.current = None  # (trial id, architecture) of the running trial
        self.events: list[str] = []

    def begin(self, max_trials: int | None, epochs: int | None, done: int = 0) -> None:
        """A search starts: ``done`` trials of ``max_trials`` are already finished (resume).

        ``None`` (chosen by the search) is filled in by its ``search_start`` event.
        """
        self.trials.max, self.epochs.max = max_trials or max(done, 1), epochs or 1
        self.trials.value, self.epochs.value = min(done, self.trials.max), 0
        self.trials.bar_style = self.epochs.bar_style = "info"
        self.trials_done, self.started, self.current = done, time.monotonic(), None
        self.events = []
        self.say("Loading TensorFlow and preparing the data...")

    def say(self, text: str) -> None:
        self.label.value = text

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f}s" if self.started is not None else ""

    def handle(self, event: str, **info) -> None:
        """The search's ``reporter`` (its events: see ``automodel.search``)."""
        self.events.append(event)
        if event == "search_start":
            self.epochs.max = info["epochs"]
            if info["max_trials"] is not None:
                self.trials.max = info["max_trials"]
            self.say(f"training {info['epochs']} epochs at most per trial, batches of {info['batch_size']} · {self._elapsed()}")
        elif event == "refit_start":
            self.say(f"retraining the best trial on training and validation data · {self._elapsed()}")
        elif event == "trial_start":
            self.current = (info["trial_id"], info.get("architecture"))
            self.epochs.value = 0
            self.say(f"trial {info['trial_id']} ({info.get('architecture')}) started · {self._elapsed()}")
        elif event == "epoch_end":
            self.epochs.value = min(info["epoch"], self.epochs.max)
            logs = info.get("logs") or {}
            scores = " · ".join(f"{k} {v:.4g}" for k, v in sorted(logs.items()) if k.startswith("val_"))
            self.say(f"trial {info['trial_id']} · epoch {info['epoch']} of at most {self.epochs.max} · {scores} · {self._elapsed()}")
        elif event == "trial_end":
            record = info["record"]
            self.trials_done += 1
            self.trials.max = max(self.trials.max, self.trials_done)  # no trial limit: the bar follows the count
            self.trials.value = min(self.trials_done, self.trials.max)
            outcome = record["status"]
            if info.get("score") is not None:
                outcome += f", {info['objective']} {info['score']:.4g}"
            elif record.get("reason"):
                outcome += f": {record['reason']}"
            self.say(f"trial {record['trial_id']} {outcome} · {self.trials_done} of {self.trials.max} trials · {self._elapsed()}")

    def finish(self, text: str, failed: bool = False) -> None:
        style = "danger" if failed else "success"
        self.trials.bar_style = self.epochs.bar_style = style
        self.current = None
        self.say(f"{text} · {self._elapsed()}")
