"""The training process measures itself: CPU of its process tree, its memory, and the machine's (psutil).

:class:`SystemMonitor` runs inside the process that trains (the app's child,
``kvt-train`` itself, a Ray worker), driven by the Keras callback, and makes
:class:`~kvt_models.events.SystemSampled` events that travel with the other
events: the UI never polls ``/proc``, and a Ray run reports its worker's
figures through the same relay.

- CPU: the user + system seconds of this process (all its threads: TensorFlow's
  pools) and of its live children, plus those of children it has reaped, per
  wall second: cores busy. The machine's share is ``psutil.cpu_percent``
  since the previous sample, every process included, so a user sees when
  another job competes.
- Memory: this process's RSS; its peak is the larger of the samples and the
  kernel's high-water mark (``ru_maxrss``), which also catches a spike between
  two samples. On a Ray worker reused for several runs that mark is the
  worker's since it started.

psutil is imported here, in the training process only (~40 ms on a loaded
2-core box): the app never imports this module.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from typing import Any, Callable

from kvt_models.events import SystemSampled


def _peak_rss_mark() -> int:
    """The kernel's high-water mark of this process's RSS, in bytes (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows: the samples alone
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB elsewhere


class SystemMonitor:
    """Samples of this process tree and the machine; :meth:`due` says when the next one is."""

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        import psutil

        self._psutil = psutil
        self.interval = interval
        self._clock = clock
        self._process = psutil.Process()
        self._cpu_count = psutil.cpu_count() or 1
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._peak = 0
        psutil.cpu_percent(None)  # the first call only sets the machine's baseline
        self._last_at = self._epoch_at = clock()
        self._last_cpu = self._epoch_cpu = self._tree_cpu_seconds()

    def due(self) -> bool:
        return self._clock() - self._last_at >= self.interval

    def epoch_began(self) -> None:
        """Start the epoch's mean CPU from here."""
        self._epoch_at, self._epoch_cpu = self._clock(), self._tree_cpu_seconds()

    def sample(self) -> SystemSampled:
        psutil = self._psutil
        now, cpu = self._clock(), self._tree_cpu_seconds()
        cores = max(0.0, cpu - self._last_cpu) / (now - self._last_at) if now > self._last_at else 0.0
        epoch = max(0.0, cpu - self._epoch_cpu) / (now - self._epoch_at) if now > self._epoch_at else math.nan
        self._last_at, self._last_cpu = now, cpu
        rss = self._process.memory_info().rss
        self._peak = max(self._peak, rss, _peak_rss_mark())
        memory = psutil.virtual_memory()
        return SystemSampled(
            cpu_cores=cores, cpu_count=self._cpu_count, machine_cpu_percent=psutil.cpu_percent(None),
            rss=rss, peak_rss=self._peak, available=memory.available, total_memory=memory.total,
            epoch_cpu_cores=epoch, host=self._host, pid=self._pid,
        )

    def _tree_cpu_seconds(self) -> float:
        psutil = self._psutil
        times: Any = self._process.cpu_times()
        # Reaped children count in children_user/system; live ones are asked one by one.
        total = times.user + times.system + times.children_user + times.children_system
        try:
            children = self._process.children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                child_times = child.cpu_times()
            except psutil.Error:
                continue  # it ended between the listing and now: its seconds reach children_* once reaped
            total += child_times.user + child_times.system
        return total
