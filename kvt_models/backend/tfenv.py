"""Import TensorFlow quietly, once, off the start-up path.

TensorFlow's C++ runtime writes its logs (oneDNN notices, CPU feature lines,
absl warnings) straight to file descriptor 2, below Python. On a Textual
screen those bytes land in the middle of the drawing, so we set
``TF_CPP_MIN_LOG_LEVEL`` before the import and point fd 2 at /dev/null while
the import runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_fd2() -> Iterator[None]:
    """Send whatever is written to fd 2 to /dev/null until the block ends."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (a daemon): nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tf() -> Any:
    """Return the ``tensorflow`` module, importing it quietly the first time.

    It does not choose a Keras: :func:`kvt_models.backend.runtime.activate` does
    (Keras 3 or ``tf_keras`` behind ``tf.keras``), and calls this first.
    """
    with _lock:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import sys

        if "tensorflow" not in sys.modules:
            with quiet_fd2():
                import tensorflow as tf
            try:
                import absl.logging

                absl.logging.set_verbosity(absl.logging.ERROR)
            except ImportError:
                pass
            tf.get_logger().setLevel("ERROR")
        import tensorflow as tf

        return tf
