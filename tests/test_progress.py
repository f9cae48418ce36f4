"""The live display of ``automodel search`` in a terminal: fed scripted events, and end to end in a pseudo-terminal."""

from __future__ import annotations

import io
import logging
import os
import re
import select
import sys
import time

from rich.console import Console

from automodel.cli.progress import SearchProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(raw: str) -> str:
    """The terminal's output without its escape codes; a carriage return starts a line, as on the screen."""
    return ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def rendered(progress: SearchProgress) -> str:
    console = Console(record=True, force_terminal=True, width=110, file=io.StringIO())
    console.print(progress)
    return console.export_text()


def started(max_trials=3, time_budget=120.0, epochs=4):
    clock = Clock()
    progress = SearchProgress(max_trials=max_trials, time_budget=time_budget, clock=clock)
    progress("search_start", max_trials=max_trials, epochs=epochs, batch_size=32, patience=3)
    return progress, clock


def ended(trial_id, status, score, objective="val_accuracy"):
    return dict(record={"trial_id": trial_id, "status": status, "epochs": 2}, objective=objective, score=score)


def test_the_display_follows_trials_epochs_the_best_and_the_budget():
    progress, clock = started()
    assert "waiting for the first trial" in rendered(progress)
    progress("trial_start", trial_id="0", architecture="cnn", resumed=False)
    clock.now += 10
    progress("epoch_end", trial_id="0", epoch=1, logs={"loss": 1.2, "val_loss": 1.3, "val_accuracy": 0.5})
    progress("epoch_end", trial_id="0", epoch=2, logs={"loss": 0.9, "val_loss": 1.0, "val_accuracy": 0.625})
    text = rendered(progress)
    assert re.search(r"trial 0\s+cnn\s+epoch 2/4", text)
    assert "val_accuracy=0.6250" in text  # the objective guessed before any trial ended
    assert "best so far: none yet" in text
    assert "trials: 0 completed, 0 pruned, 0 failed; 3 left of 3" in text
    assert "elapsed 0:10, time left 1:50 of 2:00" in text

    progress("trial_end", **ended("0", "completed", 0.625))
    progress("trial_start", trial_id="1", architecture="rnn", resumed=False)
    progress("epoch_end", trial_id="1", epoch=1, logs={"val_accuracy": 0.75})
    progress("trial_end", **ended("1", "pruned", 0.75))  # a pruned trial has a model, and can be the best
    progress("trial_start", trial_id="2", architecture="cnn", resumed=False)
    progress("trial_end", **ended("2", "failed", None))
    progress("trial_start", trial_id="3", architecture="cnn", resumed=False)
    progress("trial_end", **ended("3", "completed", 0.7))  # lower than trial 1's: not the best
    clock.now += 200
    text = rendered(progress)
    assert "best so far: trial 1, val_accuracy=0.7500" in text
    assert "trials: 2 completed, 1 pruned, 1 failed; 0 left of 3" in text
    assert "time left 0:00" in text and "trial 3" not in text.split("best so far")[0]

    progress("ensemble", record=None, objective="val_accuracy")
    progress("refit_start")
    assert rendered(progress).startswith("refit: retraining the best trial")


def test_best_so_far_follows_the_objective_direction_and_folds_are_counted():
    progress, clock = started(max_trials=None, time_budget=None, epochs=3)
    progress("trial_start", trial_id="0", architecture="dense", resumed=False)
    for epoch in (1, 2, 3, 1):  # a cross-validated trial trains its second fold
        progress("epoch_end", trial_id="0", epoch=epoch, logs={"val_loss": 1.0 / epoch})
    text = rendered(progress)
    assert "fold 2, epoch 1/3" in text and "val_loss=1.0000" in text
    assert "left of" not in text and "time left" not in text  # neither a trial limit nor a budget
    progress("trial_end", **ended("0", "completed", 0.5, objective="val_loss"))
    progress("trial_start", trial_id="1", architecture="dense", resumed=False)
    progress("trial_end", **ended("1", "completed", 0.3, objective="val_loss"))
    progress("trial_start", trial_id="2", architecture="dense", resumed=False)
    progress("trial_end", **ended("2", "completed", 0.4, objective="val_loss"))
    assert "best so far: trial 1, val_loss=0.3000" in rendered(progress)  # lower is better


def test_trials_training_at_once_each_get_a_row():
    progress, _ = started(max_trials=8)
    for trial_id in ("4", "5"):
        progress("trial_start", trial_id=trial_id, architecture="cnn", resumed=False)
    progress("epoch_end", trial_id="5", epoch=3, logs={"val_accuracy": 0.9})
    progress("epoch_end", trial_id="4", epoch=1, logs={"val_accuracy": 0.8})
    text = rendered(progress)
    assert re.search(r"trial 4\s+cnn\s+epoch 1/4.*val_accuracy=0.8000", text)
    assert re.search(r"trial 5\s+cnn\s+epoch 3/4.*val_accuracy=0.9000", text)


def test_every_reporter_event_is_taken_with_its_fields():
    """The display is a reporter: each event of runs/events.py has a handler taking exactly that event's fields."""
    import inspect

    from automodel.runs.events import EVENTS

    for event, fields in EVENTS.items():
        handler = getattr(SearchProgress(), f"_on_{event}")
        assert tuple(inspect.signature(handler).parameters) == fields, event


def test_the_trial_limit_follows_the_options():
    assert SearchProgress.for_options({"max_trials": None, "time_budget": None}).max_trials == 10
    budgeted = SearchProgress.for_options({"max_trials": None, "time_budget": "15m"})
    assert budgeted.max_trials is None and budgeted.time_budget == 900


def test_prints_and_log_lines_land_above_the_live_display():
    screen = io.StringIO()
    progress = SearchProgress(max_trials=2, console=Console(file=screen, force_terminal=True, width=100))
    logger = logging.getLogger("automodel.test_progress")
    handler = logging.StreamHandler(sys.stdout)  # as TensorFlow's logger holds the stream it was given
    logger.addHandler(handler)
    outside = sys.stdout
    try:
        with progress.shown():
            print("a line printed during the search")
            logger.warning("a warning logged during the search")
            progress("search_start", max_trials=2, epochs=1, batch_size=32, patience=3)
        assert sys.stdout is outside and handler.stream is outside  # both given back
    finally:
        logger.removeHandler(handler)
    text = plain(screen.getvalue())
    assert "a line printed during the search\n" in text and "a warning logged during the search\n" in text
    assert "best so far: none yet" in text


# -- end to end, in a pseudo-terminal ---------------------------------------------------------------------------------


def _in_a_terminal(args: list[str], interrupt_on: str | None = None, timeout: float = 120,
                   on_press=lambda: None) -> tuple[int, str, object]:
    """Run ``automodel ARGS`` with a pseudo-terminal as its terminal; press Ctrl-C once ``interrupt_on`` appears.

    Returns the exit code, the output, and what ``on_press()`` returned at the press."""
    import fcntl
    import pty
    import struct
    import termios

    pid, terminal = pty.fork()
    if pid == 0:  # the child: the pseudo-terminal is its controlling terminal, 120 columns wide
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.execve(sys.executable, [sys.executable, "-m", "automodel.cli", *args], {**os.environ, "TERM": "xterm"})
        finally:
            os._exit(127)  # never back into the test runner
    output, pressed, at_press, give_up = b"", False, None, time.monotonic() + timeout
    while time.monotonic() < give_up:
        if select.select([terminal], [], [], 0.5)[0]:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the child ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if interrupt_on and not pressed and interrupt_on in plain(output.decode(errors="replace")):
            at_press = on_press()
            os.write(terminal, b"\x03")  # Ctrl-C, through the terminal's line discipline
            pressed = True
    else:
        os.kill(pid, 9)
    os.close(terminal)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output.decode(errors="replace"), at_press


def test_search_in_a_terminal_shows_live_progress_and_stops_on_ctrl_c(tmp_path, small_digits):
    import numpy as np

    np.savez(tmp_path / "digits.npz", x=small_digits[0][:400], y=small_digits[1][:400])
    def trials_started():  # one, or with worker processes (several GPUs shown) one per worker
        return {name for name in os.listdir(tmp_path / "live") if name.startswith("trial_")}

    code, raw, started = _in_a_terminal([
        "search", "--task", "image_classification", "--data", str(tmp_path / "digits.npz"), "--architectures", "cnn",
        "--tuner", "random", "--max-trials", "2", "--epochs", "2", "--validation", "split", "--time-budget", "10m",
        "--dir", str(tmp_path), "--name", "live", "--seed", "1",
    ], interrupt_on="epoch 1/2", on_press=trials_started)
    text = plain(raw)
    assert "\x1b[" in raw  # drawn with cursor movements and colours: the live display
    assert re.search(r"trial 0\s+cnn\s+epoch 1/2", text)
    assert "best so far: trial 0, val_accuracy=" in text and "time left 9:" in text
    assert "automodel: stopping after the current epoch" in text  # the first Ctrl-C's notice, above the display
    assert re.search(r"^trial +0 +cnn +completed +val_accuracy=", text, re.M)  # the plain lines, as in a log
    assert code == 3, text  # stopped before its end; the same command resumes it
    summary = text.rindex("run directory: ")
    assert summary > text.rindex("best so far: ")  # the display is gone when the summary prints
    assert "(stopped: interrupted;" in text[summary:] and "on the held-out test split: accuracy=" in text[summary:]
    assert "trial_0" in started and trials_started() == started  # no trial starts after Ctrl-C
