"""``kvt-tui``: the entry point, its options, and the guard that keeps TensorFlow's logs off the screen.

:func:`create_app` builds the app for both :func:`main` and the tests.

TensorFlow, absl and oneDNN write their log lines from C++ straight to file
descriptors 2 (and sometimes 1), below Python. Textual draws the screen on
``sys.__stderr__``, i.e. fd 2 as well, so those bytes would land in the middle
of the drawing. :func:`main` therefore gives Textual a private duplicate of
the terminal and points fds 1 and 2 at a log file for the whole session.
"""

from __future__ import annotations

import argparse
import errno
import io
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

from kvt_models import options
from kvt_models.config import RunConfig
from kvt_models.errors import ConfigError
from kvt_models.paths import default_runs_dir

if TYPE_CHECKING:
    from .app import KvtApp

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (no usage dump), exit status 2."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        try:
            return super().parse_known_args(args, namespace)
        except options.FlagError as exc:
            # An option's own message already says what to type: no "see --help".
            self.exit(EXIT_USAGE, f"kvt-tui: {exc}\n")

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"kvt-tui: {message} (see kvt-tui --help)\n")


def build_parser() -> _Parser:
    p = _Parser(
        prog="kvt-tui",
        description="Train MiniVGGNet with Keras or TensorFlow ops and watch it live in the terminal.",
        epilog="TensorFlow's own log lines go to $KVT_TUI_LOG (default ~/.kvt/tui.log), never to the screen. "
        "Press ? in the app for the keys.",
    )
    # The same declarations as kvt-train's flags and the form's fields (kvt_models/options.py):
    # a value is refused here exactly as it would be there.
    for option in (options.DATA, options.RUNS_DIR, options.FRAMEWORK, options.ACTIVATION, options.BACKEND, options.EPOCHS):
        options.add_flag(p, option)
    return p


def create_app(
    *,
    data: str = "cifar10",
    runs_dir: str | os.PathLike[str] | None = None,
    framework: str = "keras",
    activation: str = "relu",
    backend: str = "tensorflow",
    epochs: int | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    log_path: str = "",
    train_fn: Callable[..., object] | None = None,
) -> KvtApp:
    """The app, preselected with the CLI options. Used by main(), the tests and bench/endurance.py.

    ``train_limit`` / ``test_limit`` fill the form's limit fields (None: empty, every image).
    """
    from .app import KvtApp  # Textual: imported when an app is made, not for --help or a usage error

    initial = RunConfig(
        framework=framework, activation=activation, backend=backend, data=data, epochs=epochs,
        train_limit=train_limit, test_limit=test_limit,
    )
    root = Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()
    return KvtApp(initial, root, log_path=log_path, train_fn=train_fn)


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
    sys.__stdout__ = sys.stdout = _terminal_stream(term_out, out_encoding)
    sys.__stderr__ = sys.stderr = _terminal_stream(term_err, err_encoding)
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


def _on_a_terminal() -> bool:
    """Keys come from stdin and Textual draws on stderr: both must be a terminal."""
    try:
        return os.isatty(sys.stdin.fileno()) and os.isatty(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything can import TensorFlow: silence its C++ logging at the
    # source; whatever still gets written natively goes to the log file.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    runs_dir = args.runs_dir
    if runs_dir is None:
        # The default ($KVT_RUNS_DIR or ~/.kvt/runs) has not been through --runs-dir's rule yet.
        name = "$KVT_RUNS_DIR" if os.environ.get("KVT_RUNS_DIR") else "runs dir"
        try:
            runs_dir = options.RUNS_DIR.parse(str(default_runs_dir()), name)
        except ConfigError as exc:
            print(f"kvt-tui: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if not _on_a_terminal():
        # Without a terminal Textual would draw escape codes into a pipe or a
        # file and wait forever for keys that cannot come.
        print("kvt-tui: needs an interactive terminal (keyboard and screen); over SSH use `ssh -t HOST kvt-tui`, "
              "or train headless with kvt-train", file=sys.stderr)
        return EXIT_USAGE

    log_path, restore = protect_terminal(default_log_path())
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kvt_tui").info("kvt-tui started (pid %d), runs dir %s", os.getpid(), runs_dir)
    try:
        app = create_app(
            data=args.data,
            runs_dir=runs_dir,
            framework=args.framework,
            activation=args.activation,
            backend=args.backend,
            epochs=args.epochs,
            log_path=log_path,
        )
        app.run()
    finally:
        restore()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
