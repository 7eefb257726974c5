"""The runs view: past runs in the runs dir, newest first.

It reads the same store ``kvt-train`` writes, so headless runs show up too.

- Enter on a row posts :class:`RunsView.OpenRun`; the main screen then shows that
  run's table, curves and report on a screen of its own.
- ``c`` on a stopped, failed or killed run that has epochs left posts
  :class:`RunsView.ResumeRun`. A run with a damaged file
  (:func:`kvt_models.store.damage.problem`) reads "damaged"; the line above
  the table names the file and what to do while the cursor is on it, and
  ``c`` says the same instead of resuming.
- Space marks runs; ``x`` posts :class:`RunsView.CompareRuns` with the marked
  ones, which the main screen summarises as a comparison.
- ``n`` posts :class:`RunsView.EditNotes`: the main screen opens the run's note and
  tags (:class:`~kvt_tui.screens.notes.NotesScreen`), then reloads the view;
  ``/`` goes to the filter box, which keeps the runs that ``kvt-train runs
  --search`` would (:func:`kvt_models.store.catalog.matches`); ``o`` sorts by
  date or by final test accuracy.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from kvt_models.settings.sharing import SORTS
from kvt_models.store.catalog import RunRow, list_rows, select, sort_rows
from kvt_models.store.runs import RunInfo

from .table import KvtTable

STATUS_STYLE = {"finished": "green", "stopped": "yellow", "failed": "red", "running": "cyan", "damaged": "red"}
MARK = "●"


class FilterBox(Input):
    """The runs filter: focused only by ``/``, so that the digit keys still switch tabs from the runs view.

    A focusable box in the runs pane took the focus whenever the table gave
    it up (a digit key's tab switch), and then took the digits as text.
    """

    def on_mount(self) -> None:
        self.can_focus = False

    def on_blur(self) -> None:
        self.can_focus = False


class RunsView(Vertical):
    """A DataTable of runs: mark, status, framework + activation, epochs done/total, val acc, backend."""

    BINDINGS = [
        Binding("c", "resume", "Resume"),
        Binding("space", "toggle_mark", "Mark"),
        Binding("x", "compare_marked", "Compare marked"),
        Binding("n", "edit_notes", "Note/tags"),
        Binding("slash", "filter", "Filter", show=False),
        Binding("o", "sort", "Sort"),
    ]

    class OpenRun(Message):
        """The user chose a run to open."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class ResumeRun(Message):
        """The user asked to continue a run from its last finished epoch."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class EditNotes(Message):
        """The user asked to edit a run's note and tags (the main screen opens the box, then reloads)."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class CompareRuns(Message):
        """The user asked to compare the marked runs (two or more)."""

        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(self, runs_dir: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs_dir = runs_dir
        self.runs: list[RunInfo] = []
        self.marked: set[Path] = set()
        self._rows: list[tuple] = []  # what the table shows, as reload() last built it
        self.problems: dict[Path, str] = {}  # the runs with a damaged file: what it is and what to do
        self.rows: list[RunRow] = []  # the runs shown, as `kvt-train runs` reads them
        self.search = ""  # the filter box's text
        self.sort = SORTS[0]
        self._total = 0
        self._every: list[Path] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-summary", markup=False)
        yield FilterBox(placeholder="/ filter: id, variant, note, tags, data", id="runs-filter")
        table: DataTable = KvtTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_column(" ", key="mark")
        table.add_column("status", key="status")
        table.add_column("model", key="model")
        table.add_column("epochs", key="epochs")
        table.add_column("val_acc", key="val_acc")
        table.add_column("backend", key="backend")
        table.add_column("run", key="run")
        table.add_column("tags", key="tags")
        table.add_column("note", key="note")
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def reload(self) -> None:
        """Read the runs dir again (cheap: a few small files per run)."""
        table = self.table
        cursor = table.cursor_row
        rows = [row for row in list_rows(self.runs_dir) if row.info is not None]
        self._total = len(rows)
        self._every = [row.path for row in rows]  # newest first, the filter aside
        self.rows = sort_rows(select(rows, search=self.search), self.sort)
        self.runs = [row.info for row in self.rows if row.info is not None]
        # Marks survive a reload, and the filter (runs of two searches can be marked), except for runs that are gone.
        self.marked &= set(self._every)
        # A running run's files are its writer's; only those at rest are judged (the catalog does so).
        self.problems = {row.path: row.problem for row in self.rows if row.problem}
        shown = []
        for row, info in zip(self.rows, self.runs):
            cfg = info.config
            val_acc = info.last.get("val_accuracy")
            shown.append((
                str(info.path),
                MARK if info.path in self.marked else "",
                "damaged" if info.path in self.problems else info.status,
                f"{cfg.get('framework', '?')} + {cfg.get('activation', '?')}",
                f"{info.epochs_done}/{info.epochs_total}",
                f"{val_acc:.4f}" if val_acc is not None else "-",
                info.backend,
                info.run_id,
                ", ".join(row.tags),
                row.note,
            ))
        if shown != self._rows:
            # Rebuilt only when a row changed: each tab switch to this view reloads, and a rebuild
            # (a layout pass) was a good part of answering that key while a run streams (docs/live.md).
            self._rows = shown
            table.clear()
            for key, mark, status, *cells in shown:
                table.add_row(mark, Text(status, style=STATUS_STYLE.get(status, "")), *cells, key=key)
        if self.runs:
            table.move_cursor(row=min(max(cursor, 0), len(self.runs) - 1))
        self._update_summary()
        self.refresh_bindings()

    def _update_summary(self) -> None:
        info = self.highlighted()
        if info is not None and info.path in self.problems:
            self.query_one("#runs-summary", Static).update(f"{info.run_id}: {self.problems[info.path]}")
            return
        count = len(self.runs)
        text = f"{count} run{'s' if count != 1 else ''} in {self.runs_dir}"
        if self.search:
            text = f"{count} of {self._total} runs in {self.runs_dir} match"
        if self.sort != SORTS[0]:
            text += f" · by {self.sort}"
        if not count and not self.search:
            text += " · train one with t, or run kvt-train"
        elif self.marked:
            text += f" · {len(self.marked)} marked (x compares them)"
        else:
            text += " · Enter opens one · space marks"
        self.query_one("#runs-summary", Static).update(text)

    def highlighted(self) -> RunInfo | None:
        """The run under the cursor, if any."""
        row = self.table.cursor_row
        return self.runs[row] if 0 <= row < len(self.runs) else None

    # -- keys ---------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None: shown dimmed in the footer (the key exists, not for this row).
        if action == "resume":
            info = self.highlighted()
            # A damaged run's c says what is wrong with it, rather than nothing.
            return True if info is not None and (info.resumable or info.path in self.problems) else None
        if action == "compare_marked":
            return True if len(self.marked) >= 2 else None
        return True

    def action_resume(self) -> None:
        info = self.highlighted()
        if info is not None and info.path in self.problems:
            self.app.notify(f"{info.run_id}: {self.problems[info.path]}", title="Cannot resume", severity="error",
                            timeout=10)
            return
        if info is not None and info.resumable:
            self.post_message(self.ResumeRun(info.path))

    def action_toggle_mark(self) -> None:
        info = self.highlighted()
        if info is None:
            return
        self.marked ^= {info.path}
        self.table.update_cell(str(info.path), "mark", MARK if info.path in self.marked else "")
        self._update_summary()
        self.refresh_bindings()

    def action_compare_marked(self) -> None:
        # Newest first, whatever the sort and the filter, so the same marks give the same comparison.
        paths = [path for path in self._every if path in self.marked]
        if len(paths) < 2:
            self.app.notify("Mark two runs or more with space, then press x.", severity="warning")
            return
        self.post_message(self.CompareRuns(paths))

    @on(DataTable.RowHighlighted, "#runs-table")
    def _row_highlighted(self) -> None:
        self.refresh_bindings()  # Resume depends on the row
        self._update_summary()  # ... and so does the line above the table, for a damaged run

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.post_message(self.OpenRun(Path(event.row_key.value)))

    def action_edit_notes(self) -> None:
        info = self.highlighted()
        if info is not None:
            self.post_message(self.EditNotes(info.path))

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.can_focus = True
        box.focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.reload()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value
        self.reload()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.can_focus = False
        self.table.focus()
