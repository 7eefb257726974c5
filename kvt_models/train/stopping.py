"""A stop request that a waiting thread can select on: ``StopRequest``.

The app's Stop key, Ctrl-C and SIGHUP set a flag; a thread that relays a
child process's events waits on that child's pipe and its exit sentinel with
``multiprocessing.connection.wait``. A plain ``threading.Event`` cannot be
part of that wait, so a ``StopRequest`` is an Event that also writes one byte
to a pipe per waiter when it is set: the relaying thread wakes at once, and
never has to poll the flag.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


class StopRequest(threading.Event):
    """A ``threading.Event`` whose ``set()`` also wakes ``multiprocessing.connection.wait``."""

    def __init__(self) -> None:
        super().__init__()
        self._wakers: list["Connection"] = []
        # Re-entrant: a signal handler on the main thread may call set() while
        # that same thread is inside waker(), holding this lock.
        self._wakers_lock = threading.RLock()

    def set(self) -> None:
        super().set()
        with self._wakers_lock:
            wakers = list(self._wakers)
        for conn in wakers:
            with contextlib.suppress(OSError):  # the waiter has just closed its end
                conn.send_bytes(b"stop")

    @contextlib.contextmanager
    def waker(self) -> Iterator["Connection"]:
        """A connection that becomes readable when (or if already) the request is set."""
        import multiprocessing  # deferred: the app creates its stop requests before its first frame

        readable, writable = multiprocessing.Pipe(duplex=False)
        with self._wakers_lock:
            self._wakers.append(writable)
        if self.is_set():  # set before we registered: wake now
            with contextlib.suppress(OSError):
                writable.send_bytes(b"stop")
        try:
            yield readable
        finally:
            with self._wakers_lock:
                self._wakers.remove(writable)
            writable.close()
            readable.close()
