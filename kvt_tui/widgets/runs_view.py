"""The runs view: past runs in the runs dir, newest first.

It reads the same store ``kvt-train`` writes, so headless runs show up too.
Enter on a row posts :class:`RunsView.OpenRun`; the app then shows that run's
table, curves and report on a screen of its own.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from kvt_models.runs import RunInfo, RunStore

STATUS_STYLE = {"finished": "green", "stopped": "yellow", "failed": "red", "running": "cyan"}


class RunsView(Vertical):
    """A DataTable of runs: status, framework + activation, epochs done/total, val acc."""

    class OpenRun(Message):
        """The user chose a run to open."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, runs_dir: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs_dir = runs_dir
        self.runs: list[RunInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-summary", markup=False)
        table: DataTable = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_column("status", key="status")
        table.add_column("model", key="model")
        table.add_column("epochs", key="epochs")
        table.add_column("val_acc", key="val_acc")
        table.add_column("run", key="run")
        yield table

    def reload(self) -> None:
        """Read the runs dir again (cheap: a few small files per run)."""
        self.runs = RunStore(self.runs_dir).list_runs()
        table = self.query_one(DataTable)
        table.clear()
        for info in self.runs:
            cfg = info.config
            val_acc = info.last.get("val_accuracy")
            table.add_row(
                Text(info.status, style=STATUS_STYLE.get(info.status, "")),
                f"{cfg.get('framework', '?')} + {cfg.get('activation', '?')}",
                f"{info.epochs_done}/{info.epochs_total}",
                f"{val_acc:.4f}" if val_acc is not None else "-",
                info.run_id,
                key=str(info.path),
            )
        count = len(self.runs)
        self.query_one("#runs-summary", Static).update(
            f"{count} run{'s' if count != 1 else ''} in {self.runs_dir}"
            + (" · Enter opens one" if count else " · train one with t, or run kvt-train")
        )

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.post_message(self.OpenRun(Path(event.row_key.value)))
