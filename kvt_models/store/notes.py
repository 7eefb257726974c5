"""A run's note and tags: ``notes.json`` in its folder, a file of its own.

A note and tags describe a run; they are not part of what it trained with,
so they live apart from ``config.json``: editing them (the app's runs view,
``kvt-train --note``) writes this one file, atomically, and never touches a
file that a running run's process writes. The rules for a note and a tag
are :data:`kvt_models.settings.sharing.NOTE` and ``TAG``.

:class:`Tagging` is the listener that gives every run it hears start (a
new run, a resumed one, a comparison's queued and reused runs) the note and
tags of the command line that started it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from kvt_models.events import Event, Listener, QueueProgress, TrainStarted
from kvt_models.settings.sharing import NOTE, TAG
from kvt_models.store.atomic import atomic_write_json
from kvt_models.store.runs import read_json

NOTES_FILE = "notes.json"


@dataclass(frozen=True)
class Notes:
    note: str = ""
    tags: list[str] = field(default_factory=list)


def read_notes(run_dir: Path) -> Notes:
    """The run's note and tags; empty when it has none, or when notes.json is unreadable (shown, not trusted)."""
    data = read_json(Path(run_dir) / NOTES_FILE)
    if not isinstance(data, dict):
        return Notes()
    note = data.get("note")
    tags = data.get("tags")
    return Notes(note if isinstance(note, str) else "",
                 [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [])


def write_notes(run_dir: Path, note: str, tags: Sequence[str]) -> Notes:
    """Replace the run's note and tags (each checked by its option's rule); RunStoreError if the disk refuses."""
    checked = Notes(NOTE.check(note), list(dict.fromkeys(TAG.check(t) for t in tags)))
    atomic_write_json(Path(run_dir) / NOTES_FILE, {"note": checked.note, "tags": checked.tags,
                                                   "updated": datetime.now().isoformat(timespec="seconds")})
    return checked


def add_notes(run_dir: Path, note: str, tags: Sequence[str]) -> Notes:
    """Add ``tags`` to the run's, and give it ``note`` if it has none (a run's own note is never overwritten)."""
    old = read_notes(run_dir)
    return write_notes(run_dir, old.note or note, [*old.tags, *tags])


class Tagging:
    """A listener in front of another: each run it hears of gets the note and tags (:func:`add_notes`).

    It hears a run's folder in ``TrainStarted`` (a new or resumed run, a
    comparison's run on a Ray node too: its events carry the local folder)
    and a reused run's in ``QueueProgress``. ``for_run`` is passed through for
    a queue that trains several runs at once.
    """

    def __init__(self, listener: Listener, note: str, tags: Sequence[str]):
        self.listener, self.note, self.tags = listener, note, list(tags)

    def __call__(self, event: Event) -> None:
        run_dir = ""
        if isinstance(event, TrainStarted):
            run_dir = event.run_dir
        elif isinstance(event, QueueProgress) and event.reused:
            run_dir = event.run_dir
        if run_dir and Path(run_dir).is_dir():
            add_notes(Path(run_dir), self.note, self.tags)
        self.listener(event)

    def for_run(self, label: str) -> Any:
        per_run = getattr(self.listener, "for_run", None)
        return Tagging(per_run(label) if per_run else self.listener, self.note, self.tags)


def tagging(listener: Listener, note: str, tags: Sequence[str]) -> Any:
    """``listener`` itself when there is nothing to add, else a :class:`Tagging` in front of it."""
    return Tagging(listener, note, tags) if note or tags else listener
