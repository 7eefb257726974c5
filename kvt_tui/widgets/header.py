"""The header: Textual's, minus the watchers it leaves on the app when its screen closes."""

from __future__ import annotations

from textual.widgets import Header

from ..textual_leaks import forget_watchers


class KvtHeader(Header):
    """A Header that, unmounted with its screen, takes its title watchers off the app (Textual #6666)."""

    def on_unmount(self) -> None:
        forget_watchers(self.app, of=self)
