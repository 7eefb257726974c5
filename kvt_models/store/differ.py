"""The settings runs share and the ones they differ in: what ``kvt-train show A B``, the app's comparison
of marked runs and a comparison's report show first, so that a difference in results can be read against
a difference in settings.
"""

from __future__ import annotations

from typing import Any, Sequence

from kvt_models.settings.config import RECORDING_KEYS
from kvt_models.store.runs import PRECISION_ASKED, RECIPE_FINGERPRINT

# Left out: what a run records (not how it trained), what was asked where the resolved value is there,
# and the recipe's fingerprint (a hash, not a setting a user reads; a comparison matches on it).
_NOT_COMPARED = frozenset(RECORDING_KEYS) | {PRECISION_ASKED, RECIPE_FINGERPRINT}


def split_settings(configs: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(shared: key -> the one value, differing: key -> each run's value, in order), over config.json's "config".

    A key one run lacks differs (its value reads None there). Keys keep the
    order of the first config that has them.
    """
    keys = list(dict.fromkeys(k for cfg in configs for k in cfg if k not in _NOT_COMPARED))
    shared: dict[str, Any] = {}
    differing: dict[str, list[Any]] = {}
    for key in keys:
        values = [cfg.get(key) for cfg in configs]
        if all(v == values[0] for v in values):
            shared[key] = values[0]
        else:
            differing[key] = values
    return shared, differing


def format_value(value: Any) -> str:
    """A setting as a table shows it: ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def differing_line(configs: Sequence[dict[str, Any]], leave_out: Sequence[str] = ()) -> str:
    """One line: the settings that differ (each with its distinct values), or that the runs share the rest."""
    _, differing = split_settings(configs)
    parts = [f"{key} {' / '.join(dict.fromkeys(format_value(v) for v in values))}"
             for key, values in differing.items() if key not in leave_out]
    return ("Settings that differ: " + " · ".join(parts)) if parts else "The runs share every other setting."
