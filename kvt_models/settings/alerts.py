"""How kvt tells a user that a run or a queue ended, declared once: the app's bell, the user's own command.

``--bell {on,off}`` (kvt-tui, and the form's checkbox) rings the terminal's
bell and shows a notification when a run or a queue finishes, fails or
dies. ``--notify-command CMD`` (kvt-train and kvt-train compare) runs the
user's command with the outcome in its environment
(:mod:`kvt_models.cli.notify`). Both are :class:`~kvt_models.settings.options.Option`
declarations, read by the same :meth:`Option.parse` everywhere.

The command is split once, here, with ``shlex.split`` of the user's own
text: it becomes an argv list and never passes through a shell, so nothing
the run produced (a path, a message) can be read as shell syntax.
"""

from __future__ import annotations

import shlex

from kvt_models.errors import ConfigError
from kvt_models.settings.options import Option, one_of

ON_OFF = ("on", "off")
# Long enough for a mail or a chat hook over a slow link; a hung one must not hold kvt-train's exit for long.
NOTIFY_TIMEOUT_S = 30.0


def command_line(text: str, name: str) -> list[str]:
    """The user's command as an argv list (shlex.split); one line when it cannot be split."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{name} {text!r} cannot be read as a command ({exc}): quote it as a shell would") from None
    if not argv:
        raise ConfigError(f"{name} needs a command, such as 'notify-send kvt', got {text!r}")
    return argv


BELL = Option(
    "bell", "bell", "--bell", rule=one_of(ON_OFF), default="on", metavar="{on,off}",
    help="ring the terminal's bell and show a notification when a run or a queue finishes, fails or dies "
    "(default on; tmux and most terminals turn the bell into a window flag)",
)
NOTIFY_COMMAND = Option(
    "notify_command", "notify command", "--notify-command", rule=command_line, metavar="CMD",
    help="run CMD (split like a shell would, never run by one) when the run or the queue ends, with the outcome "
    "in its environment: KVT_STATUS, KVT_RUN_ID, KVT_RUN_DIR, KVT_ACCURACY, KVT_EXIT_CODE, ... "
    f"(docs/live.md); it gets {NOTIFY_TIMEOUT_S:g} s, and its failure is one warning line",
)
