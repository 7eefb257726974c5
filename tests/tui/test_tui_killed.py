"""kvt-tui on a real terminal, killed with -9 or left without its terminal while a run trains.

The run trains in the app's child process. Either way the child saves its
last finished epoch, lets go of the run's lock and exits within seconds; no
process of the app's session is left, and the run resumes to its end. The
app leads a session of its own on a pseudo-terminal that is its controlling
terminal, as a login shell's would be: closing the terminal's other end is a
real hangup (SIGHUP), as when an SSH connection drops.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from procs import alive, history_rows, session_members, wait_until

from kvt_models.store.locking import lock_held
from kvt_models.store.runs import read_run

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 240  # a loaded 2-core box: the app, TensorFlow's import in its child, the first epoch
GONE_S = 15


def _take_the_terminal() -> None:
    """In the app's process (a session leader, by start_new_session): its pty becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """kvt-tui on a fresh pty of 100x30; what it draws is read (and kept) all along, so it never blocks."""

    def __init__(self, tmp_path: Path, *args: str):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "KVT_TUI_LOG": str(tmp_path / "tui.log")}
        self.proc = subprocess.Popen([sys.executable, "-m", "kvt_tui", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, cwd=ROOT, start_new_session=True,
                                     preexec_fn=_take_the_terminal)
        os.close(slave)
        self.seen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return  # the terminal is closed (by us) or has no one on the other side
            if not chunk:
                return
            self.seen += chunk

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill -9", "terminal gone"])
def test_the_app_gone_mid_run_leaves_the_run_saved_and_no_process_behind(tmp_path: Path, how: str) -> None:
    runs = tmp_path / "runs"
    term = Terminal(tmp_path, "--data", "sample", "--epochs", "3", "--runs-dir", str(runs))
    sid = term.proc.pid
    try:
        wait_until(lambda: b"Activation" in term.seen, STARTUP_S, "the form on screen")
        term.press(b"t")  # the form's first field has the focus: t trains
        wait_until(lambda: any(history_rows(p) for p in runs.glob("2*")), STARTUP_S, "the run's first epoch")
        [run_dir] = [p for p in runs.iterdir() if (p / "config.json").is_file()]
        child = json.loads((run_dir / "status.json").read_text())["pid"]
        assert child != term.proc.pid and alive(child)
        if how == "kill -9":
            term.proc.kill()
        else:
            term.close()  # the terminal hangs up: SIGHUP to the app, as a dropped SSH session does
        wait_until(lambda: not session_members(sid), GONE_S, f"every process of the app's session ends: "
                   f"{session_members(sid)}")
        term.proc.wait(timeout=5)
    finally:
        term.close()
        for pid in session_members(sid):  # whatever a failure left behind
            subprocess.run(["kill", "-9", str(pid)], check=False)
    run = read_run(run_dir)
    assert not lock_held(run_dir) and run.status == "stopped" and 1 <= run.epochs_done < 3
    assert run.report_epoch == run.epochs_done
    assert b"Traceback" not in term.seen

    done = subprocess.run([sys.executable, "-m", "kvt_models.cli", "--resume", str(run_dir)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [int(r["epoch"]) for r in read_run(run_dir).history] == [1, 2, 3]
