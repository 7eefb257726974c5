"""The relay: a small Ray actor, one per queued run, where the run's worker and the driver meet.

It lives on the driver's node (so it outlives any worker node) and holds:

- the items the worker pushed and the driver has not drained yet, in order:
  ``("event", event)`` and ``("files", run_id, {name: bytes})``;
- the last snapshot of the run folder (every file shipped so far, newest
  wins), which a retry of the task resumes from;
- the attempt number: each start of the task (Ray's retries included) takes
  the next one, and pushes of an older attempt (a worker thought dead) are
  dropped, so no epoch is recorded twice;
- the stop flag: the driver sets it, the worker waits on it.

An async actor, so that ``drain`` and ``wait_stop`` can wait for news without
holding up ``push``. Each caller has at most one call in flight (the worker
pushes synchronously), so items keep the order they were sent in.
"""

from __future__ import annotations

import asyncio
from typing import Any


class RunRelay:
    def __init__(self) -> None:
        self._items: list[tuple] = []
        self._news = asyncio.Event()
        self._stop = asyncio.Event()
        self._attempt = 0
        self._run_id = ""
        self._snapshot: dict[str, bytes] = {}

    async def begin(self) -> tuple[int, str, dict[str, bytes]]:
        """A new attempt starts: its number, and the run folder to resume from (``""``, ``{}``: none yet)."""
        self._attempt += 1
        return self._attempt, self._run_id, dict(self._snapshot)

    async def push(self, attempt: int, items: list[tuple]) -> bool:
        """Items from the worker of ``attempt``; False (and dropped) when a newer attempt has begun."""
        if attempt != self._attempt:
            return False
        for item in items:
            if item[0] == "files":
                _, run_id, files = item
                self._run_id = run_id
                self._snapshot.update(files)
        self._items.extend(items)
        self._news.set()
        return True

    async def drain(self, timeout: float) -> list[tuple]:
        """Everything pushed since the last drain, waiting up to ``timeout`` s for something to come."""
        if not self._items and timeout > 0:
            try:
                await asyncio.wait_for(self._news.wait(), timeout)
            except TimeoutError:
                pass
        items, self._items = self._items, []
        self._news.clear()
        return items

    async def request_stop(self) -> None:
        self._stop.set()

    async def wait_stop(self, timeout: float) -> bool:
        """True once a stop is requested; False when ``timeout`` s pass first (the worker asks again)."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout)
        except TimeoutError:
            pass
        return self._stop.is_set()

    async def attempts(self) -> int:
        return self._attempt

    def __repr__(self) -> Any:  # shown in Ray's dashboard and logs
        return f"RunRelay(run={self._run_id or '?'}, attempt={self._attempt})"
