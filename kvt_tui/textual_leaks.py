"""Two leaks in Textual 8.2, and what kvt does about them.

Both keep dead widgets' rendered lines alive (each line a ``Strip`` with
its own small caches, so thousands of objects per screen). Under the
key-latency bench they made the app grow by ~30 MB over a few hundred keys,
and, worse for a user, every full garbage collection walked them all: the
slowest keys were the ones a 250-ms collection landed on (docs/live.md).

1. **Watchers on a long-lived object** (Textual issue #6666).
   ``a.watch(b, "attr", ...)`` and ``a.data_bind(...)`` store ``(a, callback)``
   on the *watched* ``b``, and Textual drops the entries of closed widgets
   only when ``b.attr`` changes again. So every Header of a run screen opened
   and closed (it watches the app's title) and every key of a Footer that
   rebuilds (they watch the footer's ``compact``) stayed alive.
   :func:`forget_watchers` drops them; the header and the footer call it.
2. **An ``lru_cache`` on a method.** ``StylesCache.get_inner_outer`` is cached
   with ``functools.lru_cache`` on the instance method, so its key holds each
   widget's ``StylesCache`` -- and with it every line that widget last drew --
   for the cache's 1,024 most recent entries, long after the widget is gone.
   The two colours it depends on are all its result depends on:
   :func:`install` caches them alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def forget_watchers(watched: Any, *, of: Any = None) -> None:
    """Drop the entries on ``watched`` of widgets that are closing or closed (or, with ``of``, of that one)."""
    for entries in getattr(watched, "__watchers", {}).values():
        entries[:] = [
            (node, callback) for node, callback in entries
            if node is not of and not (getattr(node, "_closing", False) or getattr(node, "_closed", False))
        ]


def install() -> None:
    """Cache ``StylesCache.get_inner_outer`` by its colours only (idempotent)."""
    from textual._styles_cache import StylesCache
    from textual.style import Style

    if getattr(StylesCache.get_inner_outer, "_kvt", False):
        return

    @lru_cache(1024)
    def inner_outer(base_background: Any, background: Any) -> tuple[Style, Style]:
        return Style(background=base_background + background), Style(background=base_background)

    def get_inner_outer(self: Any, base_background: Any, background: Any) -> tuple[Style, Style]:
        return inner_outer(base_background, background)

    get_inner_outer._kvt = True  # type: ignore[attr-defined]
    StylesCache.get_inner_outer = get_inner_outer  # type: ignore[method-assign, assignment]
