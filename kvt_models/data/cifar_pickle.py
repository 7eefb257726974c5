"""Reading a CIFAR-10 python batch without running its code: the restricted unpickler. Security code.

The CIFAR-10 batches (``data_batch_1..5``, ``test_batch``, ``batches.meta``)
are pickles, and a pickle can name any function to call while it loads. A
user's batch is data, so ``pickle.load`` is never called on one: the
unpickler here admits only the few numpy names a batch needs (and
``_codecs.encode`` with latin-1, which is how Python 3 pickles bytes). Any other
name, or a persistent id, rejects the file with a one-line :class:`DataError`
before anything named in it is called.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from kvt_models.errors import DataError, one_line


class _ForbiddenGlobal(pickle.UnpicklingError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _latin1_encode(obj: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, "latin1"); admit only that use.
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1")


def _numpy_global(module: str, name: str) -> Any:
    """Fetch ``numpy._core.<module>.<name>`` (numpy 2) or ``numpy.core.<module>.<name>`` (numpy 1)."""
    import importlib

    for prefix in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{prefix}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no {module}.{name}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_global("multiarray", "_reconstruct")
    frombuffer = _numpy_global("numeric", "_frombuffer")
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy.core.numeric", "_frombuffer"): frombuffer,
        ("numpy._core.numeric", "_frombuffer"): frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }


class _CifarUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR batch holds: dicts, lists, numbers, bytes and numpy arrays."""

    def __init__(self, data: bytes) -> None:
        # encoding="bytes": the original batches are Python 2 pickles whose str keys become bytes.
        super().__init__(io.BytesIO(data), encoding="bytes")
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _ForbiddenGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids")


def unpickle_batch(data: bytes, where: str) -> dict[str, Any]:
    """The dict a CIFAR batch pickles, with str keys; ``where`` names the file in messages."""
    try:
        obj = _CifarUnpickler(data).load()
    except _ForbiddenGlobal as exc:
        raise DataError(
            f"refusing to unpickle {where}: it asks for {exc.what}, which a CIFAR batch never contains; "
            "use the original cifar-10-python.tar.gz"
        ) from exc
    except Exception as exc:
        raise DataError(
            f"could not read CIFAR batch {where}: {one_line(exc)}; download cifar-10-python.tar.gz again"
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a CIFAR batch (a pickled {type(obj).__name__}, not a dict)")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}
