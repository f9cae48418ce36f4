"""Start-up: how long automodel takes to import, to list its plugins and to show its panel.

Every measurement is a fresh process, so nothing is cached in memory (the
operating system's file cache is warm after the first run, as on a user's
machine). In-process times start after the interpreter is up; ``automodel
plugins`` is the whole command, interpreter start included, and an empty
``python -c pass`` is given beside it. ``import tensorflow`` is what the first
three would cost if automodel imported TensorFlow eagerly. The panel's two
numbers come from ``panel_display.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks import panel_display
from benchmarks.fresh import ROOT, MeasurementFailed, run_json

TIMED_IMPORT = """
import json, sys, time
started = time.perf_counter()
import automodel
imported = time.perf_counter()
{after}
print(json.dumps({{"import": imported - started, "after": time.perf_counter() - imported,
                  "tensorflow": "tensorflow" in sys.modules}}))
"""
IMPORT_TENSORFLOW = (
    "import json, time\nstarted = time.perf_counter()\nimport tensorflow\n"
    "print(json.dumps({'seconds': time.perf_counter() - started}))"
)


def _in_process(after: str = "pass", part: str = "import") -> tuple[float, bool]:
    """Seconds of the ``import`` (or of the ``after`` code), and whether TensorFlow was imported."""
    timed = run_json([sys.executable, "-c", TIMED_IMPORT.format(after=after)])
    return timed[part], timed["tensorflow"]


def _whole(command: list[str]) -> tuple[float, None]:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started, None


def measure(runs: int = 5, kernel_runs: int = 3) -> dict:
    """name: {"median", "min", "max", "runs", "tensorflow"}, or {"error": why} where it failed."""
    python = sys.executable
    timings = {  # name: one run, returning (seconds, whether TensorFlow was imported or None)
        "import automodel": _in_process,
        "automodel.list_plugins(), first call": lambda: _in_process("automodel.list_plugins()", "after"),
        "`automodel plugins`, whole command": lambda: _whole([python, "-m", "automodel.cli", "plugins"]),
        "`SearchApp()` built and rendered, fresh process": panel_display.build_once,
        "panel cell in a fresh Jupyter kernel": panel_display.cell_once,
        "for comparison: `python -c pass`, whole command": lambda: _whole([python, "-c", "pass"]),
        "for comparison: `import tensorflow`": lambda: (run_json([python, "-c", IMPORT_TENSORFLOW])["seconds"], True),
    }
    repeats = {"panel cell in a fresh Jupyter kernel": kernel_runs, "for comparison: `import tensorflow`": min(runs, 3)}
    out = {}
    for name, timing in timings.items():
        try:
            out[name] = _summary([timing() for _ in range(repeats.get(name, runs))])
        except (subprocess.CalledProcessError, MeasurementFailed, AssertionError, RuntimeError, ImportError) as exc:
            out[name] = {"error": _last_line(exc)}
    return out


def _summary(runs: list[tuple[float, bool | None]]) -> dict:
    seconds = [s for s, _ in runs]
    flags = [t for _, t in runs if t is not None]
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "runs": len(seconds), "tensorflow": any(flags) if flags else None}


def _last_line(exc: Exception) -> str:
    text = (getattr(exc, "stderr", None) or str(exc) or type(exc).__name__).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
