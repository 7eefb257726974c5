"""Liveness by lock: a run is alive while the process training it holds an ``flock`` on its ``.lock``.

The kernel drops a lock when its process ends, even on kill -9, whereas a
pid written in status.json is reused: a dead run would read "running" (and
refuse to resume) for as long as an unrelated process had its pid.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from kvt_models.errors import RunStoreError

LOCK_FILE = ".lock"


class RunLock:
    """An exclusive ``flock`` on a run's ``.lock``, held by the process that trains the run.

    flock belongs to the open file, so the kernel drops it when the process
    ends however it ends, and a second open of the file in the same process
    (a reader here, another writer) sees it as held like any other process.
    """

    # A reader's probe (:func:`lock_held`) holds a shared lock for microseconds;
    # a writer that meets one tries again rather than call the run busy.
    _TRIES, _PAUSE_S = 50, 0.01

    def __init__(self, file: Any):
        self._file = file  # a file object: dropped without release(), it closes (and unlocks) itself

    @classmethod
    def take(cls, run_dir: Path) -> "RunLock | None":
        """The run's lock, or None when another process (or writer) holds it."""
        path = run_dir / LOCK_FILE
        try:
            # Python opens files non-inheritable: a program started from here does not keep the lock.
            file = open(path, "ab")
        except OSError as exc:
            raise RunStoreError(f"could not write {path}: {exc.strerror or exc}; pick another --runs-dir") from exc
        for _ in range(cls._TRIES):
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return cls(file)
            except BlockingIOError:
                time.sleep(cls._PAUSE_S)
            except OSError as exc:
                file.close()
                raise RunStoreError(f"cannot lock {path}: {exc.strerror or exc}; pick a local --runs-dir") from exc
        file.close()
        return None

    def release(self) -> None:
        self._file.close()  # the only descriptor of this open file: the flock goes with it


def lock_held(run_dir: Path) -> bool:
    """Whether some process (this one included) holds the run's lock right now."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: no kvt process has trained this run since locks exist
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # a filesystem without flock: nobody can hold it either
    finally:
        os.close(fd)  # drops the shared lock, if we got it
    return False
