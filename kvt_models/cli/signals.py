"""SIGINT, SIGTERM and SIGHUP as a graceful stop at the next batch end, the run saved first."""

from __future__ import annotations

import signal
import threading
from typing import Any, TextIO


class SignalStop:
    """Turn SIGINT/SIGTERM/SIGHUP into a graceful stop at the next batch end."""

    SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)

    def __init__(self, stop: threading.Event, err: TextIO):
        self.stop = stop
        self.err = err
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "SignalStop":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    # Under nohup SIGHUP is ignored on purpose: keep it that way.
                    continue
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            # A second signal means "now": leave as Python would.
            raise KeyboardInterrupt
        self.signum = signum
        self.stop.set()
        try:
            print(f"[INFO] got {signal.Signals(signum).name}: stopping at the next batch and saving the run",
                  file=self.err, flush=True)
        except (OSError, ValueError):
            pass  # the terminal is gone (SIGHUP): the run still saves
