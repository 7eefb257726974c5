"""The app's DataTable: it keeps its drawn rows when its tab is shown again, and when it gets the focus.

Textual sends a widget a Resize each time it comes back into the layout,
its size changed or not, and DataTable takes every Resize as a reason to
draw all its rows again (it bumps the counter that keys its row caches).
Opening the runs view then redrew each visible cell, most of the time from
the key to the screen (docs/live.md). This table forgets its rows only when
its size really changed.

Focus is the same story: DataTable forgets every drawn row at each style
update, and the focus moving in or out is one (the runs view takes the
focus when its tab is shown). Its row, cell and line caches are keyed by
the table's pseudo-class state (focus, hover...) already, so the rows drawn
focused stay right for the next time it is focused, as long as the theme is
the same; only the cell-style lookup, which reads the new state, is dropped.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import DataTable


class KvtTable(DataTable):
    """A DataTable whose row caches survive a Resize to the size it already had, and a focus change."""

    _drawn_size: Size | None = None
    _styled_for: Any = None  # the theme its cached rows were drawn in

    def notify_style_update(self) -> None:
        theme = (self.app.theme, self.app.ansi_color)
        if theme != self._styled_for:
            self._styled_for = theme
            super().notify_style_update()  # everything drawn again
            return
        Widget.notify_style_update(self)
        self._get_styles_to_render_cell.cache_clear()
        self._styles_cache.clear()
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        if event.size != self._drawn_size:
            self._drawn_size = event.size
            super()._on_resize(event)
