"""The local copy of a run that trains on a Ray worker: the same folder name, the same files, as they come.

The worker ships its run folder's files with its events (``worker.py``);
the mirror writes them under the local runs dir, each atomically, before the
event that announced them reaches the listener. It holds the folder's lock
for as long as the run trains anywhere, retries included, so the runs view
and ``--resume`` see it as running; if kvt itself dies, the lock goes with
it and the run reads "stopped", resumable from its last mirrored epoch.

The files come from another machine: only the known names of a run folder
are written, into a folder whose name is a plain run name.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from kvt_models.cluster.worker import ships_as_run_file
from kvt_models.errors import RunStoreError
from kvt_models.events import Listener, TrainEnded, TrainFailed, TrainStarted
from kvt_models.store.atomic import atomic_write_bytes, atomic_write_json
from kvt_models.store.locking import RunLock
from kvt_models.store.runs import STATUS_FILE, read_json


class Mirror:
    def __init__(self, root: Path):
        self.root = root
        self.path: Path | None = None
        self._lock: RunLock | None = None

    def apply(self, items: list[tuple], listener: Listener) -> None:
        """The relay's items in order: files onto disk, events (with local paths) to the listener."""
        for item in items:
            if item[0] == "files":
                self._write(item[1], item[2])
            else:
                listener(self.localize(item[1]))

    def _write(self, run_id: str, files: dict[str, bytes]) -> None:
        if self.path is None:
            if not run_id or Path(run_id).name != run_id or run_id.startswith("."):
                raise RunStoreError(f"a Ray worker sent a run named {run_id!r}, which is not a run folder name")
            self.path = self.root / run_id
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunStoreError(f"cannot create {self.path}: {exc.strerror or exc}; pass --runs-dir with a writable folder") from exc
            self._lock = RunLock.take(self.path)
        for name, data in files.items():
            if ships_as_run_file(name):  # never a path the worker made up
                atomic_write_bytes(self.path / name, data)

    def localize(self, event: Any) -> Any:
        """``event`` with the worker's run folder replaced by the local one."""
        if self.path is None or not isinstance(event, (TrainStarted, TrainEnded, TrainFailed)):
            return event
        if isinstance(event, TrainEnded):
            files = {name: str(self.path / Path(path).name) for name, path in event.files.items()}
            return replace(event, run_dir=str(self.path), files=files)
        return replace(event, run_dir=str(self.path)) if event.run_dir else event

    def result(self, result: Any) -> Any:
        """The worker's TrainResult, pointing at the local folder."""
        if self.path is None:
            return result
        return replace(result, run_dir=self.path, files={k: str(self.path / Path(v).name) for k, v in result.files.items()})

    def fail(self, message: str) -> None:
        """Say in the local folder why the run ended (the worker could not); its node stays named."""
        if self.path is None:
            return
        status = read_json(self.path / STATUS_FILE) or {}
        status.update(status="failed", message=message, updated=time.time())
        try:
            atomic_write_json(self.path / STATUS_FILE, status)
        except RunStoreError:
            pass  # the disk is what failed; the TrainFailed event still tells the user

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def node_of(run_dir: Path) -> dict[str, Any]:
    """The Ray node a run trained on, as its status.json names it ({} for a local run)."""
    status = read_json(Path(run_dir) / STATUS_FILE) or {}
    node = status.get("node")
    return node if isinstance(node, dict) else {}


