"""The metrics table: one row per finished epoch, appended live.

The columns are those of ``history.csv``, so a run watched live and the same
run reopened from disk show the same table. The raw rows are kept in
:attr:`MetricsTable.history` (what the tests compare with the file).
"""

from __future__ import annotations

import math
from typing import Iterable

from textual.widgets import DataTable

COLUMNS: tuple[tuple[str, str], ...] = (
    ("epoch", "epoch"),
    ("loss", "loss"),
    ("accuracy", "acc"),
    ("val_loss", "val_loss"),
    ("val_accuracy", "val_acc"),
    ("lr", "lr"),
    ("seconds", "sec"),
)


def format_cell(key: str, value: float) -> str:
    """How one history value is shown: 4 decimals for metrics, 3 significant digits for lr."""
    if key == "epoch":
        return str(int(value))
    if not math.isfinite(value):
        return str(value)
    if key == "lr":
        return f"{value:.3g}"
    if key == "seconds":
        return f"{value:.1f}"
    return f"{value:.4f}"


class MetricsTable(DataTable):
    """A DataTable of history rows (epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, show_row_labels=False)
        self.history: list[dict[str, float]] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def add_epoch(self, row: dict[str, float]) -> None:
        """Append one epoch's row and keep it in view."""
        self.history.append(dict(row))
        self.add_row(*(format_cell(key, row[key]) for key, _ in COLUMNS), key=str(int(row["epoch"])))
        self.move_cursor(row=self.row_count - 1)

    def set_history(self, rows: Iterable[dict[str, float]]) -> None:
        """Replace the table with ``rows`` (a run reopened from disk, or a new run: [])."""
        self.clear()
        self.history = []
        for row in rows:
            self.add_epoch(row)
