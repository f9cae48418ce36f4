"""How long the notebook panel takes to appear, and proof that it does not load TensorFlow.

Two measurements, each in fresh processes so that nothing is cached:

- build: a new Python process imports ``automodel.widgets``, builds
  ``SearchApp()`` and renders its display data (what a kernel sends the browser);
- cell: a new Jupyter kernel runs the cell ``from automodel.widgets import
  SearchApp; SearchApp()``; timed from the execute request to the reply, after
  the kernel is up (the notebook shows the panel when that reply's display data
  arrives).

Usage: ``python benchmarks/panel_display.py [--runs 5]``. Prints the median and
the range of each, and fails if TensorFlow was imported or a median is over 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

LIMIT_SECONDS = 2.0
BUILD = (
    "import sys, time\n"
    "started = time.perf_counter()\n"
    "from automodel.widgets import SearchApp\n"
    "bundle = SearchApp()._repr_mimebundle_()\n"
    "assert 'application/vnd.jupyter.widget-view+json' in bundle\n"
    "print(time.perf_counter() - started, 'tensorflow' in sys.modules)\n"
)
CELL = "import sys\nfrom automodel.widgets import SearchApp\nSearchApp()"


def build_once() -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", BUILD], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), out[1] == "True"


def cell_once() -> tuple[float, bool]:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        started = time.perf_counter()
        reply = client.execute_interactive(CELL, timeout=60, output_hook=lambda message: None)
        seconds = time.perf_counter() - started
        assert reply["content"]["status"] == "ok", reply["content"]
        printed: list[str] = []
        check = client.execute_interactive(
            "print('tensorflow' in sys.modules)", timeout=60,
            output_hook=lambda message: printed.append(message["content"].get("text", "")),
        )
        assert check["content"]["status"] == "ok"
        return seconds, "True" in "".join(printed)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def report(name: str, runs: list[tuple[float, bool]]) -> float:
    seconds = [s for s, _ in runs]
    median = statistics.median(seconds)
    tensorflow = any(t for _, t in runs)
    print(f"{name:<6} median {median:.2f}s  (min {min(seconds):.2f}s, max {max(seconds):.2f}s, "
          f"{len(runs)} runs)  tensorflow imported: {tensorflow}")
    return median if not tensorflow else float("inf")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    medians = [
        report("build", [build_once() for _ in range(args.runs)]),
        report("cell", [cell_once() for _ in range(args.runs)]),
    ]
    ok = all(m < LIMIT_SECONDS for m in medians)
    print(f"panel under {LIMIT_SECONDS:.0f}s without TensorFlow: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
