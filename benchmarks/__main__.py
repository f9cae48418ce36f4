"""``python -m benchmarks``: automodel beside its peers, every measurement in one run.

Run from the repository root. It measures, each in fresh processes, and writes
the tables to ``benchmarks/RESULTS.md`` with the machine they ran on:

- overhead and duty cycle: one search by hand with KerasTuner and through
  automodel, twice each (``overhead.py``, ``timing.py``);
- quality: automodel with each time budget beside the baselines a user would
  otherwise pick (scikit-learn, 1-NN, MiniRocket, a plain KerasTuner search) on
  digits and UCR/UEA sets (``quality.py``; aeon's data sets and MiniRocket need
  ``pip install -e ".[bench]"``);
- start-up: import, plugin listing, the panel (``startup.py``, ``panel_display.py``);
- memory after 5, 15 and 30 trials (``memory.py``);
- with a GPU: overhead and duty cycle again on it, the quality searches on it
  instead of the CPU, and trials per hour with one and with several trials
  sharing it (``gpu_sharing.py``).

Quality dominates the time: each data set takes twice the sum of the budgets
(automodel and KerasTuner each search once per budget) plus about 4 minutes of
baselines and process starts, so about 2.8 hours for the 6 data sets with the
default budgets (``--budgets 120`` alone: about 1 hour); the other sections take
about 10 minutes on a 2-core CPU. ``--quick`` runs everything small (the quality
table on three of the data sets, budgets of 10 and 20 s), as a smoke test, and
prints the tables instead of writing them (unless ``--output`` is given).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import gpu_sharing, machine, memory, overhead, quality, report, startup
from benchmarks.fresh import HIDE_GPUS, MeasurementFailed
from benchmarks.quality_data import DATASETS

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTIONS = ("startup", "overhead", "quality", "memory", "sharing")
SETTINGS = {
    "trials": 8, "epochs": 10, "seed": 0, "repeats": 2, "budgets": [120.0, 600.0], "peer_epochs": 20,
    "datasets": list(DATASETS), "memory_epochs": 2, "sharing_trials": 16, "sharing_epochs": 5, "trials_per_gpu": 4,
    "runs": 5, "kernel_runs": 3,
}
QUICK = {"trials": 2, "epochs": 2, "repeats": 1, "budgets": [10.0, 20.0], "peer_epochs": 2, "memory_epochs": 1,
         "datasets": ["digits", "JapaneseVowels", "Covid3Month"],  # images, unequal lengths, regression
         "sharing_trials": 4, "sharing_epochs": 1, "runs": 1, "kernel_runs": 1}
OPTIONS = {  # the settings the command line may change
    "trials": "trials of each overhead search",
    "epochs": "most epochs of each overhead trial",
    "repeats": "runs of each overhead variant (the fastest is kept)",
    "peer_epochs": "epochs of each plain KerasTuner trial in the quality table",
    "trials_per_gpu": "trials sharing the GPU, beside one at a time",
}
MEMORY_VARIANTS = {"automodel": "automodel", "keras-tuner": "plain KerasTuner"}
NO_GPU = "No GPU is visible to TensorFlow on this machine, so the GPU tables and trials per hour were skipped."


class Progress:
    """Progress lines with the time since the start; counts what failed."""

    def __init__(self):
        self.started = time.perf_counter()
        self.failures = 0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, message: str) -> None:
        minutes, seconds = divmod(int(self.seconds), 60)
        print(f"[{minutes:2d}:{seconds:02d}] {message}", flush=True)

    def attempt(self, label: str, measure, summary=lambda result: "done") -> dict:
        """``measure()``, with a line before and after; a failure becomes ``{"error": ...}``."""
        self(f"{label} ...")
        try:
            result = measure()
        except (MeasurementFailed, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            self.failures += 1
            detail = str(exc) + (f"\n{exc.stderr.strip()}" if isinstance(getattr(exc, "stderr", None), str) else "")
            self(f"{label} FAILED:\n{detail}")
            return {"error": detail.strip().splitlines()[-1]}
        self(f"{label}: {summary(result)}")
        return result


def measure_all(settings: dict, sections: tuple[str, ...], progress: Progress, use_gpu: bool = True) -> dict:
    """Every chosen section, in an order that keeps the cheap start-up times clear of training load."""
    results = {"settings": settings, "machine": _machine(progress)}
    gpus = results["machine"]["gpus"] if use_gpu else []
    if "startup" in sections:
        results["startup"] = progress.attempt(
            "start-up", lambda: startup.measure(settings["runs"], settings["kernel_runs"]), _startup_summary
        )
    devices = {"CPU": HIDE_GPUS, **({"GPU": {"CUDA_VISIBLE_DEVICES": gpus[0]["id"]}} if gpus else {})}
    results["devices"] = {
        device: _on_device(device, env, settings, sections, progress) for device, env in devices.items()
    }
    if not gpus:
        results["gpu_note"] = NO_GPU if use_gpu else "Not measured (--cpu-only)."
        progress(results["gpu_note"])
    if "quality" in sections:
        device = "GPU" if gpus else "CPU"  # where the neural searches train
        results["quality"] = {"device": device, **quality.measure(settings, progress, devices[device])}
    if "memory" in sections:
        results["memory"] = _memory(settings, progress)
    if "sharing" in sections and gpus:
        results["gpu_sharing"] = _sharing(settings, gpus[0]["id"], progress)
    return results


def _machine(progress: Progress) -> dict:
    progress("the machine ...")
    described = machine.describe()
    gpus = ", ".join(gpu["name"] for gpu in described["gpus"]) or "none"
    progress(f"the machine: {described['cpu']}, {described['cores']} cores, GPUs: {gpus}")
    return described


def _on_device(device: str, env: dict, settings: dict, sections, progress: Progress) -> dict:
    measured = {}
    if "overhead" in sections:
        measured["overhead"] = _overhead(device, env, settings, progress)
    return measured


def _overhead(device: str, env: dict, settings: dict, progress: Progress) -> dict:
    """Each variant's fastest run; the pair runs ``repeats`` times in the order A B, B A, A B, ..."""
    trials, epochs, repeats = settings["trials"], settings["epochs"], settings["repeats"]
    runs = {variant: [] for variant in overhead.VARIANTS}
    for repeat in range(repeats):
        for variant in overhead.VARIANTS[:: 1 if repeat % 2 == 0 else -1]:
            runs[variant].append(progress.attempt(
                f"overhead ({device}): {variant}, {trials} trials x up to {epochs} epochs, run {repeat + 1}/{repeats}",
                lambda variant=variant: overhead.measure(variant, trials, epochs, settings["seed"], env),
                _overhead_summary,
            ))
    return {variant: _fastest(done) for variant, done in runs.items()}


def _fastest(runs: list[dict]) -> dict:
    """The fastest of a variant's runs, with every run's wall time; the last error if none succeeded."""
    succeeded = [run for run in runs if "error" not in run]
    if not succeeded:
        return runs[-1]
    return {**min(succeeded, key=lambda run: run["seconds"]), "every_seconds": [run["seconds"] for run in succeeded]}


def _memory(settings: dict, progress: Progress) -> dict:
    return {
        label: progress.attempt(
            f"memory: {label}, {max(memory.CHECKPOINTS)} trials",
            lambda variant=variant: memory.measure(variant, settings["memory_epochs"], env=HIDE_GPUS),
            lambda rss: ", ".join(f"after {n}: {mib:.0f} MiB" for n, mib in rss.items()),
        )
        for variant, label in MEMORY_VARIANTS.items()
    }


def _sharing(settings: dict, gpu: str, progress: Progress) -> dict:
    trials, epochs = settings["sharing_trials"], settings["sharing_epochs"]
    return {
        k: progress.attempt(
            f"trials per hour, {k} sharing the GPU",
            lambda k=k: gpu_sharing.measure(k, trials, epochs, gpu),
            lambda r: f"{r['trials']} trials in {r['seconds']:.1f} s, {r['trials_per_hour']:.0f} per hour",
        )
        for k in dict.fromkeys((1, settings["trials_per_gpu"]))
    }


def _overhead_summary(run: dict) -> str:
    steps = run["phases"].get("steps", 0) / run["seconds"]
    return (f"{run['seconds']:.1f} s ({run['cpu_seconds']:.1f} s of CPU), best val_accuracy "
            f"{run['best_val_accuracy']:.4f}, {steps:.0%} in training steps")


def _startup_summary(rows: dict) -> str:
    return "; ".join(f"{name} {row['median']:.2f} s" if "median" in row else f"{name} failed"
                     for name, row in rows.items())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help="the same as --only: `python -m benchmarks quality` measures the quality table alone")
    parser.add_argument("--quick", action="store_true", help="everything small: a smoke test, not results")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                        help=f"measure only these: {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--cpu-only", action="store_true", help="skip the GPU measurements even with a GPU")
    parser.add_argument("--output", type=Path, help=f"the tables' file (default {RESULTS.name}; --quick prints them)")
    for name, what in OPTIONS.items():
        default = SETTINGS[name]
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), metavar="N",
                            help=f"{what} (default {default:g})")
    parser.add_argument("--budgets", type=float, nargs="+", metavar="SECONDS",
                        help="the quality table's time budgets for automodel and the plain KerasTuner search "
                             f"(default {' '.join(f'{b:g}' for b in SETTINGS['budgets'])})")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, metavar="NAME",
                        help=f"the quality table's data sets (default all: {', '.join(DATASETS)})")
    args = parser.parse_args(argv)
    unknown = [section for section in args.sections if section not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    sections = tuple(dict.fromkeys([*args.sections, *(args.only or [])])) or SECTIONS
    settings = {**SETTINGS, **(QUICK if args.quick else {}), "quick": args.quick}
    chosen = {name: getattr(args, name) for name in (*OPTIONS, "budgets", "datasets")}
    settings.update({name: value for name, value in chosen.items() if value is not None})
    progress = Progress()
    results = measure_all(settings, sections, progress, use_gpu=not args.cpu_only)
    results["total_seconds"] = progress.seconds
    document = report.render(results)
    output = args.output or (None if args.quick else RESULTS)
    if output is None:
        print(document)
    else:
        output.write_text(document)
        progress(f"wrote {output}")
    failed = f", {progress.failures} measurement(s) failed" if progress.failures else ""
    progress(f"finished in {progress.seconds / 60:.1f} min{failed}")
    return 1 if progress.failures else 0


if __name__ == "__main__":
    sys.exit(main())
