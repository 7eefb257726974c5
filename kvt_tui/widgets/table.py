"""The app's DataTable: it keeps its drawn rows when its tab is shown again.

Textual sends a widget a Resize each time it comes back into the layout,
its size changed or not, and DataTable takes every Resize as a reason to
draw all its rows again (it bumps the counter that keys its row caches).
Opening the runs view then redrew each visible cell, most of the time from
the key to the screen (docs/live.md). This table forgets its rows only when
its size really changed.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widgets import DataTable


class KvtTable(DataTable):
    """A DataTable whose row caches survive a Resize to the size it already had."""

    _drawn_size: Size | None = None

    def _on_resize(self, event: events.Resize) -> None:
        if event.size != self._drawn_size:
            self._drawn_size = event.size
            super()._on_resize(event)
