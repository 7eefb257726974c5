"""A run's epochs, held once: the metrics table and the curves both draw from one list.

The live view and a reopened run each have one :class:`HistoryView`. Rows
go in only through :meth:`HistoryView.set_history` and
:meth:`HistoryView.add_epoch`, so the table and the curves can never show two
different histories.
"""

from __future__ import annotations

from typing import Iterable

from textual.app import ComposeResult
from textual.containers import Vertical

from .curves import Curves
from .metrics_table import MetricsTable


class HistoryView(Vertical):
    """The metrics table above the loss and accuracy curves, for one run."""

    def __init__(self, *, id: str | None = None, table_id: str | None = None, curves_id: str | None = None) -> None:
        super().__init__(id=id)
        # The one copy of the run's rows; the two children read it, never copy it.
        self.history: list[dict[str, float]] = []
        self._table_id = table_id
        self._curves_id = curves_id

    def compose(self) -> ComposeResult:
        yield MetricsTable(self.history, id=self._table_id)
        yield Curves(self.history, id=self._curves_id)

    def set_history(self, rows: Iterable[dict[str, float]]) -> None:
        """Replace the rows: a run reopened or resumed (its earlier epochs), or a new run ([])."""
        self.history[:] = [dict(row) for row in rows]
        self.query_one(MetricsTable).show_history()
        self.query_one(Curves).redraw()

    def add_epoch(self, row: dict[str, float]) -> None:
        """Append one finished epoch's row."""
        self.history.append(dict(row))
        self.query_one(MetricsTable).show_last_row()
        self.query_one(Curves).redraw()
