"""Loading TensorFlow quietly, for the terminal and the notebook alike.

TensorFlow's C++ start-up lines (oneDNN, CUDA probing) are written to file
descriptor 2 before ``TF_CPP_MIN_LOG_LEVEL`` takes effect. In a terminal they
clutter the output; in a notebook the kernel forwards that descriptor into
whatever cell runs next. So the first import, and the device probe that logs
too, run with descriptor 2 pointed at /dev/null for those few seconds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()
_loaded = False


@contextlib.contextmanager
def quiet_native_stderr():
    """Send what native code writes to file descriptor 2 to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_tensorflow():
    """Import TensorFlow (once, thread-safe) without its start-up chatter; return the module."""
    global _loaded
    with _lock:
        if not _loaded:
            with quiet_native_stderr():
                import tensorflow

                tensorflow.config.list_physical_devices()  # probes CUDA, which also logs
            _loaded = True
    return sys.modules["tensorflow"]
