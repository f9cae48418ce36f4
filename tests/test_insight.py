"""automodel.insight: the numbers behind the search-insight and diagnostic plots, and the plots drawn from them."""

from __future__ import annotations

import datetime
import json
import math
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import automodel
from automodel.data.prepared import in_memory
from automodel.errors import DataError, SearchError
from automodel.insight import diagnostics, figures, search
from automodel.runs import liveness
from automodel.runs.rundir import RunDir

START = 1_700_000_000  # the synthetic runs' start, in seconds since the epoch


def write_run(path, trials, objective="val_accuracy", direction="max", source="arrays"):
    """A finished run directory written by hand: ``trials`` are dicts of id, architecture, status, objective,
    started and seconds (from START), values (hyperparameters), and optional history and pruned."""
    path.mkdir(parents=True)
    created = datetime.datetime.fromtimestamp(START, datetime.timezone.utc).isoformat(timespec="seconds")
    meta = {"task": "image_classification", "objective": {"name": objective, "direction": direction},
            "status": "finished", "created": created, "data": {"source": source}}
    (path / "run.json").write_text(json.dumps(meta))
    for trial in trials:
        folder = path / f"trial_{trial['id']}"
        folder.mkdir()
        record = {"trial_id": trial["id"], "architecture": trial.get("architecture", "a"), "status": trial["status"],
                  "started": START + trial["started"], "sessions": [{"started": START + trial["started"]}],
                  "epochs": trial.get("epochs", 5), "history": trial.get("history", {})}
        if trial.get("seconds") is not None:
            record["seconds"] = trial["seconds"]
        if "pruned" in trial:
            record["pruned"] = {"epoch": trial["pruned"], "value": trial["objective"], "median": 0.9, "trials": 3}
        (folder / "automodel_trial.json").write_text(json.dumps(record))
        values = {"architecture": record["architecture"], **trial.get("values", {})}
        score = trial.get("objective")
        metrics = {} if score is None else {objective: {"observations": [{"value": [score], "step": 4}]}}
        status = {"completed": "COMPLETED", "pruned": "COMPLETED", "running": "RUNNING"}.get(trial["status"], "FAILED")
        kt_trial = {"trial_id": trial["id"], "status": status, "hyperparameters": {"values": values},
                    "metrics": {"metrics": metrics}}
        (folder / "trial.json").write_text(json.dumps(kt_trial))
    return path


# the trials end out of order (two workers), one fails, one is pruned, one was training when its search died
TIMELINE = [
    dict(id="0", architecture="a", status="completed", objective=0.5, started=0, seconds=10),
    dict(id="1", architecture="a", status="failed", objective=None, started=10, seconds=2),
    dict(id="2", architecture="b", status="completed", objective=0.7, started=12, seconds=20),
    dict(id="3", architecture="b", status="pruned", objective=0.6, started=14, seconds=10, pruned=3),
    dict(id="4", architecture="a", status="completed", objective=0.65, started=32, seconds=5),
    dict(id="5", architecture="b", status="running", objective=None, started=37, seconds=None),
]


@pytest.fixture
def timeline(tmp_path):
    return write_run(tmp_path / "timeline", TIMELINE)


def test_trials_are_in_trial_order_with_their_end_times_and_pruning(timeline):
    frame = search.trials(timeline)
    assert list(frame["trial"]) == ["0", "1", "2", "3", "4", "5"]
    assert list(frame["status"]) == ["completed", "failed", "completed", "pruned", "completed", "interrupted"]
    assert frame["ended"].tolist()[:5] == [10, 12, 32, 24, 37] and math.isnan(frame["ended"].iloc[5])
    assert math.isnan(frame["objective"].iloc[1]) and frame["objective"].iloc[2] == 0.7
    assert frame["pruned_at"].iloc[3] == 3 and frame["pruned_at"].isna().sum() == 5


def test_the_best_so_far_line_is_the_running_best_in_the_order_trials_ended(timeline):
    over_time = search.objective_over_time(timeline)
    assert list(over_time["trial"]) == ["0", "1", "3", "2", "4"]  # the interrupted trial has not ended
    assert over_time["best_so_far"].tolist() == [0.5, 0.5, 0.6, 0.7, 0.7]
    assert list(over_time["status"]) == ["completed", "failed", "pruned", "completed", "completed"]


def test_a_folder_that_is_no_run_is_a_clear_error(tmp_path):
    with pytest.raises(SearchError, match="not an automodel run directory"):
        figures.search_figures(tmp_path)


def test_a_minimised_objective_keeps_the_lowest_so_far(tmp_path):
    losses = [dict(id=str(i), status="completed", objective=v, started=i * 10, seconds=10)
              for i, v in enumerate([0.9, 0.4, 0.6, 0.3])]
    run = write_run(tmp_path / "loss", losses, objective="val_loss", direction="min")
    assert search.objective_over_time(run)["best_so_far"].tolist() == [0.9, 0.4, 0.4, 0.3]
    assert search.direction(run) == "min" and search.objective_name(run) == "val_loss"


def test_the_objective_figure_draws_the_running_best_and_marks_pruned_and_failed_trials(timeline):
    axes = figures.objective_figure(timeline).axes[0]
    points = {c.get_label(): c for c in axes.collections}
    assert set(points) == {"completed", "pruned", "failed"}
    assert points["completed"].get_offsets()[:, 1].tolist() == [0.5, 0.7, 0.65]
    assert points["pruned"].get_offsets().tolist() == [[24, 0.6]]
    failed = points["failed"]
    assert failed.get_offsets().tolist() == [[12, 0.02]]  # at the bottom edge: y in axes coordinates
    bottom = axes.transAxes.transform([[0, 0.02]])[0][1]
    assert failed.get_offset_transform().transform([[12, 0.02]])[0][1] == pytest.approx(bottom)
    best = next(line for line in axes.get_lines() if line.get_label() == "best so far")
    assert best.get_ydata().tolist() == [0.5, 0.6, 0.7, 0.7, 0.7]  # carried on past the last trial
    assert best.get_xdata()[-1] > max(points["completed"].get_offsets()[:, 0])
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["best so far", "completed", "pruned", "failed"]


def test_the_architecture_summary_counts_and_scores_each_architecture(timeline):
    summary = search.architecture_summary(timeline).set_index("architecture")
    assert summary.loc["b"].to_dict() == pytest.approx({"trials": 3, "completed": 1, "pruned": 1, "failed": 0,
                                                        "best": 0.7, "median": 0.65})
    assert summary.loc["a"].to_dict() == pytest.approx({"trials": 3, "completed": 2, "pruned": 0, "failed": 1,
                                                        "best": 0.65, "median": 0.575})
    assert list(summary.index) == ["b", "a"]  # best first
    axes = figures.architecture_figure(timeline).axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["b\n(3 trials)", "a\n(3 trials)"]
    best, median = (axes.collections[i].get_offsets()[:, 1] for i in (1, 2))  # after the lines joining them
    assert list(best) == pytest.approx([0.7, 0.65]) and list(median) == pytest.approx([0.65, 0.575])


def synthetic_search(count=12, seed=0):
    """Trials whose objective is set by ``a/units`` alone; ``a/dropout`` and ``a/activation`` are noise, and
    ``a/extra_units`` is defined only in the trials that chose ``a/extra``, as a conditional hyperparameter is."""
    rng = np.random.default_rng(seed)
    made = []
    for i in range(count):
        units = int(rng.choice([8, 16, 32, 64, 96, 128]))
        extra = bool(rng.integers(2))
        values = {"a/units": units, "a/dropout": float(rng.uniform(0, 0.5)),
                  "a/activation": str(rng.choice(["relu", "tanh"])), "a/extra": extra,
                  **({"a/extra_units": int(rng.choice([4, 8]))} if extra else {})}
        history = {"val_accuracy": [units / 200 * (e + 1) / 5 for e in range(5)], "val_loss": [1.0] * 5}
        made.append(dict(id=str(i), status="completed", objective=units / 200, started=i * 10, seconds=10,
                         values=values, history=history))
    return made


def test_importance_finds_the_hyperparameter_that_sets_the_objective_and_names_its_method(tmp_path):
    run = write_run(tmp_path / "synthetic", synthetic_search())
    found = search.importance(run)
    assert found.method == search.IMPORTANCE_METHOD
    assert "permutation importance" in found.method and "random forest" in found.method
    assert "scikit-learn" in found.method
    assert found.trials == 12
    assert set(found.values) == {"a/units", "a/dropout", "a/activation", "a/extra", "a/extra_units"}
    assert list(found.values)[0] == "a/units"
    assert found.values["a/units"] > 5 * max(abs(v) for k, v in found.values.items() if k != "a/units")
    assert list(found.values.values()) == sorted(found.values.values(), reverse=True)
    title = figures.importance_figure(run).axes[0].get_title()
    assert "random forest" in title.replace("\n", " ") and "permutation importance" in title.replace("\n", " ")


def test_importance_across_architectures_ranks_the_choice_of_architecture(tmp_path):
    made = synthetic_search()
    for trial in made:  # every other trial is architecture b: the architecture sets the objective
        if int(trial["id"]) % 2:
            trial["objective"] = 0.8 + trial["values"]["a/units"] / 100_000
        else:
            trial.update(architecture="b", objective=0.3, values={"b/depth": 2 if int(trial["id"]) % 4 else 3})
    found = search.importance(write_run(tmp_path / "two", made))
    assert list(found.values)[0] == "architecture" and found.values["architecture"] > 0.5
    assert found.values["b/depth"] == pytest.approx(0, abs=0.01)  # no part in b's objective


def test_importance_needs_four_trials_with_an_objective(timeline, tmp_path):
    few = search.importance(write_run(tmp_path / "few", synthetic_search(count=3)))
    assert few.values == {} and few.trials == 3 and few.method == search.IMPORTANCE_METHOD
    assert figures.importance_figure(tmp_path / "few") is None


def test_parallel_coordinates_code_categories_and_keep_their_labels(tmp_path):
    made = synthetic_search()
    made.append(dict(id="12", status="failed", objective=None, started=200, seconds=1, values={"a/units": 8}))
    run = write_run(tmp_path / "synthetic", made)
    frame = search.parallel_coordinates(run)
    assert list(frame.index) == [str(i) for i in range(12)]  # the failed trial has no objective
    assert list(frame.columns)[-1] == "objective" and "a/units" in frame.columns
    assert frame.attrs["labels"]["a/activation"] == ["relu", "tanh"]
    for trial in made[:12]:
        row = frame.loc[trial["id"]]
        assert row["a/activation"] == ["relu", "tanh"].index(trial["values"]["a/activation"])
        assert row["a/units"] == trial["values"]["a/units"] and row["objective"] == trial["objective"]
        assert math.isnan(row["a/extra_units"]) == (not trial["values"]["a/extra"])
    axes = figures.parallel_coordinates_figure(run).axes[0]
    assert len(axes.get_lines()) == 12


def test_curves_default_to_the_best_eight_trials(tmp_path):
    made = synthetic_search()
    run = write_run(tmp_path / "synthetic", made)
    ranked = sorted(made, key=lambda t: -t["objective"])  # stable: ties keep trial order
    chosen = search.curves(run)
    assert list(chosen) == [t["id"] for t in ranked[:8]]
    assert chosen[ranked[0]["id"]] == ranked[0]["history"]["val_accuracy"]
    assert search.curves(run, ["3"], metric="val_loss") == {"3": [1.0] * 5}
    assert len(figures.curves_figure(run).axes[0].get_lines()) == 8


def test_search_figures_has_every_figure_with_data(tmp_path, timeline):
    run = write_run(tmp_path / "synthetic", synthetic_search())
    assert set(figures.search_figures(run)) == {"objective", "parallel_coordinates", "importance", "curves",
                                                "architectures"}
    assert set(figures.search_figures(timeline)) == {"objective", "parallel_coordinates", "importance",
                                                     "architectures"}  # its trials recorded no curves
    assert figures.png(figures.objective_figure(run)).startswith(b"\x89PNG")
    assert figures.diagnostic_figures(run) == {}


# -- diagnostics ------------------------------------------------------------------------


def test_classification_diagnostics_are_scikit_learns_and_mistakes_most_confident_first():
    classes = ["cat", "dog", "eel"]
    y = ["cat", "cat", "dog", "dog", "eel", "eel", "cat"]
    probabilities = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1],
                              [0.1, 0.1, 0.8], [0.05, 0.9, 0.05], [0.5, 0.2, 0.3]])
    found = diagnostics.classification(y, probabilities, classes)
    predicted = [classes[i] for i in probabilities.argmax(axis=1)]
    assert found["confusion"] == confusion_matrix(y, predicted, labels=classes).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=classes, zero_division=0)
    assert [found["report"][c]["recall"] for c in classes] == pytest.approx(recall.tolist())
    assert [found["report"][c]["support"] for c in classes] == support.tolist()
    assert found["accuracy"] == pytest.approx(4 / 7)
    assert found["mistakes"] == [
        {"index": 5, "true": "eel", "predicted": "dog", "confidence": 0.9},
        {"index": 1, "true": "cat", "predicted": "dog", "confidence": 0.7},
        {"index": 3, "true": "dog", "predicted": "cat", "confidence": 0.6},
    ]
    assert len(diagnostics.classification(y, probabilities, classes, top=2)["mistakes"]) == 2
    with pytest.raises(DataError, match="not trained on: fox"):
        diagnostics.classification(["fox"], probabilities[:1], classes)
    with pytest.raises(DataError, match="one column per class"):
        diagnostics.classification(y, probabilities[:, :2], classes)


def test_mistakes_of_texts_and_series_are_shown_as_snippets_and_lines():
    texts = np.array(["a fine film", "dull and far too long", "loved it"], dtype=object)
    found = diagnostics.classification(["pos", "neg", "pos"], [[0.2, 0.8], [0.1, 0.9], [0.6, 0.4]], ["neg", "pos"])
    shown = figures.mistakes_figure({**found, "inputs": "text"}, texts)
    assert [m["index"] for m in found["mistakes"]] == [1, 2]
    assert shown.axes[0].texts[0].get_text() == "dull and far too long" and not shown.axes[0].images
    series = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, -3.4028235e38], [2.0, 1.0, 0.0]])  # row 1: a shorter series
    lines = figures.mistakes_figure({**found, "inputs": "sequence"}, series).axes[0].get_lines()
    assert np.isnan(lines[0].get_ydata()[2])  # the padding of a shorter series is not drawn


def test_regression_diagnostics_residuals_are_true_minus_predicted():
    true, predicted = np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.5, 2.0, 3.0, 9.0])
    found = diagnostics.regression(true, predicted)
    assert found["residuals"] == [-0.5, 0.0, 1.0, -1.0]
    assert found["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert found["mae"] == pytest.approx(2.5 / 4)
    with pytest.raises(DataError, match="4 values but the predictions 3"):
        diagnostics.regression(true, predicted[:3])
    axes = figures.regression_figure(found).axes
    assert axes[0].collections[0].get_offsets().tolist() == np.stack([true, predicted], axis=1).tolist()
    assert axes[1].collections[0].get_offsets()[:, 1].tolist() == found["residuals"]


def test_a_finished_search_writes_the_diagnostics_of_its_model_on_the_test_split(digits_run):
    saved = diagnostics.read(digits_run.path)
    assert saved["kind"] == "classification" and saved["split"] == "test"
    assert saved["model"] == digits_run.model_source()
    x, y = in_memory(digits_run.test_split())
    true = np.asarray(digits_run.classes)[y]
    probabilities = digits_run.predict_proba(x)
    predicted = digits_run.predict(x)
    assert saved["confusion"] == confusion_matrix(true, predicted, labels=digits_run.classes).tolist()
    assert saved["accuracy"] == pytest.approx(float(np.mean(predicted == true)))
    wrong = int((predicted != true).sum())
    assert len(saved["mistakes"]) == min(diagnostics.MISTAKES_SHOWN, wrong)
    confidences = [mistake["confidence"] for mistake in saved["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    for mistake in saved["mistakes"]:
        row = mistake["index"]
        assert predicted[row] == mistake["predicted"] != true[row] == mistake["true"]
        assert mistake["confidence"] == pytest.approx(float(probabilities[row].max()), abs=1e-6)
    again = digits_run.diagnostics()  # computed now, not read back
    assert again["confusion"] == saved["confusion"]
    assert [m["index"] for m in again["mistakes"]] == [m["index"] for m in saved["mistakes"]]


def test_the_result_plots_its_diagnostics_and_its_search(digits_run):
    saved = diagnostics.read(digits_run.path)
    matrix = digits_run.plot_confusion_matrix().axes[0].images[0].get_array()
    assert np.asarray(matrix).tolist() == saved["confusion"]
    mistakes = digits_run.plot_mistakes()
    if saved["mistakes"]:
        assert sum(1 for axes in mistakes.axes if axes.images) == len(saved["mistakes"])
    with pytest.raises(SearchError, match="plot_confusion_matrix"):
        digits_run.plot_residuals()
    shown = figures.diagnostic_figures(digits_run.path)
    assert "confusion" in shown and ("mistakes" in shown) == bool(saved["mistakes"])
    assert digits_run.architecture_summary().iloc[0]["trials"] == 2
    assert digits_run.plot_objective() is not None and digits_run.plot_learning_curves(["0"]) is not None
    assert digits_run.plot_architectures() is not None
    assert digits_run.plot_importance() is None  # two trials are too few to fit a forest to
    x, y = in_memory(digits_run.test_split())
    given = digits_run.diagnostics((x[:20], np.asarray(digits_run.classes)[y[:20]]))
    assert given["split"] == "given" and sum(map(sum, given["confusion"])) == 20
    with pytest.raises(SearchError, match="without data"):
        digits_run.diagnostics((x, y), save=True)
    assert "_repr_png_" in vars(digits_run.plot_objective())  # a notebook shows it without pyplot


def test_failing_diagnostics_only_warn(digits_run, tmp_path, monkeypatch):
    from automodel import api

    copy = shutil.copytree(digits_run.path, tmp_path / "copy")
    result = automodel.open_run(copy)

    def broken(*args, **kwargs):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(type(result), "diagnostics", broken)
    with pytest.warns(UserWarning, match="diagnostics of the chosen model on the test split failed"):
        api._save_diagnostics(result)
    assert diagnostics.read(copy) is None  # the earlier session's is not left behind, of another model


def test_a_regression_search_writes_its_residuals(tmp_path):
    rng = np.random.default_rng(0)
    amplitude = rng.uniform(0.5, 2.0, 60)
    x = (amplitude[:, None] * np.sin(np.linspace(0, 6, 40))[None, :] + rng.normal(0, 0.05, (60, 40)))[..., None]
    result = automodel.search(task="sequence_regression", data=(x, amplitude), architectures=["rocket"],
                              tuner="random", max_trials=1, directory=tmp_path, name="waves", seed=0,
                              validation="split")
    saved = diagnostics.read(result.path)
    assert saved["kind"] == "regression" and saved["model"] == result.model_source()
    test_x, test_y = in_memory(result.test_split())
    predicted = result.predict(test_x).ravel()
    assert saved["residuals"] == pytest.approx((test_y - predicted).tolist(), abs=1e-5)
    assert saved["rmse"] == pytest.approx(float(np.sqrt(np.mean((test_y - predicted) ** 2))), rel=1e-4)
    assert set(figures.diagnostic_figures(result.path)) == {"regression", "residuals"}
    assert result.plot_residuals() is not None
    with pytest.raises(SearchError, match="plot_residuals"):
        result.plot_confusion_matrix()


def test_the_sample_grid_is_the_best_trials_else_the_one_training(tmp_path):
    from automodel.engine import generation

    assert diagnostics.SAMPLE_GRID == generation.SAMPLE_GRID
    made = [dict(id="0", status="completed", objective=40.0, started=0, seconds=5),
            dict(id="1", status="completed", objective=20.0, started=5, seconds=5),
            dict(id="2", status="running", objective=None, started=10, seconds=None)]
    run = write_run(tmp_path / "gan", made, objective="fid", direction="min")
    RunDir(run).update_meta(status="running")
    with liveness.beating(RunDir(run)):  # its search is alive: trial 2 is training
        assert diagnostics.sample_grid(run) is None
        (run / "trial_2" / "samples.png").write_bytes(b"training")
        assert diagnostics.sample_grid(run) == run / "trial_2" / "samples.png"
        for trial in ("0", "1"):
            (run / f"trial_{trial}" / "samples.png").write_bytes(trial.encode())
        assert diagnostics.sample_grid(run) == run / "trial_1" / "samples.png"  # the lowest distance
    assert diagnostics.sample_grid(run, "0") == run / "trial_0" / "samples.png"
    assert diagnostics.sample_grid(run, "7") is None


def test_insight_imports_no_tensorflow(tmp_path):
    run = write_run(tmp_path / "synthetic", synthetic_search())
    confusion = diagnostics.classification([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1])
    diagnostics.write(run, {**confusion, "model": {"trial": "0"}, "split": "test", "inputs": "image"})
    np.savez(run / "test_data.npz", x=np.zeros((3, 4, 4, 1)), y=np.array([0, 1, 1]))
    code = textwrap.dedent(f"""
        import sys
        import automodel.insight as insight
        drawn = insight.figures.search_figures({str(run)!r})
        shown = insight.figures.diagnostic_figures({str(run)!r})
        print(sorted(drawn), sorted(shown), 'tensorflow' in sys.modules, 'keras' in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    assert out == ("['architectures', 'curves', 'importance', 'objective', 'parallel_coordinates'] "
                   "['confusion', 'mistakes'] False False")
