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


_quiet = threading.Lock()
_quiet_blocks = 0  # threads inside quiet_native_stderr now
_saved_stderr: int | None = None


@contextlib.contextmanager
def quiet_native_stderr():
    """Send what native code writes to file descriptor 2 to /dev/null for the block.

    The descriptor belongs to the whole process, and a search and two exports may
    each want it quiet from their own threads: the first block in redirects it and
    the last one out restores it, so overlapping blocks never restore each other's
    /dev/null for good.
    """
    global _quiet_blocks, _saved_stderr
    with _quiet:
        if _quiet_blocks == 0:
            sys.stderr.flush()
            _saved_stderr = os.dup(2)
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
        _quiet_blocks += 1
    try:
        yield
    finally:
        with _quiet:
            _quiet_blocks -= 1
            if _quiet_blocks == 0:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


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
