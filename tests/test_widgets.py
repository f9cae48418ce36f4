"""The notebook panels driven from Python: values set, buttons clicked, real searches run."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import plugin_of, registered, tiny_architecture, trials_only

from automodel.widgets import Leaderboard, SearchApp
from automodel.widgets.worker import Job


def wait_until(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finished(app, timeout=300):
    assert app.wait(timeout), "the search did not end"
    return app


@pytest.fixture
def tiny(small_digits):
    """A panel on 600 digits with the one-layer ``tiny`` architecture registered."""
    with registered(plugin_of(tiny_architecture()), "tiny"):
        yield lambda tmp_path, **settings: SearchApp(
            data={"small": small_digits},
            **{"task": "image_classification", "architectures": ["tiny"], "tuner": "random",
               "max_trials": 2, "epochs": 2, "directory": str(tmp_path), **settings},
        )


def test_building_the_panel_imports_no_tensorflow_and_is_fast():
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from automodel.widgets import SearchApp\n"
        "bundle = SearchApp()._repr_mimebundle_()\n"
        "assert 'application/vnd.jupyter.widget-view+json' in bundle\n"
        "print(time.perf_counter() - t, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]


def test_choices_come_from_the_registry_and_a_new_plugin_appears_by_itself():
    import automodel

    app = SearchApp()
    form = app.form
    assert [value for _, value in form.task.options] == list(automodel.get_tasks())
    assert form.task.value == "image_classification" and form.data.value == "dataset:digits"
    for name in automodel.get_architectures("image_classification"):
        assert name in form.architecture_boxes and form.architecture_boxes[name].value
    with registered(plugin_of(tiny_architecture("shiny")), "shiny"):
        form = SearchApp().form
        assert "shiny" in form.architecture_boxes
        row = [r for r in form.architecture_list.children if r.children[0].description == "shiny"][0]
        assert "test architecture" in row.children[1].value  # the plugin's description
        form.task.value = "sequence_classification"  # another task, other architectures
        assert "shiny" not in form.architecture_boxes
    options = app.form.options()
    assert options["data"] == "digits" and options["name"] == "digits" and options["time_budget"] is None


def test_start_runs_in_the_background_and_fills_the_leaderboard(tiny, tmp_path):
    app = tiny(tmp_path)
    assert app.exporter.button.disabled  # nothing to export yet
    started = time.monotonic()
    app.start_button.click()
    assert time.monotonic() - started < 1.0 and app.running  # the notebook is free at once
    assert app.start_button.disabled and not app.stop_button.disabled and app.form.task.disabled
    finished(app)

    board = trials_only(app.board.board)
    assert len(board) == 2 and (board["status"] == "completed").all()
    assert board["val_accuracy"].is_monotonic_decreasing  # best first
    assert app.board.table.value.count('class="automodel-row automodel-completed') == 2
    assert "finished · 2 trials (2 completed)" in app.board.heading.value
    assert app.progress.trials.value == 2 == app.progress.trials.max
    assert app.progress.events.count("trial_end") == 2 and "epoch_end" in app.progress.events
    assert app.notice.kind == "success" and "Search finished" in app.notice.text
    assert app.result.best_trial_id == str(board.iloc[0]["trial"])
    assert bytes(app.board.curves.value).startswith(b"\x89PNG") and app.board.curves.layout.display is None
    assert not app.start_button.disabled and app.stop_button.disabled and not app.exporter.button.disabled

    # choosing a trial redraws its curves and marks its row
    other = str(board.iloc[1]["trial"])
    before = app.board.curves.value
    app.board.trial.value = other
    assert app.board.selected_trial == other and app.board.curves.value != before
    assert f'automodel-selected" data-trial="{other}"' in app.board.table.value

    # Start again resumes: the finished trials are counted, one more runs
    app.form.max_trials.value = 3
    app.start()
    assert app.progress.trials.value == 2  # shown before any new trial ran
    finished(app)
    assert len(trials_only(app.board.board)) == 3 and app.progress.trials.value == 3


def test_stop_ends_the_search_after_the_current_epoch_and_keeps_results(tiny, tmp_path):
    app = tiny(tmp_path, max_trials=5, epochs=200)
    app.start()
    wait_until(lambda: app.progress.epochs.value >= 1, what="the first epoch")
    app.stop_button.click()
    assert app.stop_button.disabled and "Stopping after the current epoch" in app.notice.text
    finished(app, timeout=60)
    board = app.board.board
    assert len(board) == 1 and board.iloc[0]["status"] == "completed"
    assert board.iloc[0]["reason"] == "stopped by user" and board.iloc[0]["epochs"] < 200
    assert "Search stopped (stopped by user)" in app.notice.text
    assert app.result.run.meta()["status"] == "stopped: stopped by user"
    assert not app.start_button.disabled


def test_settings_errors_are_shown_in_the_panel_before_anything_starts(tiny, tmp_path):
    app = tiny(tmp_path)
    app.form.architecture_boxes["tiny"].value = False
    for box in app.form.architecture_boxes.values():
        box.value = False
    app.start_button.click()
    assert app.job is None and app.notice.kind == "error"
    assert "Tick at least one architecture" in app.notice.text

    app.form.architecture_boxes["tiny"].value = True
    app.form.data.value = "path:"
    assert app.form.path.layout.display is None  # the path field shows for this choice
    app.form.path.value = str(tmp_path / "no-such-folder")
    app.start_button.click()
    assert app.job is None and "does not exist" in app.notice.text


@pytest.mark.parametrize(
    "data, settings, message",
    [
        ((np.zeros((10, 8, 8)), np.arange(9)), {}, "x has 10 samples but y has 9"),
        (None, {"time_budget": "soon"}, "time_budget='soon' is not a duration"),
    ],
    ids=["bad-data", "bad-time-budget"],
)
def test_errors_from_the_search_thread_are_shown_in_the_panel(tiny, tmp_path, data, settings, message):
    app = tiny(tmp_path, **settings)
    if data is not None:
        app.form.notebook_data["small"] = data
    app.start()
    finished(app)
    assert app.notice.kind == "error" and message in app.notice.text
    assert "details" not in app.notice.value  # automodel's own errors need no traceback
    assert app.progress.trials.bar_style == "danger" and not app.start_button.disabled


def test_failing_trials_show_their_reasons_and_the_search_error(small_digits, tmp_path):
    def explodes(arch, hp, model, spec, *args, **kwargs):
        raise RuntimeError("plugin exploded")

    with registered(plugin_of(tiny_architecture("boom", fit=explodes)), "boom"):
        app = SearchApp(data={"small": small_digits}, task="image_classification", architectures=["boom"],
                        tuner="random", max_trials=5, epochs=1, directory=str(tmp_path))
        app.start()
        finished(app)
    assert app.notice.kind == "error" and "3 trials in a row failed" in app.notice.text
    assert (app.board.board["status"] == "failed").all()
    assert app.board.table.value.count("RuntimeError: plugin exploded") == 3
    assert app.exporter.button.disabled  # no model to export


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"task": "poetry"}, "Unknown task 'poetry'. Known tasks:"),
        ({"dataset": "mnist"}, "Unknown data set 'mnist'. Built-in data sets: "),
        ({"architectures": ["transformer"]}, "Unknown architecture 'transformer'. Installed: "),
        ({"tuner": "genetic"}, "Unknown tuner 'genetic'. Choose one of: bayesian, random"),
    ],
)
def test_wrong_presets_are_shown_in_the_panel(settings, message):
    app = SearchApp(**settings)
    assert app.form is None and app.start_button.disabled
    assert app.notice.kind == "error" and message in app.notice.text


def test_a_plugin_that_fails_to_load_is_shown_in_the_panel_and_the_rest_works(clean_registry, fake_distribution):
    fake_distribution("broken-plugin", "0.1", {"broken": "broken_mod"}, {"broken_mod": "raise ImportError('no such thing')"})
    with pytest.warns(UserWarning, match="left out plugin 'broken'"):
        app = SearchApp()
    assert app.form is not None and not app.start_button.disabled
    assert app.notice.kind == "error"
    assert "'broken'" in app.notice.text and "broken-plugin 0.1" in app.notice.text and "no such thing" in app.notice.text
    assert "cnn" in app.form.architecture_boxes


def test_jobs_keep_their_output_out_of_the_notebook(capfd):
    def noisy():
        print("epoch 1/10 ━━━━━━━━━━ loss: 0.3")
        print("WARNING: a Keras warning", file=sys.stderr)
        raise ValueError("broken")

    errors = []
    job = Job(noisy, errors.append, name="test-job").start()
    assert job.join(10)
    print("the notebook's own output")
    out, err = capfd.readouterr()
    assert out == "the notebook's own output\n" and err == ""
    assert "epoch 1/10" in job.log and "a Keras warning" in job.log
    assert isinstance(errors[0], ValueError) and "raise ValueError" in job.trace
    assert type(sys.stdout).__name__ != "_RoutedStream"  # the proxy is gone once no job runs


def test_leaderboard_view_of_a_finished_run(digits_run):
    view = Leaderboard(digits_run.path)
    assert not view.watching  # finished runs need no polling
    assert len(view.board) == 2 and view.status == "finished"
    assert view.table.value.count('class="automodel-row') == 2
    assert view.selected_trial == digits_run.best_trial_id
    assert bytes(view.curves.value).startswith(b"\x89PNG")
    view.close()


def test_leaderboard_watches_a_run_written_by_another_process(tmp_path):
    run_dir = tmp_path / "live"
    view = Leaderboard(run_dir, interval=0.2)
    assert view.watching and "waiting for the search to start" in view.heading.value
    process = subprocess.Popen(
        [sys.executable, "-m", "automodel.cli", "search", "--data", "digits", "--architectures", "cnn",
         "--tuner", "random", "--max-trials", "2", "--epochs", "1", "--dir", str(tmp_path), "--name", "live"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = set()
    try:
        while process.poll() is None:
            seen.add((view.status, 0 if view.board is None else len(view.board)))
            time.sleep(0.05)
    finally:
        process.kill()
    assert process.wait() == 0, process.stderr.read()
    wait_until(lambda: not view.watching, timeout=10, what="the view to see the run end")
    # it showed the run while it was being written (trials side by side in workers when GPUs show)
    assert any(status == "running" and rows >= 1 for status, rows in seen), seen
    assert view.status == "finished" and len(trials_only(view.board)) == 2 and not view.watching
    assert view.table.value.count('class="automodel-row automodel-completed') == 2


def test_a_broken_run_directory_is_a_message_not_an_exception(tmp_path):
    (tmp_path / "run.json").write_text("{}")
    view = Leaderboard(tmp_path, watch=False)
    assert view.notice.kind == "error"
    assert f"Cannot read the run directory {tmp_path}" in view.notice.text and "objective" in view.notice.text


def test_export_writes_the_chosen_trial_and_lists_what_was_written(digits_run, tmp_path):
    app = SearchApp(directory=str(digits_run.path.parent), name=digits_run.path.name)
    assert len(app.board.board) == 2 and not app.exporter.button.disabled  # the earlier run is shown
    other = str(app.board.board.iloc[1]["trial"])
    app.board.trial.value = other
    for name, box in app.exporter.formats.items():
        box.value = name in ("keras", "tflite")
    app.exporter.folder.value = str(tmp_path / "out")
    app.exporter.button.click()
    assert app.exporter.wait(300)
    assert app.exporter.notice.kind == "success", app.exporter.notice.text
    written = {p.name for p in app.exporter.written}
    assert {"model.keras", "model.tflite", "model_card.json"} <= written
    assert not written & {"sample_inputs.npy", "sample_outputs.npy"}  # the test rows only when asked for
    assert all((tmp_path / "out" / p.name).is_file() for p in app.exporter.written)
    assert app.exporter.card["trial"] == other and set(app.exporter.card["formats"]) == {"keras", "tflite"}
    listing = app.exporter.listing.value
    assert listing.count('class="automodel-file"') == len(written)
    assert "<b>tflite</b>: <code>model.tflite</code>, checked with" in listing and "on the test split: accuracy" in listing

    app.exporter.button.click()  # the folder exists now
    assert app.exporter.wait(120)
    assert app.exporter.notice.kind == "error" and "overwrite" in app.exporter.notice.text.lower()
    assert app.exporter.listing.value == ""

    app.exporter.overwrite.value = app.exporter.samples.value = True  # "Include samples"
    app.exporter.button.click()
    assert app.exporter.wait(300) and app.exporter.notice.kind == "success", app.exporter.notice.text
    assert {"sample_inputs.npy", "sample_outputs.npy"} <= {p.name for p in app.exporter.written}

    for box in app.exporter.formats.values():
        box.value = False
    assert app.export() is None and "No format is ticked" in app.exporter.notice.text


def test_a_folder_of_images_and_a_csv_are_searched_from_their_paths(tiny, tmp_path):
    from PIL import Image

    from automodel.data import image_folder

    rng = np.random.default_rng(0)
    for label, level in (("dark", 40), ("mid", 128), ("light", 215)):
        (tmp_path / "data" / "images" / label).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(rng.normal(level, 20, (8, 8)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "data" / "images" / label / f"{i}.png")
    app = tiny(tmp_path / "runs", max_trials=1, epochs=1)
    app.form.data.value = "path:"
    assert app.form.image_size.layout.display is None and app.form.target.layout.display is None
    app.form.path.value = str(tmp_path / "data" / "images")
    app.form.image_size.value = "eight by eight"
    app.start()
    assert app.job is None and "type height x width" in app.notice.text
    app.form.image_size.value = "8x8"
    options = app.form.options()
    assert options["name"] == "images" and options["data"] == image_folder(tmp_path / "data" / "images", (8, 8))
    app.start()
    finished(app)
    assert app.notice.kind == "success", app.notice.text
    assert list(app.board.board["status"]) == ["completed"]
    assert app.result.meta["spec"]["input_shape"] == [8, 8, 1]

    # a table: 4x4 images as 16 pixel columns and a label column
    x, y = np.repeat([[0.0], [9.0], [18.0]], 16, axis=0).reshape(3, 16), ["dark", "mid", "light"]
    rows = [",".join(f"{v + rng.normal():.2f}" for v in x[i % 3]) + f",{y[i % 3]}" for i in range(60)]
    header = ",".join(f"p{i}" for i in range(16)) + ",label"
    (tmp_path / "data" / "pixels.csv").write_text("\n".join([header, *rows]) + "\n")
    app.form.path.value = str(tmp_path / "data" / "pixels.csv")
    app.form.image_size.value = ""
    assert app.start() is None and "Which column of" in app.notice.text and "Target column" in app.notice.text
    app.form.target.value = "label"
    app.start()
    finished(app)
    assert app.notice.kind == "success", app.notice.text
    assert app.result.path.name == "pixels" and app.result.meta["spec"]["input_shape"] == [4, 4, 1]
    assert sorted(app.result.meta["spec"]["class_names"]) == ["dark", "light", "mid"]