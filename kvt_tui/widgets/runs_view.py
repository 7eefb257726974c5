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
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from kvt_models.store.damage import problem
from kvt_models.store.runs import RunInfo, RunStore

STATUS_STYLE = {"finished": "green", "stopped": "yellow", "failed": "red", "running": "cyan", "damaged": "red"}
MARK = "●"


class RunsView(Vertical):
    """A DataTable of runs: mark, status, framework + activation, epochs done/total, val acc, backend."""

    BINDINGS = [
        Binding("c", "resume", "Resume"),
        Binding("space", "toggle_mark", "Mark"),
        Binding("x", "compare_marked", "Compare marked"),
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

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-summary", markup=False)
        table: DataTable = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_column(" ", key="mark")
        table.add_column("status", key="status")
        table.add_column("model", key="model")
        table.add_column("epochs", key="epochs")
        table.add_column("val_acc", key="val_acc")
        table.add_column("backend", key="backend")
        table.add_column("run", key="run")
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def reload(self) -> None:
        """Read the runs dir again (cheap: a few small files per run)."""
        table = self.table
        cursor = table.cursor_row
        self.runs = RunStore(self.runs_dir).list_runs()
        # Marks survive a reload, except for runs that are gone.
        self.marked &= {info.path for info in self.runs}
        # A running run's files are its writer's; only those at rest are judged.
        self.problems = {info.path: trouble for info in self.runs
                         if info.status != "running" and (trouble := problem(info.path))}
        rows = [(
            str(info.path),
            MARK if info.path in self.marked else "",
            status := "damaged" if info.path in self.problems else info.status,
            f"{info.config.get('framework', '?')} + {info.config.get('activation', '?')}",
            f"{info.epochs_done}/{info.epochs_total}",
            f"{val_acc:.4f}" if (val_acc := info.last.get("val_accuracy")) is not None else "-",
            info.backend,
            info.run_id,
        ) for info in self.runs]
        if rows != self._rows:
            # Rebuilt only when a row changed: each tab switch to this view reloads, and a rebuild
            # (a layout pass) was a good part of answering that key while a run streams (docs/live.md).
            self._rows = rows
            table.clear()
            for key, mark, status, variant, epochs, val_acc_text, backend, run_id in rows:
                table.add_row(mark, Text(status, style=STATUS_STYLE.get(status, "")), variant, epochs, val_acc_text,
                              backend, run_id, key=key)
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
        if not count:
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
        # In the table's order (newest first), so the same marks give the same comparison.
        paths = [info.path for info in self.runs if info.path in self.marked]
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
