"""The app's SelectionList: it keeps its drawn options when its tab is shown again.

Textual sends a widget a Resize each time it comes back into the layout,
its size changed or not, and OptionList (SelectionList's base) drops every
drawn option at each Resize. The Compare tab's list of variants was then
drawn again at each visit to the tab. This list forgets its drawing only
when the width it draws in changed (the options are drawn to that width;
the height only decides how many show).
"""

from __future__ import annotations

from textual.widgets import SelectionList


class KvtSelectionList(SelectionList[str]):
    """A SelectionList whose drawn options survive a Resize to the width it already had."""

    _drawn_width: int | None = None

    def _on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._drawn_width:
            self._drawn_width = width
            super()._on_resize()
