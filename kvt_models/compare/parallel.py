"""A queue's runs several at once: one thread waits on each run, and the listener hears one event at a time.

A run that trains elsewhere (a Ray task) costs this process only a thread
that relays its events, so a comparison can keep every free slot of a
cluster busy. The order of the queue is kept where it shows: runs start in
queue order, results come back in it, and each run's events reach the
listener in the order that run sent them (runs interleave with each other).
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

from kvt_models.events import Event, Listener

T = TypeVar("T")
R = TypeVar("R")


def serialized(listener: Listener, lock: threading.Lock) -> Listener:
    """``listener``, called under ``lock``: one event at a time, whichever run sent it (printers are not thread-safe)."""

    def one_at_a_time(event: Event) -> None:
        with lock:
            listener(event)

    return one_at_a_time


def run_all(items: Sequence[T], work: Callable[[T], R], concurrency: int,
            stop: threading.Event | None = None) -> list[R]:
    """``work(item)`` for every item, ``concurrency`` at a time, started in order; results in item order.

    The first exception ends the queue: it starts no more, sets ``stop`` (the
    stop request the runs in flight honour at their next batch, saving their
    last finished epoch), waits for them to end, and is raised. Without
    ``stop`` they would train on to their last epoch before the error showed.
    """
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="kvt-queue") as pool:
        futures = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()  # those not started yet
            if stop is not None:
                stop.set()
            wait(futures)
            raise failed.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
