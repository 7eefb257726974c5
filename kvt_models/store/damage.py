"""A run folder's files checked before they are trusted: one line that names a damaged file and what to do.

kvt writes every file of a run atomically (or, for history.csv, one fsynced
row at a time), so a kill leaves whole files behind; what is damaged was
damaged by something else (a disk fault, a copy cut short, a hand edit). The
run store reads leniently, for display (an unreadable status reads
"stopped", a torn history row is dropped); :func:`problem` says what a
resume must not build on. The runs view shows it; ``--resume`` refuses with
it before touching the folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
import zlib
from pathlib import Path

from kvt_models.store.runs import HISTORY_COLUMNS, HISTORY_FILE, MODEL_FILE, STATUS_FILE

# What each file's line ends with: what to do about it.
_FIX = {
    STATUS_FILE: "it only records how the run ended: delete it, and the run reads as stopped and can be resumed",
    HISTORY_FILE: "the run cannot be resumed as it is: restore the file, or start a new run with its settings",
    MODEL_FILE: "the run cannot be resumed from it: restore the file, or start a new run with its settings "
                "(its history and report stay readable)",
}


def problem(run_dir: Path, *, thorough: bool = False) -> str | None:
    """The first damaged file of ``run_dir``, as one line that names it and says what to do; None if all is well.

    ``thorough`` also checks every byte of model.keras against its zip CRCs
    (a read of the whole file: what a resume does first); without it the
    zip's directory is read, which finds a truncated or foreign file.
    """
    run_dir = Path(run_dir)
    for name, check in ((STATUS_FILE, _status), (HISTORY_FILE, _history)):
        what = check(run_dir / name)
        if what:
            return f"{name} is damaged ({what}); {_FIX[name]}"
    model = run_dir / MODEL_FILE
    if model.is_file():
        what = _model(model, thorough)
        if what:
            return f"{MODEL_FILE} is damaged ({what}); {_FIX[MODEL_FILE]}"
    return None


def _status(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None  # a run being made, or one from before status files: not damage
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    try:
        status = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return "not JSON"
    if not isinstance(status, dict) or not isinstance(status.get("status"), str):
        return "no status in it"
    return None


def _history(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None  # no epoch finished yet
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return "not text"
    if not text:
        return None
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]), [])
    if not {"epoch", "val_accuracy"} <= set(header):
        return "its first line is not the header epoch,loss,accuracy,..."
    expected = 1
    for number, line in enumerate(lines[1:], start=2):
        epoch = _epoch_of(next(csv.DictReader(io.StringIO(lines[0] + line)), None))
        if epoch is None:
            if number == len(lines) and not line.endswith("\n"):
                return None  # a last row torn by a kill mid-write: the run store drops it, and so does a resume
            return f"line {number} is not an epoch's row"
        if epoch != expected:
            return f"line {number} is epoch {epoch}, where epoch {expected} should be"
        expected += 1
    return None


def _epoch_of(row: dict[str, str] | None) -> int | None:
    """A history row's epoch, if the row has every number a row has (NaN is a number); else None."""
    if not row:
        return None
    try:
        values = [float(row[key]) for key in HISTORY_COLUMNS[:6]]  # epoch, loss, ..., lr: train_seconds came later
    except (KeyError, TypeError, ValueError):
        return None
    epoch = values[0]
    return int(epoch) if math.isfinite(epoch) and epoch == int(epoch) else None


def _model(path: Path, thorough: bool) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("config.json") for name in archive.namelist()):
                return "not a Keras model file"
            if thorough:
                bad = archive.testzip()
                if bad is not None:
                    return f"{bad} in it fails its checksum"
    except (zipfile.BadZipFile, EOFError):
        return "truncated, or not a Keras model file"
    except zlib.error:
        return "its compressed data is corrupt"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None
