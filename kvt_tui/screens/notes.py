"""A run's note and tags, edited in a small modal box (``n`` in the runs view).

The fields are checked by the rules ``kvt-train --note`` and ``--tag`` follow
(:data:`kvt_models.settings.sharing.NOTE` and ``TAGS``); Enter saves into the
run's notes.json (:func:`kvt_models.store.notes.write_notes`, atomic, the only
file it touches, so a running run can be annotated too), Escape leaves it as
it was. The screen is dismissed with the saved notes, or None.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from kvt_models.errors import KvtError
from kvt_models.settings.sharing import NOTE, TAGS
from kvt_models.store.notes import Notes, read_notes, write_notes


class NotesScreen(ModalScreen[Notes | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.notes = read_notes(run_dir)

    def compose(self) -> ComposeResult:
        with Vertical(id="notes-box"):
            yield Static(f"Note and tags of {self.run_dir.name}", id="notes-title", markup=False)
            yield Label("note")
            yield Input(self.notes.note, id="notes-note", placeholder="one line, such as: baseline for the paper")
            yield Label("tags (separated by commas or spaces)")
            yield Input(", ".join(self.notes.tags), id="notes-tags", placeholder="baseline, paper")
            yield Static("Enter saves · Esc cancels", id="notes-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#notes-note", Input).focus()

    @on(Input.Submitted)
    def save(self) -> None:
        error = self.query_one("#notes-error", Static)
        try:
            note = NOTE.parse(self.query_one("#notes-note", Input).value)
            tags = TAGS.parse(self.query_one("#notes-tags", Input).value)
            saved = write_notes(self.run_dir, note, tags)
        except KvtError as exc:
            error.update(str(exc))
            error.add_class("-error")
            return
        self.dismiss(saved)

    def action_cancel(self) -> None:
        self.dismiss(None)
