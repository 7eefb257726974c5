"""``kvt-train --resume DIR`` and the other flags on its line: the run's own settings win.

A resumed run goes on with the settings its config.json recorded, so the
training flags beside ``--resume`` change nothing. A flag that agrees with
the run, or one that ``--resume`` has no use for (``--runs-dir``, ``--seed``
of the same value), is named in one ``[INFO]`` line and left out. A flag that
says otherwise than the run (another backend, more epochs) is refused in one
line before anything loads: whoever typed it meant something ``--resume``
will not do.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from kvt_models.errors import ConfigError
from kvt_models.settings import options
from kvt_models.settings.precision import LEGACY as LEGACY_PRECISION
from kvt_models.store.runs import read_run_info
from kvt_models.variants import BACKEND_DEFAULT, PRESETS

# What a run made before a setting existed has for it.
_RECORDED_DEFAULTS = {"backend": BACKEND_DEFAULT, "precision": LEGACY_PRECISION}
# Used as they are (--plot, --notify-command; --note, --tag and --no-tensorboard: for the epochs it trains now),
# or not flags of a run.
_NOT_SETTINGS = {"resume", "plot", "notify_command", "help", "version", "note", "tags", "tensorboard"}


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> dict[str, Any]:
    """The flags typed on the command line, by dest, with their values as their rules read them; no defaults."""
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return {k: v for k, v in vars(parser.parse_args(list(argv))).items() if k not in _NOT_SETTINGS}


def check_resume_flags(given: dict[str, Any], run_dir: Path) -> str | None:
    """The ``[INFO]`` line naming the flags left out, or None; ConfigError for a flag that contradicts the run.

    A folder that is not a readable run is left for ``resume`` to refuse, in its own words.
    """
    info = read_run_info(run_dir)
    if info is None or not given:
        return None
    if "preset" in given:
        framework, activation = PRESETS[given.pop("preset")]
        given.setdefault("framework", framework)
        given.setdefault("activation", activation)
    contradicting, ignored = [], []
    for key, value in given.items():
        option = options.OPTIONS[key]
        typed = f"{option.flag} {value}"
        if key not in options.RUN_OPTIONS:
            ignored.append(typed)  # --runs-dir: the run folder is given
            continue
        recorded = info.config.get(key, _RECORDED_DEFAULTS.get(key))
        if value == recorded or (key == "precision" and value == "auto"):
            ignored.append(typed)
        else:
            contradicting.append(f"{typed} (the run has {recorded if recorded is not None else 'none'})")
    if contradicting:
        raise ConfigError(f"--resume goes on with {run_dir}'s own settings, and {', '.join(contradicting)} "
                          "say otherwise: drop them to resume it, or start a new run without --resume")
    return f"[INFO] --resume goes on with the run's own settings (its config.json): ignoring {', '.join(ignored)}"
