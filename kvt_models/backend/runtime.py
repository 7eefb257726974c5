"""Which Keras runs a run: Keras 3 on TensorFlow, JAX or PyTorch, or Keras 2 (``tf_keras``).

A process holds one Keras backend for its whole life: Keras 3 reads
``KERAS_BACKEND`` once, when it is first imported, and TensorFlow binds
``tf.keras`` to Keras 3 or to ``tf_keras`` by ``TF_USE_LEGACY_KERAS`` the
first time ``tf.keras`` is touched. So the runtime is chosen here, in one
place, by :func:`activate`, before anything imports Keras: in the run's own
child process (:mod:`kvt_models.train.isolated`), or at the start of a headless
``kvt-train`` run. Every engine module then asks :func:`keras` for the
module to build with.

:func:`available` and :func:`install_hint` only look on disk
(``importlib.util.find_spec``, ``importlib.metadata``): the app calls them to
grey out what is not installed without importing any of it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
from types import SimpleNamespace
from typing import Any, Iterator

from kvt_models.errors import KvtError
from kvt_models.variants import BACKEND_DEFAULT, BACKENDS, TF_BACKENDS

# The package each runtime needs beyond the default install.
_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "keras2": "tf_keras"}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

_lock = threading.Lock()
_active: str | None = None
_keras: Any = None


def available(backend: str) -> bool:
    """Whether ``backend``'s package is installed; nothing is imported to find out."""
    if backend in TF_BACKENDS:
        from kvt_models.backend.tfenv import tensorflow_kept_out

        if tensorflow_kept_out():
            return False  # installed, maybe, but this process (a JAX or PyTorch run) does without it
    try:
        return importlib.util.find_spec(_PACKAGES[backend]) is not None
    except (ImportError, ValueError):
        return False


def installed() -> list[str]:
    """The runtimes this environment can train on, in the order of :data:`BACKENDS`."""
    return [backend for backend in BACKENDS if available(backend)]


def _tf_keras_minor() -> str:
    """The ``major.minor`` tf-keras must have: the TensorFlow that kvt's keras2 extra holds, else the installed one.

    Read from metadata (no import): pyproject.toml's pin is the one owner of the version.
    """
    import re

    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for requirement in importlib.metadata.requires("kvt") or []:
            pin = re.match(r"(?:tensorflow-cpu|tf-keras)\s*~=\s*(\d+\.\d+)", requirement)
            if pin and "keras2" in requirement:
                return pin.group(1)
    for dist in ("tensorflow-cpu", "tensorflow"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return ".".join(importlib.metadata.version(dist).split(".")[:2])
    return "2.21"


def install_hint(backend: str) -> str:
    """The pip command that installs ``backend``, run in kvt's checkout."""
    if backend == "keras2":
        # tf-keras declares a dependency on the full `tensorflow` package, which would
        # install a second TensorFlow over tensorflow-cpu (the same `tensorflow` module):
        # it goes in without its dependencies, at the minor version the extra holds TF at.
        return f"pip install -e '.[keras2]' && pip install --no-deps 'tf-keras~={_tf_keras_minor()}.0'"
    if backend == "torch":
        # The CPU build: PyPI's Linux wheel (what '.[torch]' installs) is the CUDA one, with GBs of nvidia-* packages.
        return f"pip install torch --index-url {TORCH_CPU_INDEX}"
    return f"pip install -e '.[{backend}]'" if backend != "tensorflow" else "pip install -e ."


def require(backend: str) -> None:
    """A one-line KvtError (a user's mistake: exit 2) when ``backend`` is not installed."""
    if backend not in BACKENDS:
        raise KvtError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if not available(backend):
        note = " (the CPU build; PyPI's own Linux wheel is the CUDA one)" if backend == "torch" else ""
        here = [b for b in installed() if b != backend]
        instead = f"; installed here: --backend {', '.join(here)}" if here else ""
        raise KvtError(f"backend {backend} is not installed ({BACKENDS[backend]}); install it with: "
                       f"{install_hint(backend)}{note}{instead}")


def active() -> str | None:
    """The runtime this process runs, or None before :func:`activate`."""
    return _active


def activate(backend: str) -> Any:
    """Set up ``backend`` for this process and return its Keras module (``keras`` or ``tf_keras``).

    Call it before anything imports Keras. Asking again for the same runtime
    returns the same module; asking for another one is refused, because a
    process cannot switch (train that run in a child process).
    """
    global _active, _keras
    with _lock:
        if _active is not None:
            if backend != _active:
                raise RuntimeError(f"this process already runs Keras on {_active}, so it cannot switch to {backend}: "
                                   "train that run in a child process (kvt_models.train.isolated)")
            return _keras
        require(backend)
        loaded = _loaded_backend()
        if loaded is not None and loaded != backend:
            raise RuntimeError(f"Keras was imported on {loaded} before kvt chose {backend}: "
                               "train that run in a child process (kvt_models.train.isolated)")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # tf.keras means tf_keras (Keras 2) on keras2, Keras 3 everywhere else.
        os.environ["TF_USE_LEGACY_KERAS"] = "1" if backend == "keras2" else "0"
        if backend != "keras2":
            os.environ["KERAS_BACKEND"] = backend
        if backend == "jax":
            _persistent_jax_cache()
        from kvt_models.backend.tfenv import import_tf, keep_tensorflow_out, quiet_fd2

        try:
            if backend in TF_BACKENDS:
                import_tf()
            else:
                # JAX and PyTorch need none of TensorFlow (kvt feeds them through PyDataset and saves in
                # Keras 3's own format), but Keras imports it wherever it is installed (to seed it, to
                # check types while saving), and TensorFlow then PyTorch in one process can crash:
                # it is kept out of the process, and Keras carries on as where it is not installed.
                keep_tensorflow_out(backend)
            with quiet_fd2():  # JAX and PyTorch print their own start-up notices too
                if backend == "keras2":
                    import tf_keras as module
                else:
                    import keras as module
        except ImportError as exc:  # installed, but broken (a missing library, a version clash)
            from kvt_models.errors import one_line

            raise KvtError(f"backend {backend} is installed but cannot be imported ({one_line(exc)}); "
                           f"reinstall it: {install_hint(backend)}") from exc
        if backend == "tensorflow":
            from kvt_models.backend.kernels import install  # Keras 2 has the fused batch norm already

            install(module)
        _active, _keras = backend, module
        return module


def _persistent_jax_cache() -> None:
    """Keep JAX's compiled programs on disk, in kvt's cache folder, for the next run's process.

    Every run starts a fresh process, and JAX compiles each op and each train
    step anew in it: building MiniVGGNet and its first epoch took ~12 s of
    compiling here, ~1.5 s with this cache warm. JAX's own settings, by
    environment, so that a user's choice (``JAX_COMPILATION_CACHE_DIR``) wins.
    """
    from kvt_models.paths import default_cache_dir

    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(default_cache_dir() / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # the many small ops add up
    # No size bound: JAX's bounded (LRU) mode needs the filelock package and cannot
    # take over a folder written without it. A model's programs take ~1 MB; the
    # folder can be deleted at any time.


def _loaded_backend() -> str | None:
    """The runtime Keras was already imported on in this process (by someone else), if any."""
    if "tf_keras" in sys.modules:
        return "keras2"
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return str(keras.backend.backend())
    return None


def exit_without_teardown(code: int) -> None:
    """End this process now with ``code``, its output flushed, if it started a runtime; else return.

    The interpreter's own exit then frees TensorFlow's (or JAX's) native state
    for a second or two after the last line is out (docs/faults.md). A
    process that has saved and said everything -- kvt-train at its end, a
    run's child once its result is sent -- does not wait for that.
    """
    if _active is None:
        return
    import logging

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a stream already closed or gone with its terminal: nothing to flush
            stream.flush()
    logging.shutdown()
    os._exit(code)


def keras() -> Any:
    """The Keras module of this process's runtime; the default one (Keras 3 on TF) if none was chosen."""
    return _keras if _active is not None else activate(BACKEND_DEFAULT)


def backend() -> str:
    """This process's runtime, choosing the default one if none was chosen."""
    keras()
    return str(_active)


def tf_engine() -> bool:
    """Whether TensorFlow executes the ops here (``tensorflow`` or ``keras2``)."""
    return backend() in TF_BACKENDS


def ops() -> Any:
    """``keras.ops`` on Keras 3; on Keras 2, the few backend functions CReLU needs, under the same names."""
    module = keras()
    if hasattr(module, "ops"):
        return module.ops
    K = module.backend
    return SimpleNamespace(relu=K.relu, concatenate=lambda tensors, axis=-1: K.concatenate(tensors, axis=axis))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also force deterministic kernels and tf.data.

    JAX and PyTorch on a CPU are deterministic for this model with their
    seeded generators (docs/runtimes.md says what is and is not repeatable).
    """
    keras().utils.set_random_seed(seed)
    if tf_engine():
        from kvt_models.backend.tfenv import import_tf

        import_tf().config.experimental.enable_op_determinism()


@contextlib.contextmanager
def strategy_scope() -> Iterator[None]:
    """The ``tf.distribute`` strategy scope where TensorFlow runs the model; nothing elsewhere."""
    if tf_engine():
        from kvt_models.backend.tfenv import import_tf

        with import_tf().distribute.get_strategy().scope():
            yield
    else:
        yield


def versions() -> dict[str, str]:
    """What config.json records: the backend, and the versions of Keras, the backend's engine and (where it runs) TensorFlow."""
    module = keras()
    found = {"backend": backend(), "keras": str(module.__version__)}
    engine = {"jax": "jax", "torch": "torch"}.get(backend())
    if engine:
        found[engine] = str(sys.modules[engine].__version__) if engine in sys.modules else _dist_version(engine)
    if tf_engine():  # a JAX or PyTorch run has no TensorFlow in it, whatever is installed
        tf = sys.modules.get("tensorflow")
        tf_version = getattr(tf, "__version__", None) or _dist_version("tensorflow-cpu") or _dist_version("tensorflow")
        if tf_version:
            found["tensorflow"] = str(tf_version)
    return found


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def describe(versions: dict[str, Any] | None) -> str:
    """``Keras 3.15.1 on JAX 0.10.2`` for a run's recorded versions; runs older than the backend axis read TF."""
    v = versions or {}
    backend = v.get("backend") or BACKEND_DEFAULT

    def named(name: str, key: str) -> str:
        return f"{name} {v[key]}" if v.get(key) else name  # a run that did not record a version

    if backend == "keras2":
        return f"Keras 2 / {named('tf_keras', 'keras')} on {named('TensorFlow', 'tensorflow')}"
    engine = {"tensorflow": ("TensorFlow", "tensorflow"), "jax": ("JAX", "jax"), "torch": ("PyTorch", "torch")}
    label, key = engine.get(backend, (backend, backend))
    return f"{named('Keras', 'keras')} on {named(label, key)}"
