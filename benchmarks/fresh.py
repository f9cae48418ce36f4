"""Measurements in fresh processes: the child prints a JSON line last, the parent reads it.

A fresh process per measurement keeps one measurement's imports, compiled
graphs and memory out of the next one's numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # so ``python -m benchmarks.<module>`` resolves
HIDE_GPUS = {"CUDA_VISIBLE_DEVICES": ""}  # TensorFlow then trains on the CPU


class MeasurementFailed(RuntimeError):
    """A child process ended with an error; the message holds the end of what it printed."""


def run_module(module: str, *args, env: dict | None = None, timeout: float = 900) -> dict:
    """Run ``python -m benchmarks.<module> *args`` in a fresh process and return its JSON line."""
    command = [sys.executable, "-m", f"benchmarks.{module}", *map(str, args)]
    return run_json(command, env=env, timeout=timeout)


def run_json(command: list[str], env: dict | None = None, timeout: float = 900) -> dict:
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise MeasurementFailed(f"{' '.join(command[1:])} exited with {done.returncode}:\n{tail}")
    return json.loads(lines[-1])


def emit(result: dict) -> None:
    """What a child prints last: its result as one JSON line."""
    print(json.dumps(result), flush=True)
