"""The machine a benchmark ran on: CPU, cores, memory, GPUs, library versions and the date.

What only TensorFlow knows (its version, the GPUs it sees) comes from a fresh
child process, ``python -m benchmarks.machine``, so the parent never imports
TensorFlow.
"""

from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata

import psutil

from benchmarks.fresh import emit, run_module


def describe() -> dict:
    """What the results table states about the machine; ``gpus`` lists what TensorFlow sees."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "automodel": _version("automodel"),
        "scikit-learn": _version("scikit-learn"),
        "aeon": _version("aeon"),  # the quality table's UCR/UEA sets and MiniRocket
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **run_module("machine", timeout=300),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _tensorflow_side() -> dict:
    import keras
    import keras_tuner

    from automodel.distributed.plan import visible_gpus
    from automodel.startup import load_tensorflow

    tf = load_tensorflow()
    devices = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(device).get("device_name", device.name) for device in devices]
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "gpus": [{"name": name, "id": id_} for name, id_ in zip(names, visible_gpus())],
    }


if __name__ == "__main__":
    emit(_tensorflow_side())
