"""A past run, reopened from disk: its metrics table, curves and report.

It uses the same widgets as the live view, fed from
:func:`kvt_models.runs.read_run`, so a run watched live and the same run
reopened later look the same. It is a screen of its own, so opening an old
run never disturbs a training that is running on the main screen. A run
that ended early with epochs left can be resumed from here (``c``).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from kvt_models.runs import RunRecord

from .curves import Curves
from .metrics_table import MetricsTable
from .report import ReportView
from .runs_view import is_resumable


def run_title(record: RunRecord) -> str:
    cfg = record.config
    return (
        f"{record.run_id} · {record.status} · {cfg.get('framework', '?')} + {cfg.get('activation', '?')} · "
        f"{record.epochs_done}/{record.epochs_total} epochs · data {cfg.get('data', '?')}"
    )


class RunScreen(Screen[None]):
    """One run, read-only. Escape goes back; e re-exports its PNGs; c resumes it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "export", "Export PNGs"),
        Binding("c", "resume", "Resume"),
        Binding("1", "show_tab('run-metrics')", "Metrics", show=False),
        Binding("2", "show_tab('run-report')", "Report", show=False),
    ]

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(run_title(self.record), id="run-title", markup=False)
        with TabbedContent(id="run-tabs"):
            with TabPane("Metrics (1)", id="run-metrics"):
                with Vertical():
                    yield MetricsTable(id="run-metrics-table")
                    yield Curves(id="run-curves")
            with TabPane("Report (2)", id="run-report"):
                yield ReportView(id="run-report-view")
        yield Footer()

    def on_mount(self) -> None:
        record = self.record
        self.sub_title = str(record.path)
        self.query_one(MetricsTable).set_history(record.history)
        self.query_one(Curves).set_history(record.history)
        accuracy = (record.report or {}).get("accuracy")
        summary = f"{record.status}" + (f" · test accuracy {accuracy:.4f}" if accuracy is not None else "")
        if record.message:
            summary += f" · {record.message}"
        self.query_one(ReportView).show(record.report, record.confusion, record.class_names, summary)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_export(self) -> None:
        self.app.export_pngs(self.record.path)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resume":
            # Hidden for finished runs: there is nothing to continue.
            return is_resumable(self.record)
        return True

    def action_resume(self) -> None:
        self.app.resume_run(self.record.path)  # type: ignore[attr-defined]
