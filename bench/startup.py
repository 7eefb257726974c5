"""Time from launching ``kvt-tui`` to its first frame on a terminal. Target: under 0.5 s.

Method (external clock, nothing inside the app is trusted): start
``python -m kvt_tui`` on a pseudo-terminal of 100x30, exactly as a user's
shell would, and read what it writes until a given text arrives. The time
from ``Popen`` to that moment includes the interpreter's start, every import,
the layout and the write to the terminal. Then ``q`` quits it. Several
launches are made; the median, min and max are printed for two moments:

- first frame: the header's title is on screen (the app's skeleton: header,
  footer with the keys, "Configuration / loading…");
- form ready: the whole form is on screen ("Activation" is one of its labels)
  and the keys work.

Usage::

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

FIRST_FRAME = "Keras vs. TensorFlow"  # the header's title
# The floor: a bare Textual app (a header, one line of text, a footer) on the same machine.
BARE_TEXTUAL = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    TITLE = "Keras vs. TensorFlow"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("Activation")
        yield Footer()

Bare().run()
"""
FORM_READY = "Activation"  # a label of the configuration form, mounted right after the first frame


def launch_once(
    markers: list[str], cols: int = 100, rows: int = 30, timeout: float = 20.0, bare: bool = False
) -> list[float]:
    """Seconds from spawning kvt-tui (or the bare app) on a fresh pty to seeing each of ``markers`` on it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "KVT_TUI_LOG": str(Path(tmp) / "tui.log"),
        }
        # Python writes bytecode caches by default, and a user's second launch
        # finds them; with PYTHONDONTWRITEBYTECODE (set on some CI boxes) every
        # launch would recompile kvt's own modules (~20 ms) and time that instead.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        if bare:
            command = [sys.executable, "-c", BARE_TEXTUAL]
        else:
            command = [sys.executable, "-m", "kvt_tui", "--data", "sample", "--runs-dir", str(Path(tmp) / "runs")]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        seen = b""
        found: dict[str, float] = {}
        try:
            deadline = start + timeout
            while len(found) < len(markers) and time.perf_counter() < deadline:
                ready, _, _ = select.select([master], [], [], 0.01)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    break
                now = time.perf_counter()
                seen += chunk
                for marker in markers:
                    if marker not in found and marker.encode() in seen:
                        found[marker] = now - start
            missing = [m for m in markers if m not in found]
            if missing:
                raise RuntimeError(f"no {missing} on the terminal after {timeout} s; got {seen[-500:]!r}")
            os.write(master, b"q")
            _drain_until_exit(master, proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
    return [found[m] for m in markers]


def _drain_until_exit(master: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Keep reading the pty (a full pty would block the app's last writes) until the app exits."""
    deadline = time.perf_counter() + timeout
    while proc.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    proc.wait(timeout=max(0.1, deadline - time.perf_counter()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="launches to time (default 7)")
    args = parser.parse_args()
    markers = [FIRST_FRAME, FORM_READY]
    launch_once(markers)  # warm the OS file cache; not counted
    launch_once([FIRST_FRAME], bare=True)
    results, bare = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        results.append(launch_once(markers))
        bare.append(launch_once([FIRST_FRAME], bare=True)[0])
    floor = statistics.median(bare)
    print(f"bare Textual app (header, a line, footer): median {floor:.3f} s, "
          f"min {min(bare):.3f} s, max {max(bare):.3f} s")
    for index, label in enumerate(("first frame", "form ready")):
        times = [r[index] for r in results]
        median = statistics.median(times)
        print(f"kvt-tui {label}: median {median:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
              f"over {len(times)} launches ({median / floor:.2f}x the bare app)")
    first = statistics.median(r[0] for r in results)
    print(f"target: first frame < 0.5 s -> {'met' if first < 0.5 else 'NOT met'} ({first:.3f} s)")
    return 0 if first < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
