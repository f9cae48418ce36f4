"""A trained run used from the terminal: predict, evaluate, --json, --version and exit codes.

One tiny real run (600 digits, 2 trials of 1 epoch, one validation split), made by
``automodel search --json`` itself, serves every test. Each command runs at least
once as a subprocess, like a user's terminal or a CI job; variants of a command
call ``automodel.cli.main`` in this process, where TensorFlow is loaded once and
the run's models are built once (``in_process``). Expected values always come
from ``SearchResult``, the Python API.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from automodel.cli import EXIT_CODES, build_parser, main

SEARCH = ("--task", "image_classification", "--architectures", "cnn", "--tuner", "random", "--validation", "split",
          "--seed", "1")


def automodel(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "automodel.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


class Finished:
    """A command started in the background, waited for on first use."""

    def __init__(self, process):
        self.process, self.done = process, None

    @classmethod
    def start(cls, *args) -> "Finished":
        return cls(subprocess.Popen([sys.executable, "-m", "automodel.cli", *map(str, args)], text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    def __call__(self) -> subprocess.CompletedProcess:
        if self.done is None:
            out, err = self.process.communicate(timeout=300)
            self.done = subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)
        return self.done


@pytest.fixture(scope="module")
def searched(tmp_path_factory, digits_npz):
    """``automodel search --json`` on the small digits: its output, and the run it made."""
    from automodel.startup import load_tensorflow

    directory = tmp_path_factory.mktemp("runs")
    search = Finished.start("search", "--json", "--data", digits_npz, *SEARCH, "--epochs", "1", "--max-trials", "2",
                            "--dir", directory, "--name", "tiny")
    load_tensorflow()  # meanwhile, as this process needs it too
    done = search()
    assert done.returncode == 0, done.stderr
    return done, directory / "tiny"


@pytest.fixture(scope="module")
def run_dir(searched):
    return searched[1]


@pytest.fixture(scope="module")
def launched(run_dir, files, tmp_path_factory):
    """``predict`` and ``evaluate`` as subprocesses, started together while this process builds the run's models.

    Each spends most of its time importing TensorFlow and building models: side
    by side, on two cores, they cost the file about half as much wall time.
    """
    out = tmp_path_factory.mktemp("predicted") / "predictions.csv"
    commands = {
        "predict": ("predict", run_dir, files / "digits.csv", "--target", "label", "--to", out, "--proba"),
        "evaluate": ("evaluate", run_dir, "--json"),
    }
    started = {name: Finished.start(*args) for name, args in commands.items()}
    yield started, out
    for command in started.values():
        command.process.kill()


@pytest.fixture(scope="module")
def result(run_dir, launched):
    import automodel

    return automodel.open_run(run_dir)


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_digits):
    """The digits in every form predict reads: tables, .npz, image folders (PNG holds the 0..16 pixels exactly)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("inputs")
    x, y = small_digits
    table = pd.DataFrame(x.reshape(len(x), -1), columns=[f"p{i}" for i in range(64)],
                         index=[f"id{i}" for i in range(len(x))])
    table.assign(label=y).to_csv(root / "digits.csv")  # the index is written as the first column, header empty
    table.to_csv(root / "pixels.tsv", sep="\t", index=False)
    table.iloc[:, :63].to_csv(root / "short.csv", index=False)
    table.assign(label=np.where(np.arange(len(y)) == 5, 42, y)).to_csv(root / "strange.csv", index=False)
    np.savez(root / "x_only.npz", x=x[:50])
    for i in range(40):
        image = Image.fromarray(x[i].astype("uint8"))
        (root / "flat").mkdir(exist_ok=True)
        image.save(root / "flat" / f"{i:03d}.png")
        (root / "classes" / str(y[i])).mkdir(parents=True, exist_ok=True)
        image.save(root / "classes" / str(y[i]) / f"{i:03d}.png")
    (root / "other_size").mkdir()
    Image.fromarray(np.zeros((9, 9), "uint8")).save(root / "other_size" / "big.png")
    Image.fromarray(x[0].astype("uint8")).save(root / "other_size" / "small.png")
    (root / "notes.txt").write_text("not data\n")
    return root


@pytest.fixture
def in_process(monkeypatch, run_dir, result):
    """``main`` opens the shared run as ``result``, whose models are built already."""
    import automodel.cli.use

    monkeypatch.setattr(automodel.cli.use, "open_result", lambda path: result if str(path) == str(run_dir) else None)


def cli(capsys, *args) -> tuple[int, str, str]:
    """``automodel ARGS`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# -- search ----------------------------------------------------------------------------------------------------------


def test_search_json_is_one_event_a_line_ending_in_a_summary(searched, result):
    done, run_dir = searched
    events = json_lines(done.stdout)  # every line parses, nothing else is printed
    kinds = [event["event"] for event in events]
    assert kinds[0] == "search_start" and kinds[-1] == "search_end"
    assert kinds.count("trial_end") == 2 and "epoch_end" in kinds
    assert all(e["record"]["status"] == "completed" for e in events if e["event"] == "trial_end")
    end = events[-1]
    assert end["exit_code"] == 0 and end["status"] == "finished" and end["run_dir"] == str(run_dir)
    assert end["validation"] == "one validation split"
    assert end["model"] == result.model_source()
    assert end["test"] == pytest.approx(result.evaluate(), abs=1e-6)


def test_a_search_failing_once_started_exits_3(capsys, tmp_path, digits_npz):
    code, out, err = cli(capsys, "search", "--json", "--data", digits_npz, *SEARCH, "--epochs", "1", "--dir", tmp_path,
                         "--max-params", "1", "--max-consecutive-failures", "1")
    assert code == 3
    end = json_lines(out)[-1]
    assert end == {"event": "search_end", "status": "failed", "error": end["error"], "exit_code": 3}
    assert "over max_params=1" in end["error"]
    assert err.strip().startswith("automodel: the search failed: ") and len(err.strip().splitlines()) == 1


def test_a_stopped_search_exits_3(capsys, tmp_path, digits_npz):
    """``automodel stop`` from another process ends the search after its epoch, with exit code 3."""
    codes = []
    thread = threading.Thread(target=lambda: codes.append(main(
        ["search", "--data", str(digits_npz), *SEARCH, "--epochs", "50", "--max-trials", "1", "--dir", str(tmp_path),
         "--name", "stopped"])))
    thread.start()
    record = tmp_path / "stopped" / "trial_0" / "automodel_trial.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (record.is_file() and json.loads(record.read_text()).get("history")):
        time.sleep(0.2)
    stop = automodel("stop", tmp_path / "stopped")
    thread.join(timeout=120)
    assert stop.returncode == 0, stop.stderr
    assert codes == [3]
    err = capsys.readouterr().err
    assert "the search ended early (stopped: stopped by user)" in err


def test_search_options_follow_the_python_api():
    """One table of options (cli/options.py): every keyword of automodel.search, with its default."""
    import inspect

    from automodel.api import search
    from automodel.cli.options import PROGRAM_ONLY, SEARCH_OPTIONS

    parameters = inspect.signature(search).parameters
    rows = {row.name: row for row in SEARCH_OPTIONS}
    assert set(parameters) - set(PROGRAM_ONLY) == set(rows), "a keyword of search() without a row, or the reverse"
    assert {name: row.default for name, row in rows.items()} == {name: parameters[name].default for name in rows}
    flags = build_parser()._subparsers._group_actions[0].choices["search"]._option_string_actions
    assert all(row.cli_flag in flags for row in SEARCH_OPTIONS)


def test_exit_codes_are_in_the_help():
    done = automodel("--help")
    assert done.returncode == 0
    assert "exit status:" in done.stdout
    for code in EXIT_CODES:
        assert f"\n  {code} " in done.stdout


# -- predict ---------------------------------------------------------------------------------------------------------


def test_predict_a_table_matches_search_result_row_for_row(launched, result, small_digits):
    """A table with its index and target columns: keys from the index, labels and probabilities as in Python."""
    commands, out = launched
    done = commands["predict"]()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("predicted 600 rows with ")
    x = small_digits[0]
    table = pd.read_csv(out)
    assert list(table.columns) == ["index", "prediction", *(f"proba_{c}" for c in result.classes)]
    assert table["index"].tolist() == [f"id{i}" for i in range(600)]
    assert table["prediction"].tolist() == result.predict(x).tolist()
    np.testing.assert_allclose(table.iloc[:, 2:].to_numpy(), result.predict_proba(x), atol=1e-5)


def test_predict_streams_every_form_as_search_result_predicts(capsys, in_process, run_dir, result, files, small_digits, tmp_path):
    x = small_digits[0]
    # a table without the target column, in batches of 250 rows (the last one short), into JSON lines
    code, out, _ = cli(capsys, "predict", run_dir, files / "pixels.tsv", "--to", tmp_path / "p.jsonl",
                       "--batch-size", "250", "--trial", "0", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["rows"] == 600 and summary["columns"] == ["row", "prediction"]
    assert summary["model"] == result.model_source("0")
    rows = json_lines((tmp_path / "p.jsonl").read_text())
    assert [r["row"] for r in rows] == list(range(600))
    assert [r["prediction"] for r in rows] == result.predict(x, trial_id="0").tolist()
    # an .npz file of x alone, to stdout: the rows alone there, the summary on stderr
    code, out, err = cli(capsys, "predict", run_dir, files / "x_only.npz", "--to", "-", "--json")
    assert code == 0 and json.loads(err)["rows"] == 50
    table = pd.read_csv(io.StringIO(out))
    assert table["row"].tolist() == list(range(50))
    assert table["prediction"].tolist() == result.predict(x[:50]).tolist()
    # folders of images, loose and in class sub-folders: keyed by path
    for folder in ("flat", "classes"):
        out_file = tmp_path / f"{folder}.csv"
        code, _, _ = cli(capsys, "predict", run_dir, files / folder, "--to", out_file, "--batch-size", "16")
        assert code == 0
        table = pd.read_csv(out_file)
        order = [int(os.path.basename(p)[:3]) for p in table["path"]]
        assert all(p.startswith(str(files / folder)) for p in table["path"])
        assert table["prediction"].tolist() == result.predict(x[order]).tolist()


def test_predict_refuses_to_overwrite_and_leaves_nothing_behind(capsys, in_process, run_dir, files, tmp_path):
    out = tmp_path / "kept.csv"
    out.write_text("mine\n")
    code, _, err = cli(capsys, "predict", run_dir, files / "x_only.npz", "--to", out)
    assert code == 2 and "exists; pass --overwrite" in err
    assert out.read_text() == "mine\n"
    code, _, _ = cli(capsys, "predict", run_dir, files / "x_only.npz", "--to", out, "--overwrite")
    assert code == 0 and out.read_text().startswith("row,prediction\n")
    code, _, err = cli(capsys, "predict", run_dir, files / "x_only.npz", "--to", tmp_path / "new.csv", "--trial", "99")
    assert code == 2 and "Trial '99' is not in" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv"]  # no half-written file


# -- evaluate --------------------------------------------------------------------------------------------------------


def test_evaluate_the_held_out_split_matches_search_result(launched, result):
    done = launched[0]["evaluate"]()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["metrics"] == pytest.approx(result.evaluate(), abs=1e-6)
    assert report["model"] == result.model_source()
    x, y = result.test_split()
    assert report["data"] == {"source": "the held-out test split", "samples": len(x)}
    matrix = report["confusion_matrix"]
    counts = np.array(matrix["counts"])
    assert matrix["classes"] == result.classes and counts.shape == (10, 10)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (y, result.predict(x).astype(int)), 1)
    assert (counts == expected).all()


def test_evaluate_data_with_its_targets_matches_search_result(capsys, in_process, run_dir, result, files, small_digits):
    x, y = small_digits
    code, out, _ = cli(capsys, "evaluate", run_dir, files / "digits.csv", "--target", "label", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["metrics"] == pytest.approx(result.evaluate((x, y)), abs=1e-6)
    assert np.trace(report["confusion_matrix"]["counts"]) / 600 == pytest.approx(report["metrics"]["accuracy"])
    # a folder of class sub-folders, named like the run's integer classes; one trial; as people read it
    code, out, _ = cli(capsys, "evaluate", run_dir, files / "classes", "--trial", "1")
    assert code == 0
    expected = result.evaluate((x[:40], y[:40]), trial_id="1")
    lines = out.splitlines()
    assert lines[0] == f"trial 1 on {files / 'classes'} (40 samples)"
    assert lines[1].split() == ["accuracy", f"{expected['accuracy']:.4f}"]
    assert "confusion matrix (rows: true class, columns: predicted class)" in out


# -- listings, versions ----------------------------------------------------------------------------------------------


def test_listings_print_json(run_dir):
    plugins = json.loads(automodel("plugins", "--json").stdout)
    assert "cnn" in {p["name"] for p in plugins}
    tasks = {t["name"]: t for t in json.loads(automodel("tasks", "--json").stdout)}
    assert "cnn" in tasks["image_classification"]["architectures"]
    assert tasks["image_classification"]["objective"] == {"name": "val_accuracy", "direction": "max"}
    board = automodel("leaderboard", run_dir, "--json")
    assert board.returncode == 0, board.stderr
    report = json.loads(board.stdout)
    assert report["status"] == "finished" and report["validation"] == "one validation split"
    trials = [row for row in report["trials"] if row["trial"] != "ensemble"]
    assert {row["trial"] for row in trials} == {"0", "1"} and all(row["status"] == "completed" for row in trials)


def test_the_leaderboard_shows_missing_values_as_blanks(capsys, run_dir):
    code, out, _ = cli(capsys, "leaderboard", run_dir)
    assert code == 0 and "<NA>" not in out and "nan" not in out.lower()


def test_listings_stop_and_data_errors_do_not_import_tensorflow(run_dir, files, tmp_path):
    code = (
        "import sys; from automodel.cli import main\n"
        f"assert main(['leaderboard', {str(run_dir)!r}, '--json']) == 0\n"
        f"assert main(['stop', {str(run_dir)!r}]) == 2\n"  # not running
        f"assert main(['predict', {str(run_dir)!r}, {str(files / 'short.csv')!r}, '--to', {str(tmp_path / 'p.csv')!r}]) == 2\n"
        f"assert main(['evaluate', {str(run_dir)!r}, {str(files / 'strange.csv')!r}, '--target', 'label']) == 2\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_progress_bar_is_drawn_on_a_terminal_only():
    from automodel.cli.output import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        progress = Progress("predict", stream)
        progress.update(512, 0.5)
        progress.update(1024, 1.0)
        progress.end()
        text = stream.getvalue()
        assert ("\rpredict [" + "#" * 15 + "-" * 15 + "]  50%  512 rows" in text) is drawn
        assert text.endswith("1,024 rows  0s\n") is drawn


def test_version_names_the_libraries():
    done = automodel("--version")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == ["automodel", "tensorflow", "keras", "keras-tuner", "python"]
    assert "automodel 0.1.0" in done.stdout and "not installed" not in done.stdout


# -- bad inputs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "{run}", "{files}/short.csv", "--to", "{out}"],
         "short.csv has 63 feature column(s) (p0, p1, p2 and 60 more), but the model takes 64 pixel columns (8x8)"),
        (["predict", "{run}", "{files}/digits.csv", "--to", "{out}"], "Name the target column(s) to leave out with --target"),
        (["predict", "{run}", "{files}/other_size", "--to", "{out}"], "1 of the 2 images in"),
        (["predict", "{run}", "{files}/notes.txt", "--to", "{out}"], "automodel reads .csv, .csv.gz, .tsv and .npz"),
        (["predict", "{run}", "{files}/digits.csv", "--key", "id", "--to", "{out}"], "has no column 'id' for --key"),
        (["predict", "{run}", "{files}/x_only.npz", "--to", "{files}/predictions.txt"], "writes predictions as .csv"),
        (["predict", "{files}", "{files}/x_only.npz", "--to", "{out}"], "is not an automodel run directory"),
        (["evaluate", "{run}", "{files}/strange.csv", "--target", "label"], "label(s) 42 that the model does not know"),
        (["evaluate", "{run}", "{files}/pixels.tsv"], "has no targets to score against"),
        (["evaluate", "{run}", "{files}/flat"], "has no targets to score against"),
        (["search", "--data", "{files}/digits.csv", "--task", "image_classification", "--workers", "some"],
         "workers='some': pass 'auto', 'none' or a whole number"),
    ],
)
def test_bad_inputs_exit_2_with_one_readable_line(run_dir, files, tmp_path, args, message):
    out = tmp_path / "predictions.csv"
    done = automodel(*(a.format(run=run_dir, files=files, out=out) for a in args), timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in done.stderr
    assert len(lines) == 1 or lines[0].startswith("usage:")  # argparse shows the usage above its error
    assert not out.exists()
