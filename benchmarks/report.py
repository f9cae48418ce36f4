"""The results of one ``python -m benchmarks`` run as Markdown tables (``RESULTS.md``).

Pure formatting: ``render(results)`` takes the dictionary ``__main__.py``
gathers and returns the document. A section that was not run is left out; one
that failed says so in its place.
"""

from __future__ import annotations

from benchmarks.memory import CHECKPOINTS

COMMAND = "python -m benchmarks"
TITLE = "# Benchmark results"
PEER = "keras-tuner"


def render(results: dict) -> str:
    machine, settings = results["machine"], results["settings"]
    parts = [
        TITLE,
        f"Written by `{COMMAND}{' --quick' if settings.get('quick') else ''}` in "
        f"{_minutes(results.get('total_seconds'))}. Every measurement ran in a fresh process.",
        _machine(machine),
    ]
    devices = {device: measured for device, measured in results.get("devices", {}).items() if measured}
    for device, measured in devices.items():
        parts.append(f"## On the {_device_name(device, machine)}")
        if "overhead" in measured:
            parts += [_overhead(measured["overhead"], settings), _duty_cycle(measured["overhead"])]
    if devices and "GPU" not in devices:
        parts.append(f"## On a GPU\n\n{results.get('gpu_note') or 'Not measured.'}")
    if "quality" in results:
        parts.append(_quality(results["quality"], settings, machine))
    if "gpu_sharing" in results:
        parts.append(_gpu_sharing(results["gpu_sharing"], settings, machine))
    if "startup" in results:
        parts.append(_startup(results["startup"]))
    if "memory" in results:
        parts.append(_memory(results["memory"], settings))
    return "\n\n".join(part.strip() for part in parts) + "\n"


def table(header: list[str], rows: list[list]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def _machine(m: dict) -> str:
    gpus = ", ".join(gpu["name"] for gpu in m.get("gpus", [])) or "none visible to TensorFlow"
    cores = f"{m['cores']} logical ({m['physical_cores']} physical), {m['usable_cores']} usable"
    rows = [
        ["CPU", m["cpu"]],
        ["cores", cores],
        ["memory", f"{m['memory_gib']:.1f} GiB"],
        ["GPU", gpus],
        ["system", m["os"]],
        ["Python", m["python"]],
        ["TensorFlow / Keras / KerasTuner", f"{m['tensorflow']} / {m['keras']} / {m['keras_tuner']}"],
        ["automodel / scikit-learn / aeon",
         f"{m['automodel']} / {m['scikit-learn']} / {m.get('aeon', 'not recorded')}"],
        ["date", m["date"]],
    ]
    return table(["machine", ""], rows)


def _device_name(device: str, machine: dict) -> str:
    if device == "GPU" and machine.get("gpus"):
        return f"GPU ({machine['gpus'][0]['name']})"
    return device


def _failed(section: dict) -> str | None:
    return f"Failed: {section['error']}" if isinstance(section, dict) and "error" in section else None


def _overhead(runs: dict, settings: dict) -> str:
    intro = (
        f"### Overhead\n\nThe same random search of the `cnn` plugin's space on digits, {settings['trials']} trials "
        f"of up to {_count(settings['epochs'], 'epoch')}, seed {settings['seed']}, written by hand with KerasTuner and "
        f"through `automodel.search`, {_turns(settings.get('repeats', 1))}, each in a fresh process "
        "(`benchmarks/overhead.py`). The rows come from each variant's fastest run; its CPU time is less disturbed "
        "than the wall time by other work on the machine."
    )
    failed = [_failed(run) for run in runs.values() if _failed(run)]
    if failed:
        return intro + "\n\n" + "\n".join(failed)
    ours, peer = runs["automodel"], runs[PEER]
    same = sum(a == b for a, b in zip(ours["hyperparameters"], peer["hyperparameters"]))
    drawn = max(len(ours["hyperparameters"]), len(peer["hyperparameters"]))
    fastest = f"fastest of {_count(max(len(run.get('every_seconds', [0])) for run in (ours, peer)), 'run')}"
    rows = [
        [f"search wall time, {fastest}", _s(ours["seconds"]), _s(peer["seconds"]),
         f"**{ours['seconds'] / peer['seconds']:.2f}**"],
        ["search CPU time (all threads), same run", _s(ours["cpu_seconds"]), _s(peer["cpu_seconds"]),
         f"{ours['cpu_seconds'] / peer['cpu_seconds']:.2f}"],
        ["wall time of every run", _every(ours), _every(peer), ""],
        ["best validation accuracy", f"{ours['best_val_accuracy']:.4f}", f"{peer['best_val_accuracy']:.4f}", ""],
        ["trials completed, epochs trained", f"{ours['trials']}, {ours['phases'].get('epochs', 0):.0f}",
         f"{peer['trials']}, {peer['phases'].get('epochs', 0):.0f}", ""],
        ["the same hyperparameters drawn", f"{same} of {drawn} trials", "", ""],
    ]
    return intro + "\n\n" + table(["", "automodel", "plain KerasTuner", "automodel / KerasTuner"], rows)


def _duty_cycle(runs: dict) -> str:
    intro = (
        "### Duty cycle\n\nShare of the search's wall time spent inside training steps, summed by a Keras "
        "callback from `on_train_batch_begin` to `on_train_batch_end` over every batch of every trial "
        "(`benchmarks/timing.py`; in automodel through the plugin's public `fit` hook), from the runs above."
    )
    if any(_failed(run) for run in runs.values()):
        return intro + "\n\nNot measured: the runs above failed."
    shares = {name: _shares(run) for name, run in runs.items()}
    labels = [
        ("steps", "**in training steps**"),
        ("first_steps", "of which each trial's first step (graph tracing)"),
        ("validation", "in validation, inside `fit`"),
        ("callbacks", "rest of `fit`: the loop between steps, each epoch's data and callbacks "
                      "(records, backups, checkpoints)"),
        ("outside", "outside `fit` (building models, the tuner, data, trial files)"),
    ]
    rows = [[label, f"{shares['automodel'][key]:.0%}", f"{shares[PEER][key]:.0%}"] for key, label in labels]
    return intro + "\n\n" + table(["share of the search's wall time", "automodel", "plain KerasTuner"], rows)


def _shares(run: dict) -> dict:
    wall, spent = run["seconds"], run["phases"]
    steps, validation, fit = spent.get("steps", 0.0), spent.get("validation", 0.0), spent.get("fit", 0.0)
    return {
        "steps": steps / wall,
        "first_steps": spent.get("first_steps", 0.0) / wall,
        "validation": validation / wall,
        "callbacks": max(fit - steps - validation, 0.0) / wall,
        "outside": max(wall - fit, 0.0) / wall,
    }


def _quality(quality: dict, settings: dict, machine: dict) -> str:
    """One row per data set, one column per method (and budget); footnotes for failures and caveats."""
    columns, notes = quality["columns"], Footnotes()
    budgets = " and ".join(f"{budget:g} s" for budget in settings["budgets"])
    intro = (
        "## Quality\n\nEach data set's score on its test set: accuracy, or for regression the root-mean-square error "
        "(RMSE, lower is better), with the seconds each method took (fitting and choosing; for automodel the whole "
        "`automodel.search` call) and the trials the searches completed. The best score in each row is in bold. Every "
        f"cell is a fresh process, seed {settings['seed']}; {_where_trained(quality['device'], machine)} "
        "(`benchmarks/quality.py`).\n\n"
        "Every method learns from the same training set and is scored on the same test set: for digits the test "
        "split of automodel's seeded 70/15/15 split, the rest as the training set; for the UCR/UEA sets that aeon "
        "ships, their published train/test split (`benchmarks/quality_data.py`, `benchmarks/baselines.py`):\n\n"
        f"- **automodel** with a time budget of {budgets}: `automodel.search(task=..., data=training set, "
        "test_data=test set, time_budget=B, seed=...)` and nothing more: it searches every installed architecture "
        "for the task, picks its own training settings, validates on a split of the training set (the same split "
        "as the baselines below) or by cross-validation on small data (CV in the cell), and refits its best model "
        "on the whole training set. Scored by `result.evaluate()` (accuracy) or the RMSE of `result.predict()`.\n"
        f"- **plain KerasTuner**, the same budgets: a small Conv2D (images) or Conv1D (sequences) `kt.HyperModel`, "
        f"`RandomSearch`, {_count(settings['peer_epochs'], 'epoch')} per trial, trained on automodel's training "
        "split with `validation_data=` its validation split (the table's fit + validation), stopped at the budget; "
        "its best model is scored.\n"
        "- **scikit-learn**: logistic regression (ridge for regression), an SVM with an RBF kernel (SVC, SVR) and a "
        "random forest on the flattened inputs, each tuned by a small grid: fitted on automodel's training split, "
        "chosen on its validation split.\n"
        "- **1-NN** (Euclidean distance) and **MiniRocket** (aeon's; sequences only), by the UCR protocol: fitted "
        "on the whole training set."
    )
    padded = [f"{row['dataset']} ({row['lengths'][0]}-{row['lengths'][1]} steps)"
              for row in quality["rows"] if row.get("lengths")]
    if padded:
        intro += (f"\n\n{' and '.join(padded)} {'hold' if len(padded) > 1 else 'holds'} series of unequal length: "
                  "every method gets them padded at the end to the longest series of the training and test sets, "
                  "with zeros for the baselines and with automodel's padding value for automodel, whose models "
                  "mask it.")
    header = ["data set", "train (fit + validation) / test", "classes", "score",
              *(column["key"] for column in columns)]
    rows = [_quality_row(row, columns, notes) for row in quality["rows"]]
    return "\n\n".join([intro, table(header, rows), *notes.lines(), _ensembles(quality)])


def _ensembles(quality: dict) -> str:
    """automodel's best single model beside its ensemble: test score and prediction time per sample."""
    rows = []
    for row in quality["rows"]:
        for column in quality["columns"]:
            cell = row.get("cells", {}).get(column["key"]) or {}
            if column["method"] != "automodel" or "models" not in cell:
                continue
            single, chosen = cell["models"]["single"], cell["models"].get("ensemble")
            metric = "RMSE" if row.get("classes") is None else "accuracy"
            rows.append([row["dataset"], f"{column['budget']:g} s", metric, f"{single['score']:.4f}",
                         f"{single['ms_per_sample']:.3g}",
                         f"{chosen['score']:.4f}" if chosen else "-", f"{chosen['ms_per_sample']:.3g}" if chosen else "-",
                         chosen["members"] if chosen else cell.get("no_ensemble", "-"), cell["default"]])
    if not rows:
        return ""
    intro = (
        "### automodel's best single model and its ensemble\n\nThe same searches: the best trial (its final refit) "
        "and the ensemble selected over the trials on their validation predictions (`automodel/engine/ensemble.py`), each "
        "scored on the test set, with the time `result.predict` takes per test sample (median of three calls). "
        "The default is the model `result.predict()` uses: the ensemble when it scored better on validation."
    )
    header = ["data set", "budget", "score", "best single", "ms / sample", "ensemble", "ms / sample", "members",
              "default"]
    return "\n\n".join([intro, table(header, rows)])


def _quality_row(row: dict, columns: list[dict], notes: "Footnotes") -> list:
    name = row["dataset"]
    if _failed(row):
        return [name, f"failed {notes.mark(name + ': ' + row['error'])}", "", "", *[""] * len(columns)]
    cells = row["cells"]
    regression = row["classes"] is None
    scores = [round(cell["score"], 4) for cell in cells.values() if "score" in cell]
    best = (min if regression else max)(scores, default=None)
    out = [name, f"{row['n_train']} ({row['n_fit']} + {row['n_validation']}) / {row['n_test']}",
           "regression" if regression else row["classes"], "RMSE" if regression else "accuracy"]
    for column in columns:
        cell = cells.get(column["key"])
        if cell is None:
            out.append("-")
        elif _failed(cell):
            out.append(f"failed {notes.mark(name + ', ' + column['key'] + ': ' + cell['error'])}")
        else:
            out.append(_quality_cell(cell, best, notes))
    return out


def _quality_cell(cell: dict, best: float, notes: "Footnotes") -> str:
    value = f"{cell['score']:.4f}"
    value = f"**{value}**" if round(cell["score"], 4) == best else value
    spent = [_s(cell["seconds"])] + ([_count(cell["trials"], "trial")] if "trials" in cell else [])
    spent += [f"{cell['pruned']} pruned"] if cell.get("pruned") else []
    validation = cell.get("validation") or {}
    spent += [f"{validation['folds']}-fold CV"] if validation.get("method") == "cv" else []
    marks = [notes.mark(f"automodel left out {name}: {reason}.") for name, reason in cell.get("left_out", {}).items()]
    return f"{value} ({', '.join(spent)}){''.join(' ' + mark for mark in marks)}"


class Footnotes:
    """Numbered notes below a table; the same text gets the same number."""

    def __init__(self):
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        return ["\n".join(f"[{i}] {text}" for i, text in enumerate(self.texts, 1))] if self.texts else []


def _where_trained(device: str, machine: dict) -> str:
    if device == "GPU":
        return f"the neural searches trained on the {_device_name(device, machine)}, the rest ran on the CPU"
    return "everything ran on the CPU"


def _gpu_sharing(runs: dict, settings: dict, machine: dict) -> str:
    intro = (
        f"## Trials per hour on one GPU\n\n`automodel.search(workers=\"auto\", trials_per_gpu=k)`, random search "
        f"of the `cnn` space on digits, {settings['sharing_trials']} trials of up to "
        f"{_count(settings['sharing_epochs'], 'epoch')} (`benchmarks/gpu_sharing.py`)."
    )
    if _failed(runs):
        return intro + "\n\n" + _failed(runs)
    rows = []
    for k, run in runs.items():
        if _failed(run):
            rows.append([k, _failed(run), "", ""])
        else:
            rows.append([k, _s(run["seconds"]), run["trials"], f"{run['trials_per_hour']:.0f}"])
    return intro + "\n\n" + table(["trials sharing the GPU", "wall time", "trials completed", "trials per hour"], rows)


def _startup(rows: dict) -> str:
    intro = (
        "## Start-up\n\nMedian of fresh processes (`benchmarks/startup.py`; the panel rows come from "
        "`benchmarks/panel_display.py`)."
    )
    cells = []
    for name, run in rows.items():
        if _failed(run):
            cells.append([name, _failed(run), "", ""])
            continue
        loaded = {True: "yes", False: "no", None: ""}[run["tensorflow"]]
        spread = f"{run['min']:.2f}-{run['max']:.2f} s, {_count(run['runs'], 'run')}"
        cells.append([name, f"{run['median']:.2f} s", spread, loaded])
    return intro + "\n\n" + table(["", "median", "range", "imports TensorFlow"], cells)


def _memory(runs: dict, settings: dict) -> str:
    intro = (
        f"## Memory\n\nResident memory of the process that trains, after {', '.join(map(str, CHECKPOINTS))} "
        f"tiny trials ({_count(settings['memory_epochs'], 'epoch')} each, one dense layer on 600 digits, on the CPU; "
        "`benchmarks/memory.py`)."
    )
    rows = []
    for name, rss in runs.items():
        if _failed(rss):
            rows.append([name, _failed(rss), *[""] * len(CHECKPOINTS)])
        else:
            rows.append([name, *(f"{rss[n]:.0f} MiB" for n in CHECKPOINTS),
                         f"{rss[CHECKPOINTS[-1]] - rss[CHECKPOINTS[0]]:+.0f} MiB"])
    header = ["variant", *(f"after {n}" for n in CHECKPOINTS), f"{CHECKPOINTS[0]} to {CHECKPOINTS[-1]}"]
    return intro + "\n\n" + table(header, rows)


def _turns(repeats: int) -> str:
    if repeats == 1:
        return "one run each"
    order = " ".join(("A B", "B A")[i % 2] for i in range(repeats))
    return f"{repeats} runs each in turn ({order})"


def _every(run: dict) -> str:
    return ", ".join(_s(seconds) for seconds in run.get("every_seconds", [run["seconds"]]))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s"


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
