"""Durations and ETAs as the CLI and the app both show them: ``0:42``, ``12:03``, ``1:02:03``.

One formatter, so that a run's "ETA 3:07" reads the same in ``kvt-train``'s
progress line and in the app's progress strip.
"""

from __future__ import annotations

from kvt_models.events import BatchEnded


def format_duration(seconds: float) -> str:
    """``0:42``, ``12:03`` or ``1:02:03``; negative or NaN times read ``0:00``."""
    seconds = max(0, int(round(seconds))) if seconds == seconds else 0
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def epoch_seconds_left(event: BatchEnded) -> float:
    """Time left in the current epoch at the pace so far, by the engine's own clock."""
    if event.step <= 0:
        return 0.0
    return event.epoch_elapsed / event.step * (event.steps - event.step)
