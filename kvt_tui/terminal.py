"""The guards that keep TensorFlow's logs off the screen and let the app outlive its terminal.

TensorFlow, absl and oneDNN write their log lines from C++ straight to file
descriptors 2 (and sometimes 1), below Python. Textual draws the screen on
``sys.__stderr__``, i.e. fd 2 as well, so those bytes would land in the middle
of the drawing. :func:`protect_terminal` therefore gives Textual a private
duplicate of the terminal and points fds 1 and 2 at a log file for the whole
session.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from pathlib import Path
from typing import Callable


def default_log_path() -> Path:
    """``$KVT_TUI_LOG``, else ``~/.kvt/tui.log``."""
    env = os.environ.get("KVT_TUI_LOG")
    return Path(env).expanduser() if env else Path.home() / ".kvt" / "tui.log"


def _open_log(path: Path) -> tuple[int, str]:
    """An fd open for appending to ``path``, or to /dev/null when that is impossible."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), str(path)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY), os.devnull


class TerminalWriter(io.TextIOWrapper):
    """A text stream on the terminal that goes quiet once the terminal is gone.

    When an SSH connection drops, every write to the terminal fails with EIO.
    Textual's writer thread would die on the first one, and the app would then
    block forever on that thread's full queue, never quitting. Dropping the
    writes instead lets the app stop the run, save it, and exit.
    """

    _gone = False

    def write(self, text: str) -> int:
        if self._gone:
            return len(text)
        try:
            return super().write(text)
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EPIPE):
                raise
            self._gone = True
            return len(text)

    def flush(self) -> None:
        if self._gone:
            return
        try:
            super().flush()
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EPIPE):
                raise
            self._gone = True


def _terminal_stream(fd: int, encoding: str) -> TerminalWriter:
    return TerminalWriter(io.BufferedWriter(io.FileIO(fd, "w")), encoding=encoding, errors="replace", line_buffering=True)


def protect_terminal(log_path: Path) -> tuple[str, Callable[[], None]]:
    """Move native writes on fds 1 and 2 to a log file; keep the terminal for Textual.

    - ``sys.__stderr__`` becomes a line-buffered :class:`TerminalWriter` on a
      duplicate of fd 2: Textual's Linux driver draws on ``sys.__stderr__``.
    - ``sys.__stdout__`` becomes one on a duplicate of fd 1: ``shutil.
      get_terminal_size`` (the driver's size query, at start and on every
      SIGWINCH) asks ``sys.__stdout__.fileno()``, which must still be the terminal.
    - fds 1 and 2 then point at the log, so TensorFlow's C++ logs, absl's
      pre-init warnings and anything else written natively go there.

    Returns the log path actually used and a function that puts fds 1 and 2
    back on the terminal (for messages printed after the app has exited).
    """
    try:
        term_out = os.dup(1)
        term_err = os.dup(2)
    except OSError:  # no fd 1/2 at all (a daemon): nothing on screen to protect
        return os.devnull, lambda: None
    out_encoding = getattr(sys.__stdout__, "encoding", None) or "utf-8"
    err_encoding = getattr(sys.__stderr__, "encoding", None) or "utf-8"
    sys.stdout.flush()
    sys.stderr.flush()
    # typeshed marks sys.__stdout__/__stderr__ Final; replacing them is the point here (Textual draws on them).
    sys.__stdout__ = sys.stdout = _terminal_stream(term_out, out_encoding)  # type: ignore[misc]
    sys.__stderr__ = sys.stderr = _terminal_stream(term_err, err_encoding)  # type: ignore[misc]
    log_fd, used = _open_log(log_path)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)

    def restore() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(term_out, 1)
        os.dup2(term_err, 2)

    return used, restore


def on_a_terminal() -> bool:
    """Keys come from stdin and Textual draws on stderr: both must be a terminal."""
    try:
        return os.isatty(sys.stdin.fileno()) and os.isatty(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False
