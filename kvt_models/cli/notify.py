"""``--notify-command CMD``: the user's own command, run once when a run or a queue ends, the outcome in its environment.

For a mail or a chat hook: ``kvt-train ... --notify-command 'notify-send kvt'``,
or a script that reads ``$KVT_STATUS`` and ``$KVT_ACCURACY``. The command is
the argv list ``shlex.split`` made of the user's own text
(:func:`kvt_models.settings.alerts.command_line`); it is never a shell string,
and the outcome reaches it only as environment variables, so no run id,
path or message can be read as shell syntax. It runs after everything is
saved and said, with its stdin closed and kvt-train's stdout and stderr,
for at most ``NOTIFY_TIMEOUT_S`` seconds (then its process group is killed).
Whatever happens to it -- not found, a non-zero exit, a timeout -- is one
warning line on stderr: the run and kvt-train's exit status stay as they were.

The variables (every one is set, empty when it does not apply):

- ``KVT_KIND``: ``run`` or ``comparison``; ``KVT_STATUS``: ``finished``,
  ``stopped`` or ``failed`` (a comparison also ``incomplete``: some of its
  runs did not finish); ``KVT_EXIT_CODE``: kvt-train's exit status;
  ``KVT_SECONDS``: the wall time; ``KVT_MESSAGE``: why it failed or stopped.
- A run: ``KVT_RUN_ID``, ``KVT_RUN_DIR``, ``KVT_ACCURACY`` (the test accuracy
  of the epoch report.json describes, 0-1), ``KVT_EPOCHS_DONE``, ``KVT_EPOCHS``.
- A comparison: ``KVT_COMPARISON_DIR``, ``KVT_VERDICT``, ``KVT_RUNS_TRAINED``,
  ``KVT_RUNS_REUSED``, ``KVT_RUNS_UNFINISHED``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any, TextIO

from kvt_models.cli.printers import say
from kvt_models.events import EpochEnded, Event, Listener, TrainEnded, TrainFailed, TrainStarted
from kvt_models.settings.alerts import NOTIFY_COMMAND, NOTIFY_TIMEOUT_S

RUN_KEYS = ("RUN_ID", "RUN_DIR", "ACCURACY", "EPOCHS_DONE", "EPOCHS")
COMPARISON_KEYS = ("COMPARISON_DIR", "VERDICT", "RUNS_TRAINED", "RUNS_REUSED", "RUNS_UNFINISHED")


class RunOutcome:
    """A listener in front of another: it remembers what the run said about how it ended."""

    def __init__(self, listener: Listener):
        self.listener = listener
        self.values: dict[str, str] = {"STATUS": "failed", "MESSAGE": ""}  # until the run says otherwise

    def __call__(self, event: Event) -> None:
        values = self.values
        if isinstance(event, TrainStarted):
            values.update(RUN_ID=event.run_id, RUN_DIR=event.run_dir, EPOCHS=str(event.epochs),
                          EPOCHS_DONE=str(event.initial_epoch))
        elif isinstance(event, EpochEnded):
            values["EPOCHS_DONE"] = str(event.epoch)
        elif isinstance(event, TrainEnded):
            accuracy = event.report.get("accuracy")
            values.update(STATUS=event.status, EPOCHS_DONE=str(event.epochs_done),
                          ACCURACY="" if accuracy is None else f"{float(accuracy):.4f}")
        elif isinstance(event, TrainFailed):
            values.update(STATUS="failed", MESSAGE=event.message)
            if event.run_dir:
                values.update(RUN_ID=event.run_id, RUN_DIR=event.run_dir)
        self.listener(event)


def outcome_env(kind: str, exit_code: int, seconds: float, values: dict[str, str]) -> dict[str, str]:
    """The ``KVT_*`` variables: every one of the kind's set, empty when unknown."""
    keys = RUN_KEYS if kind == "run" else COMPARISON_KEYS
    env = {f"KVT_{key}": "" for key in ("STATUS", "MESSAGE", *keys)}
    env.update({f"KVT_{key}": value for key, value in values.items()})
    env.update(KVT_KIND=kind, KVT_EXIT_CODE=str(exit_code), KVT_SECONDS=f"{seconds:.1f}")
    return env


def run_notify_command(argv: list[str], env: dict[str, str], err: TextIO, timeout: float = NOTIFY_TIMEOUT_S) -> bool:
    """Run the user's command with ``env`` added to this environment; True when it exited 0.

    Never raises for the command's sake: what went wrong is one warning line on ``err``.
    """
    shown = " ".join(argv)
    warn = f"kvt-train: warning: {NOTIFY_COMMAND.flag} {shown!r}"
    try:
        # A session of its own: on a timeout the whole group goes (a script and what it started).
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        say(err, f"{warn} could not be started: {exc.strerror or exc}")
        return False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        say(err, f"{warn} did not finish in {timeout:g} s and was killed")
        return False
    if code < 0:
        say(err, f"{warn} was ended by {_signal_name(-code)}")
    elif code:
        say(err, f"{warn} exited with status {code}")
    return code == 0


def _kill_group(proc: Any) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
