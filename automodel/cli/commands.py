"""The ``automodel`` command.

Listing commands never import TensorFlow, so they answer at once; ``search``,
``demo``, ``predict``, ``evaluate`` and ``report`` load it for a model. ``ui``
hands over to the desktop app in ``automodel.widgets`` (the only command that
uses a front end). ``search`` and ``chief`` take their options from one table,
``options.py``, which follows ``automodel.search`` keyword by keyword.

Output is for people unless ``--json`` asks for one JSON document (one JSON
object a line for ``search``'s events), never with NaN: a missing value is null.
Exit codes: 0 done; 2 a usage or data error, said in one line on stderr before
anything is trained or written; 3 a search that stopped before its end or failed
once it had started (``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import textwrap

from .. import registry, settings
from ..errors import AutomodelError, SearchError
from ..runs import liveness
from .options import SEARCH_OPTIONS
from .output import (
    DONE,
    EXIT_CODES,
    INTERRUPTED,
    USAGE_OR_DATA_ERROR,
    board_records,
    board_text,
    describe_ensemble,
    describe_validation,
    print_json,
)
from .report import add_command as _report_command
from .search import run_search, search_options_of

BATCH_ROWS = 1024  # rows predict and evaluate read and predict at a time
DEMO = dict(data="digits", architectures=["cnn"], tuner="bayesian", time_budget="60s", name="demo")
# the libraries `automodel --version` reports, by distribution name (the first one installed of each)
VERSIONS = {
    "automodel": ("automodel",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
    "keras": ("keras",),
    "keras-tuner": ("keras-tuner",),
}


# -- search -----------------------------------------------------------------------------------------------------------


def cmd_search(args) -> int:
    """``search``, and ``chief`` (the same search, serving its trials to workers that connect)."""
    return run_search(search_options_of(args), as_json=args.json)


def cmd_worker(args) -> int:
    from ..distributed.worker import main

    return main(args)


def cmd_demo(args) -> int:
    print("automodel demo: a model search on the embedded digits data set (8x8 images, 10 classes)")
    return run_search(dict(DEMO, directory=args.dir))


# -- listing ----------------------------------------------------------------------------------------------------------


def cmd_plugins(args) -> int:
    rows = registry.list_plugins()
    if args.json:
        print_json([row.__dict__ for row in rows])
        return 0
    for row in rows:
        print(f"{row.name:<12} {', '.join(row.tasks)}")
        print(f"{'':<12} {row.description}")
        print(f"{'':<12} from {row.distribution} {row.version} (plugin {row.plugin})")
    left_out = registry.problems()  # also warned about on stderr, for the JSON form
    if left_out:
        print("\nleft out:")
        for problem in left_out:
            print(f"  {problem}")
    return 0


def cmd_tasks(args) -> int:
    datasets = registry.get_datasets()
    rows = []
    for task in registry.get_tasks().values():
        rows.append({
            "name": task.name, "inputs": task.inputs, "target": task.target, "description": task.description,
            "objective": {"name": task.objective, "direction": task.direction},
            "architectures": sorted(registry.get_architectures(task.name)),
            "demo_data": [d.name for d in datasets.values() if task.name in d.tasks],
        })
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(f"{row['name']:<24} {row['description']}")
        print(f"{'':<24} architectures: {', '.join(row['architectures']) or '-'}; "
              f"demo data: {', '.join(row['demo_data']) or '-'}")
    return 0


def cmd_leaderboard(args) -> int:
    from ..runs.leaderboard import leaderboard
    from .files import run_dir

    run = run_dir(args.run_dir)
    board = leaderboard(run.path)
    meta = run.meta()
    if args.json:
        print_json({"run_dir": str(run.path), "task": meta["task"], "status": liveness.status(run, meta),
                    "objective": meta["objective"], "validation": describe_validation(meta),
                    "trials": board_records(board)})
    elif args.csv:
        print(board.to_csv(index=False), end="")
    else:
        print(f"scored by {describe_validation(meta)}")
        print(board_text(board, meta["objective"]["name"], args.all_columns))
    return 0


def cmd_ensemble(args) -> int:
    """Select the ensemble of a run's trials again (``SearchResult.build_ensemble``), from their kept predictions."""
    from ..engine import ensemble
    from ..runs.leaderboard import leaderboard
    from .files import run_dir

    run = run_dir(args.run_dir)
    settings.check_ensemble_size(args.max_size)
    chosen = ensemble.build(run, args.max_size)
    objective = run.meta()["objective"]["name"]
    if args.json:
        print_json({"run_dir": str(run.path), "ensemble": chosen})
    else:
        print(describe_ensemble(chosen, objective))
        print(board_text(leaderboard(run.path), objective, all_columns=False))
    return 0


# -- using a run ------------------------------------------------------------------------------------------------------


def cmd_stop(args) -> int:
    """What ``SearchResult.request_stop`` does, without loading a model library: it only writes a file."""
    from ..runs import stop
    from .files import run_dir

    run = run_dir(args.run_dir)
    status = liveness.status(run)
    if status != "running":
        raise SearchError(f"{args.run_dir} is not running (its status is {status!r}), so there is nothing to stop.")
    stop.request_stop(run, "stopped by user")
    print(f"automodel stop: asked the search in {args.run_dir} to stop after its current epoch.")
    return 0


def cmd_export(args) -> int:
    from ..export.model_card import CARD_MARKDOWN, summary_lines
    from ..startup import quiet_native_stderr
    from .files import open_result

    result = open_result(args.run_dir)
    with quiet_native_stderr():  # converter chatter; errors are raised and printed below
        card = result.export(args.to, formats=args.format, trial=args.trial, overwrite=args.overwrite,
                             include_samples=args.include_samples)
    print("\n".join(summary_lines(card)))
    print(f"model card: {os.path.join(args.to, CARD_MARKDOWN)}")
    return 0


def cmd_predict(args) -> int:
    from .use import cmd_predict

    return cmd_predict(args)


def cmd_evaluate(args) -> int:
    from .use import cmd_evaluate

    return cmd_evaluate(args)


def cmd_ui(args) -> int:
    from automodel.widgets.serve import serve  # the desktop app is a front end, like the panel it serves

    serve(args.dir, root=args.root, port=args.port, ip=args.ip, open_browser=not args.no_browser)
    return 0


# -- the parser -------------------------------------------------------------------------------------------------------


def versions() -> dict:
    """The installed versions of automodel and the libraries it trains with (None: not installed), and Python's."""
    found = {name: next(filter(None, map(registry.distribution_version, dists)), None)
             for name, dists in VERSIONS.items()}
    return {**found, "python": platform.python_version()}


class _Versions(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of automodel, TensorFlow, Keras, "
                         "KerasTuner and Python, and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        for name, version in versions().items():
            print(f"{name} {version or 'not installed'}")
        parser.exit()


def _option_type(kind):
    """An option's ``kind`` for argparse, which turns an automodel error into its own usage error (exit 2)."""
    def convert(text):
        try:
            return kind(text)
        except AutomodelError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(kind, "__name__", "value")  # argparse names it in "invalid int value"
    return convert


def add_search_options(parser, **defaults) -> None:
    """The rows of ``SEARCH_OPTIONS`` as options of ``parser``; ``defaults`` replaces some of their defaults."""
    for row in SEARCH_OPTIONS:
        default = defaults.get(row.name, row.default)
        shown = "" if default in (None, False) or "default" in row.help else f" (default: {default})"
        options = dict(dest=row.name, default=default, help=row.help + shown)
        if row.kind is None:
            options["action"] = "store_true"
        else:
            options.update(type=_option_type(row.kind), choices=row.choices, metavar=row.metavar)
            if row.many:
                options["nargs"] = "+"
        parser.add_argument(row.cli_flag, **options)
    parser.add_argument("--image-size", nargs=2, type=int, metavar=("HEIGHT", "WIDTH"), help="resize a folder's images")
    parser.add_argument("--json", action="store_true", help="print each event, and the summary, as one JSON object a line")


def _rows(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows, at least 1")
    return int(text)


def _model_command(commands, name: str, run, summary: str, description: str, data_help: str, json_help: str,
                   optional_data: bool = False):
    """``predict`` or ``evaluate``: a run directory, DATA, the model to use and how to read DATA."""
    parser = commands.add_parser(name, help=summary, description=description)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory of a search")
    parser.add_argument("data", metavar="DATA", nargs="?" if optional_data else None, help=data_help)
    parser.add_argument("--trial", help=f"the model to {name} with: a trial id, refit, ensemble (default: the model "
                        "the search found)")
    parser.add_argument("--target", nargs="+", metavar="COLUMN", help="a table's target column(s), left out of the inputs")
    parser.add_argument("--key", metavar="COLUMN", help="a table's column that names each row (default: its index "
                        "column if its header is empty, else the row number)")
    parser.add_argument("--resize", action="store_true", help="resize a folder's images to the model's size")
    parser.add_argument("--batch-size", type=_rows, default=BATCH_ROWS, metavar="ROWS",
                        help=f"rows read and predicted at a time (default: {BATCH_ROWS})")
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.set_defaults(run=run)
    return parser


def _epilog() -> str:
    lines = [textwrap.fill(text, 79, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7)
             for code, text in EXIT_CODES.items()]
    return "exit status:\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automodel", description="Plugin-based AutoML on KerasTuner.",
                                     epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Versions)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_listing_commands, _search_commands, _run_commands, _report_command, _model_commands, _app_commands):
        add(commands)
    return parser


def _listing_commands(commands) -> None:
    """What is installed: plugins, tasks."""
    plugins = commands.add_parser("plugins", help="list installed architecture plugins")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(run=cmd_plugins)

    tasks = commands.add_parser("tasks", help="list tasks, their architectures and demo data")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    tasks.set_defaults(run=cmd_tasks)


def _search_commands(commands) -> None:
    """Searching: here, as a chief for other machines, or as a worker of one."""
    search = commands.add_parser("search", help="run (or resume) a model search", epilog=_epilog(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_search_options(search)
    search.set_defaults(run=cmd_search)

    chief = commands.add_parser("chief", help="run a search whose trials workers on other machines train",
                                epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_search_options(chief, workers=0, bind="127.0.0.1:8765")
    chief.set_defaults(run=cmd_search)

    from ..distributed.worker import add_arguments

    worker = commands.add_parser("worker", help="train trials for a chief (on this machine or another)")
    add_arguments(worker)
    worker.set_defaults(run=cmd_worker)


def _run_commands(commands) -> None:
    """What a run directory holds, and stopping its search."""
    board = commands.add_parser("leaderboard", help="show the trials of a run directory")
    board.add_argument("run_dir", metavar="RUN_DIR")
    board.add_argument("--all-columns", action="store_true", help="include every hyperparameter")
    shape = board.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="print CSV with every column")
    shape.add_argument("--json", action="store_true", help="print JSON with every column")
    board.set_defaults(run=cmd_leaderboard)

    chosen = commands.add_parser("ensemble", help="select the ensemble of a run's trials again (e.g. with --max-size)")
    chosen.add_argument("run_dir", metavar="RUN_DIR")
    chosen.add_argument("--max-size", type=int, help="most distinct trials in it (1: no ensemble; default: no cap)")
    chosen.add_argument("--json", action="store_true", help="print the ensemble's record as JSON")
    chosen.set_defaults(run=cmd_ensemble)

    stop = commands.add_parser("stop", help="ask a running search (any process, any machine) to stop after its epoch")
    stop.add_argument("run_dir", metavar="RUN_DIR")
    stop.set_defaults(run=cmd_stop)


def _model_commands(commands) -> None:
    """Using a run's model: predict, evaluate, export."""
    predict = _model_command(
        commands, "predict", cmd_predict, "predict with a trained model on a file or folder",
        "Predict each row of DATA (a .csv/.csv.gz/.tsv table, an .npz file with x, or a folder of images, in class "
        "sub-folders or not) with a run's model, a batch at a time, into --to.",
        data_help="the rows to predict: a file or a folder of images", json_help="print the summary as JSON",
    )
    predict.add_argument("--to", required=True, metavar="FILE", help="file to write: .csv, .tsv or .jsonl, or - for stdout")
    predict.add_argument("--proba", action="store_true", help="add each class's probability (classification)")
    predict.add_argument("--overwrite", action="store_true", help="replace the file at --to")
    _model_command(
        commands, "evaluate", cmd_evaluate, "score a trained model on the held-out split or on a file or folder with targets",
        "The metrics of a run's model on its held-out test split, or on DATA with its targets (the forms predict "
        "reads), and the confusion matrix for classification.",
        data_help="data with targets (default: the held-out split)", json_help="print JSON", optional_data=True,
    )

    from ..export.exporter import DEFAULT_FORMATS, FORMATS

    export = commands.add_parser("export", help="export a trained model for deployment, verified by each runtime")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--to", required=True, help="folder to write (replaced only with --overwrite)")
    export.add_argument("--format", nargs="+", choices=list(FORMATS), default=list(DEFAULT_FORMATS))
    export.add_argument("--trial", help="the model to export: a trial id, refit, ensemble (default: the model the "
                        "search found)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export at --to")
    export.add_argument("--include-samples", action="store_true", help="also write the test rows it is verified on")
    export.set_defaults(run=cmd_export)


def _app_commands(commands) -> None:
    """The desktop app, and a first demo search."""
    ui = commands.add_parser("ui", help="open the search panel as a local web app (no notebook needed)")
    ui.add_argument("--root", help="the one folder the app reaches (default: the current folder)")
    ui.add_argument("--dir", help=f"the runs and exports folder, in --root (default: {settings.DEFAULTS['directory']})")
    ui.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    ui.add_argument("--ip", default="127.0.0.1", help="address to listen on; others can reach the app (with its token)")
    ui.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    ui.set_defaults(run=cmd_ui)

    demo = commands.add_parser("demo", help="a short search on the embedded digits data")
    demo.add_argument("--dir", default=settings.DEFAULTS["directory"], help="parent folder of the run directory")
    demo.set_defaults(run=cmd_demo)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AutomodelError as exc:
        print(f"automodel: error: {exc}", file=sys.stderr)
        return USAGE_OR_DATA_ERROR
    except KeyboardInterrupt:
        print("automodel: interrupted; the run directory resumes where it stopped.", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # `automodel ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return DONE

