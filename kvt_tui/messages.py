"""Textual messages that carry the engine's events from a worker thread to the UI.

A run trains in a child process; a worker thread of the app relays its
events (:mod:`kvt_tui.jobs`): its listener wraps each :mod:`kvt_models.events`
dataclass in one of these and calls the main screen's ``post_message``
(thread-safe, never blocks training). ``@on`` handlers on the UI thread then
update the widgets: no widget is ever touched from the worker thread.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    # Types only: the app imports this module before its first frame, and the
    # events' dataclasses alone cost ~10 ms to create (see message_for).
    from kvt_models.compare.summary import Comparison
    from kvt_models.events import (
        BatchEnded,
        EpochEnded,
        Event,
        LookTaken,
        QueueProgress,
        RunPlaced,
        StageChanged,
        SystemSampled,
        TrainEnded,
        TrainFailed,
        TrainStarted,
    )
    from kvt_models.model.summary import ModelSummary


class StageMessage(Message):
    """Training moved to a new phase (loading data, building the model, evaluating)."""

    def __init__(self, event: StageChanged) -> None:
        super().__init__()
        self.event = event


class StartedMessage(Message):
    """``model.fit`` began: the run folder exists and the step count is known."""

    def __init__(self, event: TrainStarted) -> None:
        super().__init__()
        self.event = event


class BatchMessage(Message):
    """Per-batch progress. High rate, so a newer one replaces any still queued."""

    def __init__(self, event: BatchEnded) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # Only the latest batch matters for the progress bar: when several are
        # queued (the UI was busy), the older ones are dropped unseen.
        return isinstance(message, BatchMessage)


class SystemMessage(Message):
    """The training process's CPU and memory and the machine's, about once a second; a newer one replaces a queued one."""

    def __init__(self, event: SystemSampled) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SystemMessage)


class EpochMessage(Message):
    """An epoch finished; its history row and checkpoint are already on disk."""

    def __init__(self, event: EpochEnded) -> None:
        super().__init__()
        self.event = event


class EndedMessage(Message):
    """The run finished or was stopped; the report and files are written."""

    def __init__(self, event: TrainEnded) -> None:
        super().__init__()
        self.event = event


class FailedMessage(Message):
    """The run failed; ``event.user_error`` tells a bad input from a crash."""

    def __init__(self, event: TrainFailed) -> None:
        super().__init__()
        self.event = event


class ModelsDescribed(Message):
    """The model view's layer tables, every variant at once (or why they could not be built: ``error``)."""

    def __init__(self, summaries: list[ModelSummary], error: str = "") -> None:
        super().__init__()
        self.summaries = summaries
        self.error = error


class ExportDone(Message):
    """PNG export finished (``files``) or failed (``error``)."""

    def __init__(self, run_dir: Path, files: list[Path], error: str = "") -> None:
        super().__init__()
        self.run_dir = run_dir
        self.files = files
        self.error = error


class QueueMessage(Message):
    """A comparison moved to its next run (``event.reused``: a finished run stands in for it)."""

    def __init__(self, event: QueueProgress) -> None:
        super().__init__()
        self.event = event


class LookMessage(Message):
    """An until-decided comparison looked after a round: each pair's interval against 0 and ±D, and its state."""

    def __init__(self, event: LookTaken) -> None:
        super().__init__()
        self.event = event


class PlacedMessage(Message):
    """A queued run (or its retry) began on a Ray node: which one, and the worker's pid."""

    def __init__(self, event: RunPlaced) -> None:
        super().__init__()
        self.event = event


class CompareDone(Message):
    """A comparison is summarised (``comparison``), was stopped (``stopped``) or failed (``error``).

    ``folder`` holds comparison.json and overlay.png when they were written.
    """

    def __init__(
        self,
        comparison: Comparison | None,
        folder: Path | None,
        *,
        stopped: bool = False,
        error: str = "",
        trained: int = 0,
        reused: int = 0,
        unfinished: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.comparison = comparison
        self.folder = folder
        self.stopped = stopped
        self.error = error
        self.trained = trained
        self.reused = reused
        # One line per queued run that died or diverged (the others still ran).
        self.unfinished = unfinished or []


@functools.cache
def _wrappers() -> dict[type, type[Message]]:
    """Each event class's message. Built on first use, on a worker thread,
    so that importing this module (before the first frame) needs no engine import."""
    from kvt_models.events import (
        BatchEnded,
        EpochEnded,
        LookTaken,
        QueueProgress,
        RunPlaced,
        StageChanged,
        SystemSampled,
        TrainEnded,
        TrainFailed,
        TrainStarted,
    )

    return {
        StageChanged: StageMessage,
        TrainStarted: StartedMessage,
        BatchEnded: BatchMessage,
        EpochEnded: EpochMessage,
        TrainEnded: EndedMessage,
        TrainFailed: FailedMessage,
        QueueProgress: QueueMessage,
        RunPlaced: PlacedMessage,
        LookTaken: LookMessage,
        SystemSampled: SystemMessage,
    }


def message_for(event: Event) -> Message:
    """The Textual message that carries ``event`` to the UI thread."""
    return _wrappers()[type(event)](event)  # type: ignore[call-arg]
