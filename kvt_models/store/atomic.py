"""Crash-safe files: a kill at any instant leaves the old file or the new one, never half a file.

Each write goes to a temporary file beside the target, is flushed and
fsynced, then renamed over the target (a rename within one folder is
atomic), and the folder is fsynced so that the rename itself survives a
power cut. The run store, the plots and the comparisons all write this way.
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

from kvt_models.errors import DiskFull, RunStoreError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# The names of the temporary files below (".model.1a2b3c4d.tmp.keras", ".status.json.1a2b3c4d.tmp"): a kill
# before the rename leaves one behind.
TEMPORARY_FILES = ".*.*.tmp*"


def write_error(path: Path, exc: OSError) -> RunStoreError:
    """The one line for a write to ``path`` that failed: a full disk (DiskFull), or why else it failed."""
    if exc.errno in _NO_SPACE:
        return DiskFull(str(path.parent), path.name)
    return RunStoreError(f"could not write {path}: {exc.strerror or exc}; free some space or pick another --runs-dir")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    _fsync_dir(path.parent)


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float as None: JSON has no NaN (Python would write a bare NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n").encode())


def atomic_save(path: Path, save: Any) -> None:
    """Call ``save(tmp_path)`` then rename onto ``path``; for writers that need a file name."""
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        save(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
