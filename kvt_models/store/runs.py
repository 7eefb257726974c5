"""The run store: one folder per run under the runs dir, written crash-safely.

Layout of a run folder::

    config.json      the resolved RunConfig (with its seed) and facts about the data
    status.json      running | finished | stopped | failed, with a message (and the pid, for people)
    .lock            flock-ed by the process that trains the run, for the run's whole life
    history.csv      one row per finished epoch, flushed and fsynced as it ends
    model.keras      the model with its optimizer state, replaced at every epoch end
    report.json      sklearn classification report + confusion matrix of the epoch it names ("epoch"),
                     and how many test-time views its predictions averaged ("views"),
                     replaced at every epoch end, after the checkpoint and the history row
    curves.png       loss/accuracy curves (the 2018 post's Figures 6 and 8)
    confusion.png    the confusion matrix

JSON and model files are written to a temporary file and renamed into place,
so a kill at any instant leaves either the old or the new file, never half a
file. The CLI and the app share this store: a run made headless shows up in
the app and the other way round.

A run is alive while its lock is held, not while some process has the pid
written in status.json: the kernel drops a lock when its process ends, even
on kill -9, whereas a pid is reused, and a dead run would read "running"
(and refuse to resume) for as long as an unrelated process had its pid.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from kvt_models.errors import RunStoreError
from kvt_models.events import EpochEnded, Listener
from kvt_models.paths import default_runs_dir
from kvt_models.store.atomic import TEMPORARY_FILES, atomic_save, atomic_write_bytes, atomic_write_json, write_error
from kvt_models.store.locking import RunLock, lock_held

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "train_seconds")
# Runs written before train_seconds existed lack it: their rows read it as the whole epoch's seconds.
_OPTIONAL_COLUMNS = {"train_seconds": "seconds"}
CONFIG_FILE = "config.json"
# In config.json's "config", beside the precision the run computed in: what was asked ("auto", or that same one).
PRECISION_ASKED = "precision_asked"
# In config.json's "config": the recipe's fingerprint (Recipe.fingerprint), so that a run of an older
# version of a recipe of the same name is never taken for a run of today's.
RECIPE_FINGERPRINT = "recipe_fingerprint"
STATUS_FILE = "status.json"
HISTORY_FILE = "history.csv"
REPORT_FILE = "report.json"
MODEL_FILE = "model.keras"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion.png"

STATUSES = ("running", "finished", "stopped", "failed")
# What a run that can be continued may read as: a folder left by kill -9 reads
# "stopped" (with a "killed or crashed" message), and one whose training child
# was killed under a live parent "failed" (the parent says how it died).
RESUMABLE_STATUSES = frozenset({"stopped", "failed"})


def read_json(path: Path) -> Any:
    """Read a JSON file; None when it is missing or unreadable (a run may be half made)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- the store --------------------------------------------------------------
@dataclass
class RunInfo:
    """What the runs list shows about a run, read from its folder."""

    run_id: str
    path: Path
    config: dict[str, Any]
    status: str
    message: str
    epochs_done: int
    epochs_total: int
    last: dict[str, float] = field(default_factory=dict)  # the last history row
    created: str = ""
    params: int = 0
    train_samples: int = 0
    versions: dict[str, str] = field(default_factory=dict)  # the runtime: backend, keras, tensorflow, ...

    @property
    def backend(self) -> str:
        """The runtime it trained on; runs made before the backend axis trained on TensorFlow."""
        return str(self.config.get("backend") or self.versions.get("backend") or "tensorflow")

    @property
    def resumable(self) -> bool:
        """Ended early (stopped, failed, killed) with epochs still to train: ``--resume`` can continue it."""
        return self.status in RESUMABLE_STATUSES and self.epochs_done < self.epochs_total


@dataclass
class RunRecord(RunInfo):
    """Everything about a run needed to show it again: history, report, confusion."""

    history: list[dict[str, float]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    confusion: list[list[int]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    report_epoch: int | None = None  # the epoch report.json describes; None for runs made before it said


class RunStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_runs_dir()

    def ensure(self) -> Path:
        """Create the runs dir if needed, or explain in one line why it cannot be used."""
        if self.root.exists() and not self.root.is_dir():
            raise RunStoreError(
                f"runs dir {self.root} is a file, not a folder: pass --runs-dir with a folder path"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunStoreError(
                f"cannot create runs dir {self.root}: {exc.strerror or exc}; pass --runs-dir with a writable folder"
            ) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise RunStoreError(
                f"runs dir {self.root} is not writable: pass --runs-dir with a writable folder"
            )
        return self.root

    def create(self, config: dict[str, Any], label: str) -> "RunRecorder":
        """Make a new, uniquely named run folder, take its lock, write its config and status."""
        root = self.ensure()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for _ in range(100):
            run_id = f"{stamp}-{label}-{secrets.token_hex(2)}"
            path = root / run_id
            try:
                # exist_ok=False makes the name ours even with other kvt-train
                # processes creating runs in the same folder at the same second.
                path.mkdir()
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunStoreError(
                    f"cannot create a run folder in {root}: {exc.strerror or exc}; pass --runs-dir with a writable folder"
                ) from exc
        else:  # pragma: no cover - 100 collisions of 16 random bits in one second
            raise RunStoreError(f"could not find a free run name in {root}")
        lock = RunLock.take(path)
        if lock is None:  # pragma: no cover - the folder is brand new and ours
            raise RunStoreError(f"run folder {path} is locked by another process")
        recorder = RunRecorder(path, run_id, lock)
        try:
            recorder.write_config(config)
            recorder.set_status("running")  # only now: "running" is never seen without the lock
        except BaseException:
            recorder.close()
            raise
        return recorder

    def list_runs(self) -> list[RunInfo]:
        """All runs under the root, newest first. Folders that are not runs are skipped."""
        if not self.root.is_dir():
            return []
        infos = []
        for path in self.root.iterdir():
            if path.is_dir() and (path / CONFIG_FILE).is_file():
                info = read_run_info(path)
                if info is not None:
                    infos.append(info)
        infos.sort(key=lambda i: (i.created, i.run_id), reverse=True)
        return infos


def read_history(path: Path) -> list[dict[str, float]]:
    """Rows of ``history.csv``; a torn last line (a kill mid-write) is dropped."""
    try:
        text = (path / HISTORY_FILE).read_text()
    except (OSError, UnicodeDecodeError):  # missing, or damaged (kvt_models.store.damage says how)
        return []
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            parsed = {k: float(row[k]) for k in HISTORY_COLUMNS if k not in _OPTIONAL_COLUMNS}
            for k, fallback in _OPTIONAL_COLUMNS.items():
                parsed[k] = float(row.get(k) or parsed[fallback])
        except (KeyError, TypeError, ValueError):
            continue
        parsed["epoch"] = int(parsed["epoch"])
        rows.append(parsed)
    return rows


def _status_of(path: Path, all_epochs_done: bool) -> tuple[str, str]:
    status = read_json(path / STATUS_FILE)
    status = status if isinstance(status, dict) else {}  # missing or damaged (kvt_models.store.damage says how)
    state = str(status.get("status", "stopped"))
    message = str(status.get("message", ""))
    if state == "running" and not lock_held(path):
        # The process is gone without saying goodbye (kill -9, power loss),
        # and its lock went with it.
        if all_epochs_done:
            # Every epoch's checkpoint, row and report is on disk: only the plots and the last status were not.
            return "finished", "its process ended after its last epoch, before its plots (killed or crashed); e exports them"
        return "stopped", "the process ended without finishing (killed or crashed)"
    return state, message


def read_run_info(path: Path) -> RunInfo | None:
    path = Path(path)
    config = read_json(path / CONFIG_FILE)
    if not isinstance(config, dict):
        return None
    history = read_history(path)
    run_cfg = config.get("config", {})
    state, message = _status_of(path, len(history) >= int(run_cfg.get("epochs") or 0) > 0)
    return RunInfo(
        run_id=path.name,
        path=path,
        config=run_cfg,
        status=state,
        message=message,
        epochs_done=len(history),
        epochs_total=int(run_cfg.get("epochs") or 0),
        last=history[-1] if history else {},
        created=str(config.get("created", "")),
        params=int(config.get("params") or 0),
        train_samples=int(config.get("train_samples") or 0),
        versions=dict(config.get("versions") or {}),
    )


def read_run(path: str | os.PathLike) -> RunRecord:
    """Read a whole run folder for display."""
    path = Path(path)
    info = read_run_info(path)
    if info is None:
        raise RunStoreError(f"{path} is not a kvt run folder (no readable config.json)")
    report = read_json(path / REPORT_FILE)
    config = read_json(path / CONFIG_FILE) or {}
    return RunRecord(
        **vars(info),
        history=read_history(path),
        report=(report or {}).get("report"),
        confusion=(report or {}).get("confusion", []),
        class_names=(report or {}).get("class_names") or config.get("class_names", []),
        report_epoch=(report or {}).get("epoch"),
    )


class RunWriter:
    """Writes one run's files as training goes."""

    def __init__(self, path: Path, run_id: str):
        self.path = path
        self.run_id = run_id

    def file(self, name: str) -> Path:
        return self.path / name

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.file(CONFIG_FILE), {"created": datetime.now().isoformat(timespec="seconds"), **config})

    def set_status(self, status: str, message: str = "") -> None:
        assert status in STATUSES, status
        atomic_write_json(
            self.file(STATUS_FILE),
            {"status": status, "message": message, "pid": os.getpid(), "updated": time.time()},
        )

    def append_history(self, row: dict[str, float | int]) -> None:
        """Append one epoch's row; flushed and fsynced so a kill cannot lose it."""
        path = self.file(HISTORY_FILE)
        new = not path.exists() or path.stat().st_size == 0
        try:
            # The header is always HISTORY_COLUMNS: a new file gets it here, and a resumed
            # run's history was rewritten with it first (RunRecorder.reopen), whatever kvt made it.
            with open(path, "a", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise write_error(path, exc) from exc

    def rewrite_history(self, rows: list[dict[str, float]]) -> None:
        """Replace history.csv with exactly ``rows`` (atomically), e.g. before resuming."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
        atomic_write_bytes(self.file(HISTORY_FILE), buf.getvalue().encode())

    def write_report(self, report: dict[str, Any], confusion: list[list[int]], class_names: list[str],
                     epoch: int | None = None, views: int | None = None) -> None:
        """report.json: the test report of the model after ``epoch`` (the checkpoint's, when kvt writes it).

        ``views``: how many test-time views each prediction averaged (1: the plain image).
        """
        atomic_write_json(
            self.file(REPORT_FILE),
            {"report": report, "confusion": confusion, "class_names": class_names,
             **({"epoch": epoch} if epoch is not None else {}), **({"views": views} if views is not None else {})},
        )


class RunRecorder(RunWriter):
    """The writer of a run that this process trains: it holds the run's lock and records its epochs.

    The lock is taken when the folder is made (:meth:`RunStore.create`) or
    reopened to go on (:meth:`reopen`), and held until :meth:`close`, so the
    run reads "running" to everyone else for exactly that long.
    """

    def __init__(self, path: Path, run_id: str, lock: RunLock, history: list[dict[str, float]] | None = None):
        super().__init__(path, run_id)
        self._lock = lock
        self.history: list[dict[str, float]] = list(history or [])  # the finished epochs, as on disk

    @classmethod
    def reopen(cls, run_dir: Path) -> "RunRecorder":
        """Take an existing run back to train it further; RunStoreError if it is still running."""
        lock = RunLock.take(run_dir)
        if lock is None:
            raise RunStoreError(f"cannot resume {run_dir}: it is still running; stop it first")
        recorder = cls(run_dir, run_dir.name, lock, read_history(run_dir))
        try:
            # Keep exactly the finished epochs: history.csv without a torn last line.
            recorder.rewrite_history(recorder.history)
            # Half-written files of a writer that was killed (we hold the lock: no writer is alive).
            for leftover in run_dir.glob(TEMPORARY_FILES):
                leftover.unlink(missing_ok=True)
        except BaseException:
            recorder.close()
            raise
        return recorder

    def save_model(self, save: Callable[[Path], Any]) -> None:
        """Replace model.keras atomically; ``save`` is the model's own save function."""
        atomic_save(self.file(MODEL_FILE), save)

    def record_epoch(self, event: EpochEnded, save: Callable[[Path], Any], report: dict[str, Any] | None = None) -> None:
        """A finished epoch onto disk: its checkpoint first, then its history row, then its report.

        So a row on disk always has a checkpoint at least as new beside it, and
        a run killed at any instant resumes from the last row of its history;
        report.json names the epoch it describes (one behind the history if a
        kill came between the two).
        """
        self.save_model(save)
        row = event.as_row()
        self.append_history(row)
        self.history.append(row)
        if report is not None:
            self.write_report(**report, epoch=event.epoch)

    def recording(self, listener: Listener, save: Callable[[Path], Any],
                  report: Callable[[], dict[str, Any] | None] | None = None) -> Listener:
        """``listener``, behind this recorder: whoever hears that epoch N ended can count on it being on disk.

        ``report`` gives report.json's content for the epoch that just ended (or None).
        """

        def record_then_tell(event: Any) -> None:
            if isinstance(event, EpochEnded):
                self.record_epoch(event, save, report() if report is not None else None)
            listener(event)

        return record_then_tell

    def close(self) -> None:
        """Let go of the run: from now on it reads as whatever its status says, or stopped if "running"."""
        self._lock.release()

    def __enter__(self) -> "RunRecorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
