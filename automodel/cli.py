"""The ``automodel`` command.

Listing commands never import TensorFlow, so they answer at once; ``search`` and
``demo`` import it when they start training. ``ui`` hands over to the desktop
app in ``automodel.widgets`` (the only command that uses a front end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import registry, settings
from .errors import AutomodelError

SUMMARY_COLUMNS = ["trial", "architecture", "status", "params", "epochs", "seconds", "reason"]
DEMO = dict(data="digits", architectures=["cnn"], tuner="bayesian", time_budget="60s", name="demo")


def _load_engine():
    from .startup import load_tensorflow

    load_tensorflow()  # without TensorFlow's C++ start-up lines
    from .engine import search

    return search


def _print_trial(event, record=None, objective=None, score=None, **info):
    if event == "chief_ready":
        print(f"chief listening on {info['address']}; start workers with:", flush=True)
        print(f"  automodel worker --chief {info['address']} --dir {info['run_dir']}", flush=True)
    if event == "refit_start":
        print("refit: retraining the best trial on training and validation data", flush=True)
    if event == "refit_end":
        done = record or {}
        print(f"refit: trial {done['trial']} on {done['samples']} samples, {done['epochs']} epochs, "
              f"{done['seconds']:.1f}s" if done else "refit: cut short by the time budget; the trial's own model is kept", flush=True)
    if event != "trial_end":
        return
    line = f"trial {record['trial_id']:>4}  {record['architecture'] or '?':<10} {record['status']:<9}"
    if score is not None:
        line += f"  {objective}={score:.4f}"
    line += f"  epochs={record.get('epochs', 0)}  {record.get('seconds', 0):.1f}s"
    if record.get("reason") or record.get("stopped"):
        line += f"  ({record.get('reason') or record.get('stopped')})"
    print(line, flush=True)


def _board_text(board, objective: str, all_columns: bool) -> str:
    import pandas as pd

    if board.empty:
        return "(no trials yet)"
    if not all_columns:
        metrics = [c for c in board.columns if c == objective or c.startswith("val_")]
        keep = SUMMARY_COLUMNS[:3] + metrics + SUMMARY_COLUMNS[3:]
        board = board[[c for c in keep if c in board.columns]]
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 60):
        return board.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")


def _read_data(path: str | None, image_size=None):
    """A data set name or a file as it is (the data layer reads it); a folder as an image folder."""
    if path is not None and os.path.isdir(path):
        from .data import image_folder

        return image_folder(path, image_size=tuple(image_size) if image_size else None)
    return path


def _run_search(options: dict) -> int:
    search = _load_engine()
    result = search(reporter=_print_trial, **options)
    meta = result.run.meta()
    print()
    print(_board_text(result.leaderboard(), meta["objective"]["name"], all_columns=False))
    print()
    print(f"run directory: {result.path}  ({meta['status']}; scored by {describe_validation(meta)})")
    source = result.model_source()
    scores = result.evaluate()
    formatted = ", ".join(f"{name}={value:.4f}" for name, value in scores.items())
    model = f"best trial {source['trial']}" + (" (refit on training and validation data)" if source["refit"] else "")
    print(f"{model} on the held-out test split: {formatted}")
    return 0


def describe_validation(meta: dict) -> str:
    from .validation import describe

    return describe(meta.get("validation") or {})


def cmd_plugins(args) -> int:
    rows = registry.list_plugins()
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=1))
        return 0
    for row in rows:
        print(f"{row.name:<12} {', '.join(row.tasks)}")
        print(f"{'':<12} {row.description}")
        print(f"{'':<12} from {row.distribution} {row.version} (plugin {row.plugin})")
    return 0


def cmd_tasks(args) -> int:
    datasets = registry.get_datasets()
    for task in registry.get_tasks().values():
        demo = [d.name for d in datasets.values() if task.name in d.tasks]
        archs = sorted(registry.get_architectures(task.name))
        print(f"{task.name:<24} {task.description}")
        print(f"{'':<24} architectures: {', '.join(archs) or '-'}; demo data: {', '.join(demo) or '-'}")
    return 0


def cmd_search(args) -> int:
    return _run_search(_search_options(args, workers="auto"))


def cmd_chief(args) -> int:
    return _run_search(dict(_search_options(args, workers=0), bind=args.bind))


def cmd_worker(args) -> int:
    from .worker import main

    return main(args)


def _workers(value: str):
    return value if value == "auto" else int(value)


def _search_options(args, workers) -> dict:
    return dict(
        task=args.task,
        data=_read_data(args.data, args.image_size),
        target=args.target[0] if args.target and len(args.target) == 1 else args.target,
        validation_data=_read_data(args.validation_data, args.image_size),
        test_data=_read_data(args.test_data, args.image_size),
        architectures=args.architectures,
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        time_budget=args.time_budget,
        directory=args.dir,
        name=args.name,
        seed=args.seed,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        patience=args.patience,
        validation=args.validation,
        workers=workers if args.workers is None else args.workers,
        trials_per_gpu=args.trials_per_gpu,
        strategy=args.strategy,
        max_worker_memory=args.max_worker_memory,
        max_params=args.max_params,
        max_consecutive_failures=args.max_consecutive_failures,
    )


def cmd_demo(args) -> int:
    print("automodel demo: a model search on the embedded digits data set (8x8 images, 10 classes)")
    return _run_search(dict(DEMO, directory=args.dir))


def cmd_leaderboard(args) -> int:
    from .leaderboard import leaderboard
    from .rundir import RunDir

    run = RunDir(args.run_dir)
    if not run.is_run():
        raise AutomodelError(f"{args.run_dir} is not an automodel run directory (no run.json).")
    board = leaderboard(run.path)
    if args.csv:
        print(board.to_csv(index=False), end="")
    else:
        meta = run.meta()
        print(f"scored by {describe_validation(meta)}")
        print(_board_text(board, meta["objective"]["name"], args.all_columns))
    return 0


def cmd_stop(args) -> int:
    from .result import open_run

    open_run(args.run_dir).request_stop()
    print(f"automodel stop: asked the search in {args.run_dir} to stop after its current epoch.")
    return 0


def cmd_export(args) -> int:
    from .model_card import CARD_MARKDOWN, summary_lines
    from .result import open_run
    from .startup import load_tensorflow, quiet_native_stderr

    result = open_run(args.run_dir)
    load_tensorflow()
    with quiet_native_stderr():  # converter chatter; errors are raised and printed below
        card = result.export(args.to, formats=args.format, trial=args.trial, overwrite=args.overwrite)
    print("\n".join(summary_lines(card)))
    print(f"model card: {os.path.join(args.to, CARD_MARKDOWN)}")
    return 0


def cmd_ui(args) -> int:
    from automodel.widgets.serve import serve  # the desktop app is a front end, like the panel it serves

    serve(args.dir, port=args.port, ip=args.ip, open_browser=not args.no_browser)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automodel", description="Plugin-based AutoML on KerasTuner.")
    commands = parser.add_subparsers(dest="command", required=True)

    plugins = commands.add_parser("plugins", help="list installed architecture plugins")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(run=cmd_plugins)

    tasks = commands.add_parser("tasks", help="list tasks, their architectures and demo data")
    tasks.set_defaults(run=cmd_tasks)

    search = argparse.ArgumentParser(add_help=False)  # the options of both search and chief
    search.add_argument("--task", help="task name (default: the demo data set's task)")
    search.add_argument(
        "--data", default="digits",
        help="a built-in data set, a .csv/.tsv (with --target) or .npz (x, y) file, or a folder of class sub-folders of images",
    )
    search.add_argument("--target", nargs="+", help="the target column(s) of a CSV file")
    search.add_argument("--image-size", nargs=2, type=int, metavar=("HEIGHT", "WIDTH"), help="resize a folder's images")
    search.add_argument("--validation-data", help="a separate validation set (same forms as --data)")
    search.add_argument("--test-data", help="a separate test set (same forms as --data)")
    search.add_argument("--architectures", nargs="+", help="architectures to try (default: all for the task)")
    search.add_argument("--tuner", default=settings.DEFAULTS["tuner"], choices=list(settings.TUNERS))
    search.add_argument("--max-trials", type=int, default=settings.DEFAULTS["max_trials"],
                        help=f"default: until --time-budget is spent, else {settings.TRIALS_WITHOUT_BUDGET}")
    search.add_argument("--epochs", type=int, default=settings.DEFAULTS["epochs"], help="most epochs of a trial (default: from the data size)")
    search.add_argument("--time-budget", help="wall-clock budget, e.g. 300, 90s, 5m, 1h")
    search.add_argument("--batch-size", type=int, default=settings.DEFAULTS["batch_size"], help="default: from the data size")
    search.add_argument("--validation", choices=list(settings.VALIDATIONS), default=settings.DEFAULTS["validation"],
                        help="how trials are scored: one split, or k-fold cross-validation (auto: on small data)")
    search.add_argument("--patience", type=int, default=settings.DEFAULTS["patience"], help="epochs without a better objective before a trial stops (default: from the epochs)")
    search.add_argument("--dir", default=settings.DEFAULTS["directory"], help="parent folder of run directories")
    search.add_argument("--name", help="run directory name (default: the data set or task name)")
    search.add_argument("--seed", type=int, default=settings.DEFAULTS["seed"])
    search.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    search.add_argument("--workers", type=_workers, help="worker processes: auto (one per GPU; search's default) or a number (chief's: 0)")
    search.add_argument("--trials-per-gpu", type=int, default=1, help="with --workers auto: trials sharing one GPU")
    search.add_argument("--strategy", choices=list(settings.STRATEGIES), help="train each trial over all local GPUs")
    search.add_argument("--max-worker-memory", help="replace a worker process past this size, e.g. 8GB")
    search.add_argument("--max-params", type=int, help="fail trials whose model has more parameters")
    search.add_argument("--max-consecutive-failures", type=int, default=settings.DEFAULTS["max_consecutive_failures"], help="failed trials in a row that end the search")
    commands.add_parser("search", parents=[search], help="run (or resume) a model search").set_defaults(run=cmd_search)

    chief = commands.add_parser(
        "chief", parents=[search], help="run a search whose trials workers on other machines train"
    )
    chief.add_argument("--bind", default="127.0.0.1:8765", help="HOST:PORT the workers connect to")
    chief.set_defaults(run=cmd_chief)

    from .worker import add_arguments

    worker = commands.add_parser("worker", help="train trials for a chief (on this machine or another)")
    add_arguments(worker)
    worker.set_defaults(run=cmd_worker)

    board = commands.add_parser("leaderboard", help="show the trials of a run directory")
    board.add_argument("run_dir")
    board.add_argument("--all-columns", action="store_true", help="include every hyperparameter")
    board.add_argument("--csv", action="store_true", help="print CSV with every column")
    board.set_defaults(run=cmd_leaderboard)

    stop = commands.add_parser("stop", help="ask a running search (any process, any machine) to stop after its epoch")
    stop.add_argument("run_dir")
    stop.set_defaults(run=cmd_stop)

    from .export import DEFAULT_FORMATS, FORMATS

    export = commands.add_parser("export", help="export a trained model for deployment, verified by each runtime")
    export.add_argument("run_dir")
    export.add_argument("--to", required=True, help="folder to write (replaced only with --overwrite)")
    export.add_argument("--format", nargs="+", choices=list(FORMATS), default=list(DEFAULT_FORMATS))
    export.add_argument("--trial", help="trial id (default: the best trial)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export at --to")
    export.set_defaults(run=cmd_export)

    ui = commands.add_parser("ui", help="open the search panel as a local web app (no notebook needed)")
    ui.add_argument("--dir", default=settings.DEFAULTS["directory"], help="folder of the runs and exports")
    ui.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    ui.add_argument("--ip", default="127.0.0.1", help="address to listen on; others can reach the app (with its token)")
    ui.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    ui.set_defaults(run=cmd_ui)

    demo = commands.add_parser("demo", help="a short search on the embedded digits data")
    demo.add_argument("--dir", default=settings.DEFAULTS["directory"], help="parent folder of the run directory")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AutomodelError as exc:
        print(f"automodel: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("automodel: interrupted; the run directory resumes where it stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
