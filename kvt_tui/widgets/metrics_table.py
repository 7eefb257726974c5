"""The metrics table: one row per finished epoch, appended live.

The columns are those of ``history.csv``, so a run watched live and the same
run reopened from disk show the same table. The rows it shows are those of
the list it is given (:attr:`MetricsTable.history`), which its
:class:`~kvt_tui.widgets.history_view.HistoryView` owns and also draws the
curves from.
"""

from __future__ import annotations

import math

from .table import KvtTable

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


class MetricsTable(KvtTable):
    """A DataTable of history rows (epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds)."""

    def __init__(self, history: list[dict[str, float]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, show_row_labels=False)
        self.history = history  # shared with the owner, which adds the rows

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.show_history()

    def show_history(self) -> None:
        """Show every row of the history again (it was replaced)."""
        if not self.columns:
            return  # not mounted yet: on_mount shows the rows once the columns exist
        self.clear()
        for row in self.history:
            self._add(row)

    def show_last_row(self) -> None:
        """Show the row just appended to the history, and keep it in view."""
        self._add(self.history[-1])

    def _add(self, row: dict[str, float]) -> None:
        self.add_row(*(format_cell(key, row[key]) for key, _ in COLUMNS), key=str(int(row["epoch"])))
        self.move_cursor(row=self.row_count - 1)
