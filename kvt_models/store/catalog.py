"""The runs dir as rows to find runs by: ``kvt-train runs`` and the app's runs view read the same rows.

One row per run folder, newest first: id, variant, backend, recipe, status
(``damaged`` when :func:`kvt_models.store.damage.problem` finds a file
broken, or config.json cannot be read), epochs, best and final test
accuracy, training speed, tags and note. :func:`matches` is the one search
rule (the CLI's ``--search`` and the app's filter box): every word of the
text, in any case, begins a word of the run's id, variant, note, tags or data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from kvt_models.store.damage import problem
from kvt_models.store.notes import read_notes
from kvt_models.store.runs import CONFIG_FILE, RunInfo, read_history, read_run_info
from kvt_models.variants import variant_name

DAMAGED = "damaged"
_WORD_BREAK = re.compile(r"[^\w]+|_")
# The columns of `kvt-train runs` (and its --json keys, in this order).
COLUMNS = ("id", "variant", "backend", "recipe", "status", "epochs", "best", "final", "img/s", "tags", "note")


@dataclass
class RunRow:
    run_id: str
    path: Path
    created: str
    variant: str
    backend: str
    recipe: str
    data: str
    status: str  # the run's, or "damaged"
    epochs_done: int
    epochs_total: int
    best_accuracy: float  # NaN with no finished epoch
    final_accuracy: float
    images_per_second: float  # NaN when unknown
    note: str = ""
    tags: list[str] = field(default_factory=list)
    problem: str = ""  # what is damaged, and what to do
    info: RunInfo | None = None  # None for a folder whose config.json cannot be read

    def haystack(self) -> str:
        """What the search rule looks in: id, variant, note, tags, data."""
        return " ".join((self.run_id, self.variant, self.note, " ".join(self.tags), self.data)).lower()

    def to_json(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {"id": self.run_id, "path": str(self.path), "created": self.created, "variant": self.variant,
                "backend": self.backend, "recipe": self.recipe, "data": self.data, "status": self.status,
                "epochs_done": self.epochs_done, "epochs_total": self.epochs_total,
                "best_accuracy": number(self.best_accuracy), "final_accuracy": number(self.final_accuracy),
                "images_per_second": number(self.images_per_second), "tags": list(self.tags), "note": self.note,
                "problem": self.problem}


def row_of(path: Path) -> RunRow | None:
    """The row of a run folder; None for a folder that is not a run (no config.json file)."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        return None
    notes = read_notes(path)
    try:
        info = read_run_info(path)
    except (TypeError, ValueError):  # a config.json that is JSON with the wrong kinds of values in it
        info = None
    if info is None:
        return RunRow(path.name, path, _created_from_id(path.name), "?", "?", "?", "", DAMAGED, 0, 0, math.nan, math.nan, math.nan,
                      notes.note, notes.tags,
                      f"{CONFIG_FILE} is damaged (not a run's settings); the run cannot be shown or resumed: "
                      "restore the file, or delete the folder")
    cfg = info.config
    history = read_history(path)
    trouble = problem(path) if info.status != "running" else None  # a running run's files are its writer's
    accuracies = [row["val_accuracy"] for row in history]
    seconds = sum(row.get("train_seconds", row["seconds"]) for row in history)
    speed = info.train_samples * len(history) / seconds if info.train_samples and seconds > 0 else math.nan
    return RunRow(
        run_id=info.run_id, path=path, created=info.created,
        variant=variant_name(str(cfg.get("framework", "?")), str(cfg.get("activation", "?")), info.backend),
        backend=info.backend, recipe=str(cfg.get("recipe", "?")), data=str(cfg.get("data", "")),
        status=DAMAGED if trouble else info.status, epochs_done=info.epochs_done, epochs_total=info.epochs_total,
        best_accuracy=max(accuracies, default=math.nan), final_accuracy=accuracies[-1] if accuracies else math.nan,
        images_per_second=speed, note=notes.note, tags=notes.tags, problem=trouble or "", info=info,
    )


def _created_from_id(run_id: str) -> str:
    """``2025-01-04T10:00:00`` from a run id's stamp (``20250104-100000-...``), where config.json cannot say."""
    stamp = run_id[:15]
    if len(stamp) == 15 and stamp[8] == "-" and (stamp[:8] + stamp[9:]).isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"
    return ""


def list_rows(root: Path) -> list[RunRow]:
    """Every run folder under ``root``, newest first; damaged ones too (as ``damaged``), never an exception."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    rows = [row for path in root.iterdir() if path.is_dir() and (row := row_of(path)) is not None]
    return sort_rows(rows, "date")


def _words(text: str) -> list[str]:
    return [w for w in _WORD_BREAK.split(text.lower()) if w]


def matches(row: RunRow, text: str) -> bool:
    """The search rule: every word of ``text`` begins a word of the run's id, variant, note, tags or data.

    Any case; words are split at anything but letters and digits, so ``elu``
    finds ``keras:elu`` and not ``keras:relu``, and ``cifar`` finds a
    ``~/data/cifar10.tar.gz``.
    """
    words = _words(row.haystack())
    return all(any(w.startswith(q) for w in words) for q in _words(text))


def select(rows: Iterable[RunRow], *, status: str | None = None, tags: Iterable[str] = (),
           search: str = "") -> list[RunRow]:
    """The rows with ``status``, carrying every tag of ``tags`` (any case), and matching ``search``."""
    wanted = {t.lower() for t in tags}
    return [row for row in rows
            if (status is None or row.status == status)
            and wanted <= {t.lower() for t in row.tags}
            and matches(row, search)]


def sort_rows(rows: Iterable[RunRow], by: str) -> list[RunRow]:
    """Newest first (``date``), or the best final test accuracy first (``accuracy``; runs without one last)."""
    newest = sorted(rows, key=lambda r: (r.created, r.run_id), reverse=True)
    if by == "accuracy":
        return sorted(newest, key=lambda r: (math.isnan(r.final_accuracy), -(0.0 if math.isnan(r.final_accuracy)
                                                                              else r.final_accuracy)))
    return newest
