"""``automodel report``: a run directory as one self-contained HTML file (``automodel.insight.report``).

The report is built from the run directory's files without TensorFlow. Only
the diagnostics of the chosen model need the model: when a run with a held-out
test split has no ``diagnostics.json`` yet (a search from before they were
written, or one that was stopped), the command computes them first through
``SearchResult.diagnostics(save=True)``, which loads TensorFlow;
``--no-diagnostics`` leaves them out instead. The target is checked before any
of that, so a file in the way costs nothing.
"""

from __future__ import annotations

from ..runs.rundir import TEST_DATA, RunDir


def add_command(commands) -> None:
    """Add ``report`` to the ``automodel`` subcommands."""
    report = commands.add_parser(
        "report", help="write a run's leaderboard, plots, diagnostics and model card as one HTML file",
        description="Write one self-contained HTML file (plots embedded, no network needed to view it) with the "
        "run's leaderboard, the search-insight plots, the chosen model's diagnostics on the test split and the "
        "model card of its export.",
    )
    report.add_argument("run_dir", metavar="RUN_DIR", help="the run directory of a search")
    report.add_argument("--to", required=True, metavar="FILE", help="the HTML file to write, e.g. report.html")
    report.add_argument("--overwrite", action="store_true", help="replace the file at --to")
    report.add_argument("--export", metavar="FOLDER", help="an export of the run (automodel export --to FOLDER) whose "
                        "model card to include (default: the newest one found beside RUN_DIR)")
    report.add_argument("--no-diagnostics", action="store_true", help="do not compute missing diagnostics (which "
                        "loads the model and TensorFlow); the report leaves them out")
    report.set_defaults(run=cmd_report)


def cmd_report(args) -> int:
    from ..insight import report
    from .files import run_dir

    run = run_dir(args.run_dir)
    report.check_target(args.to, args.overwrite)
    if not args.no_diagnostics and needs_diagnostics(run):
        compute_diagnostics(run)
    path = report.write(run.path, args.to, overwrite=args.overwrite, export=args.export)
    print(f"automodel report: wrote {path} ({path.stat().st_size / 1e3:,.0f} kB); open it in any browser.")
    return 0


def needs_diagnostics(run: RunDir) -> bool:
    """Whether the run (not an image generation one) has a test split and a trained model but no diagnostics."""
    from ..insight.diagnostics import read
    from ..runs.leaderboard import WITH_MODEL, leaderboard

    generates = run.meta()["spec"].get("target") == "generation"  # its diagnostics are the sample grid
    if generates or read(run.path) is not None or not (run.path / TEST_DATA).is_file():
        return False
    return bool(leaderboard(run.path)["status"].isin(WITH_MODEL).any()) if run.trial_ids() else False


def compute_diagnostics(run: RunDir) -> None:
    from ..startup import quiet_native_stderr
    from .files import open_result

    print(f"automodel report: computing the diagnostics of {run.path.name}'s model on its test split ...", flush=True)
    result = open_result(str(run.path))
    with quiet_native_stderr():
        result.diagnostics(save=True)
