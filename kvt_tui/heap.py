"""Full garbage collections between keys, not during them.

Python's cyclic collector runs a full (generation-2) collection whenever
enough objects have survived the younger ones, at whatever instant that
happens. In the app, under a run's stream of events, that was every few
seconds, and each one walked every object of the screen's ~200 widgets: the
keys it landed on took 100-250 ms more (docs/live.md). So, once the main
screen is built, :class:`IdleCollector`

- moves everything alive into the permanent generation (``gc.freeze``): the
  widgets, styles and modules that live as long as the app, which no later
  collection needs to walk again;
- leaves the young generations to Python as they are (cheap, and they free
  most cyclic garbage), but takes the full collection off the automatic
  path, and
- runs it itself, at most every ``every`` seconds, only when no key or mouse
  event came in for ``quiet`` seconds: between keys, where nobody waits.

Only the app made by ``kvt-tui`` (and the latency bench) uses it: the gc
settings are the process's, and a test process that makes many apps should
not freeze each one's objects for good.
"""

from __future__ import annotations

import gc
import time
from typing import Any

# An automatic full collection only after this many generation-1 ones: in practice never, the timer does them.
_FULL_AFTER = 1_000_000


class IdleCollector:
    def __init__(self, app: Any, *, every: float = 10.0, quiet: float = 0.25) -> None:
        self.app = app
        self.every = every
        self.quiet = quiet
        self.last_input = self.last_full = time.monotonic()
        self.collections = 0

    def start(self) -> None:
        """Freeze what the app has built so far and take over the full collections."""
        gc.collect()
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, _FULL_AFTER)
        self.app.set_interval(self.quiet, self._tick)

    def input_seen(self) -> None:
        self.last_input = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last_full >= self.every and now - self.last_input >= self.quiet:
            gc.collect()
            self.collections += 1
            self.last_full = time.monotonic()
