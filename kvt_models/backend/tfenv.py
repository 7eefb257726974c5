"""Import TensorFlow quietly, once, off the start-up path -- or keep it out of a process that needs none.

TensorFlow's C++ runtime writes its logs (oneDNN notices, CPU feature lines,
absl warnings) straight to file descriptor 2, below Python. On a Textual
screen those bytes land in the middle of the drawing, so we set
``TF_CPP_MIN_LOG_LEVEL`` before the import and point fd 2 at /dev/null while
the import runs.

A run on JAX or PyTorch needs no TensorFlow, but Keras 3 imports it wherever
it is installed (``keras.src.utils.module_utils``: to seed it, to check types
while saving). :func:`keep_tensorflow_out` makes that import fail as if
TensorFlow were not installed, which Keras is written to handle.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
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


# TensorFlow and what is built on it: none of them may load once it is kept out. Not tensorboard: kvt writes
# its event files with it (kvt_models.train.tensorboard), and where TensorFlow is kept out its
# ``import tensorflow`` fails here, so it takes its own TensorFlow-free stub.
_TF_MODULES = ("tensorflow", "tf_keras")


class _NoTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The first finder on ``sys.meta_path`` of a process whose runtime does without TensorFlow.

    It answers for TensorFlow's modules with a spec of no origin whose loading
    fails as a missing module's does: ``import tensorflow`` raises
    ModuleNotFoundError, which Keras takes as "not installed", and
    ``importlib.util.find_spec`` still returns a spec rather than raising
    (PyTorch's compiler asks it about TensorFlow and reads the origin).
    """

    def __init__(self, backend: str):
        self.backend = backend

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if any(fullname == name or fullname.startswith(name + ".") for name in _TF_MODULES):
            return importlib.machinery.ModuleSpec(fullname, self, origin=None)
        return None

    def create_module(self, spec: Any) -> Any:
        raise ModuleNotFoundError(f"No module named {spec.name!r} (kvt keeps TensorFlow out of a run on "
                                  f"{self.backend})", name=spec.name)

    def exec_module(self, module: Any) -> None:  # pragma: no cover - create_module never returns
        raise ModuleNotFoundError(module.__name__)


def tensorflow_kept_out() -> bool:
    """Whether :func:`keep_tensorflow_out` was called in this process."""
    return any(isinstance(finder, _NoTensorFlow) for finder in sys.meta_path)


def keep_tensorflow_out(backend: str) -> None:
    """From now on, importing TensorFlow in this process fails as if it were not installed."""
    loaded = [name for name in sys.modules if name.split(".")[0] in ("tensorflow", "tf_keras")]
    if loaded:
        raise RuntimeError(f"TensorFlow was imported before kvt chose {backend}: train that run in a child process "
                           "(kvt_models.train.isolated)")
    if not tensorflow_kept_out():
        sys.meta_path.insert(0, _NoTensorFlow(backend))


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
