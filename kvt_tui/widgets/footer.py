"""The footer, rebuilt only when the keys it shows change.

Textual's Footer rebuilds all its keys (a dozen widgets, each styled again)
whenever the screen's bindings are refreshed: at every focus change, tab
switch and cursor move in the runs view, whether or not a key appeared,
went or was dimmed. While a run streams events that rebuild was the largest
cost of answering a key (docs/live.md); this one compares what it would show
with what it shows, and rebuilds only on a difference. After a rebuild it
drops the watchers that the old keys left on it (:mod:`kvt_tui.textual_leaks`), or
every rebuild would keep its keys alive.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer

from ..textual_leaks import forget_watchers


class KvtFooter(Footer):
    """A Footer that skips rebuilds which would show the same keys."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            # What compose() reads: every binding it shows, enabled or dimmed, with its tooltip.
            keys = tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                         for (_, binding, enabled, tooltip) in screen.active_bindings.values() if binding.show)
            if keys == self._shown and self._bindings_ready:
                return
            self._shown = keys
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        await super().recompose()
        forget_watchers(self)  # the old keys' data_bind(compact=...) entries
