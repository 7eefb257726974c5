"""``kvt-tui``'s flags, the app factory (for :func:`main` and the tests), and :func:`main`.

The flags are declared once, in :mod:`kvt_models.settings.options`, with
kvt-train's and the form's: a value is refused here exactly as it would be
there.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

from kvt_models.errors import EXIT_USAGE, ConfigError
from kvt_models.paths import default_runs_dir
from kvt_models.settings import alerts, options
from kvt_models.settings.config import RunConfig
from kvt_tui.terminal import default_log_path, on_a_terminal, protect_terminal

if TYPE_CHECKING:
    from kvt_tui.app import KvtApp


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (no usage dump), exit status 2."""

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except options.FlagError as exc:
            # An option's own message already says what to type: no "see --help".
            self.exit(EXIT_USAGE, f"kvt-tui: {exc}\n")

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"kvt-tui: {message} (see kvt-tui --help)\n")


def build_parser() -> Parser:
    p = Parser(
        prog="kvt-tui",
        description="Train MiniVGGNet with Keras or TensorFlow ops and watch it live in the terminal.",
        epilog="TensorFlow's own log lines go to $KVT_TUI_LOG (default ~/.kvt/tui.log), never to the screen. "
        "Press ? in the app for the keys.",
    )
    # The same declarations as kvt-train's flags and the form's fields (kvt_models/settings/options.py):
    # a value is refused here exactly as it would be there.
    for option in (options.DATA, options.RUNS_DIR, options.FRAMEWORK, options.ACTIVATION, options.BACKEND, options.EPOCHS):
        options.add_flag(p, option)
    options.add_flag(p, alerts.BELL)
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
    bell: bool = True,
    idle_gc: bool = False,
) -> KvtApp:
    """The app, preselected with the CLI options. Used by main(), the tests and bench/endurance.py.

    ``train_limit`` / ``test_limit`` fill the form's limit fields (None: empty, every image). ``bell``:
    ring and notify when a run or a queue ends (``--bell``, the form's checkbox). ``idle_gc``: the garbage
    collector tuned for a long-lived app (:mod:`kvt_tui.heap`), which ``kvt-tui`` itself uses.
    """
    from kvt_tui.app import KvtApp  # Textual: imported when an app is made, not for --help or a usage error

    initial = RunConfig(
        framework=framework, activation=activation, backend=backend, data=data, epochs=epochs,
        train_limit=train_limit, test_limit=test_limit,
    )
    root = Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()
    return KvtApp(initial, root, log_path=log_path, train_fn=train_fn, bell=bell, idle_gc=idle_gc)


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
    if not on_a_terminal():
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
            bell=args.bell == "on",
            idle_gc=True,
        )
        app.run()
    finally:
        restore()
    return app.return_code or 0
