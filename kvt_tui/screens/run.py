"""A past run, reopened from disk: its metrics table, curves and report.

It uses the same widgets as the live view, fed from
:func:`kvt_models.store.runs.read_run`, so a run watched live and the same run
reopened later look the same. It is a screen of its own, so opening an old
run never disturbs a training that is running on the main screen. A run
that ended early with epochs left can be resumed from here (``c``): the
screen closes with the run's path, and the main screen, which owns the
training worker, resumes it.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from kvt_models.backend.runtime import describe
from kvt_models.store.runs import RunRecord

from ..widgets.footer import KvtFooter
from ..widgets.header import KvtHeader
from ..widgets.history_view import HistoryView
from ..widgets.report import ReportView


def run_title(record: RunRecord) -> str:
    cfg = record.config
    return (
        f"{record.run_id} · {record.status} · {cfg.get('framework', '?')} + {cfg.get('activation', '?')} · "
        f"{record.epochs_done}/{record.epochs_total} epochs · data {cfg.get('data', '?')} · on {record.backend}"
    )


def runtime_of(record: RunRecord) -> str:
    """``Keras 3.15.1 on JAX 0.10.2``; a run from before the backend axis recorded only its versions."""
    return describe({"backend": record.backend, **record.versions})


class RunScreen(Screen[Path | None]):
    """One run, read-only. Escape goes back; e re-exports its PNGs; c closes it with its path, to resume."""

    BINDINGS = [
        Binding("escape", "dismiss", "Back"),  # closes with None: nothing to resume
        Binding("e", "export", "Export PNGs"),
        Binding("c", "resume", "Resume"),
        Binding("1", "show_tab('run-metrics')", "Metrics", show=False),
        Binding("2", "show_tab('run-report')", "Report", show=False),
    ]

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        yield KvtHeader()
        yield Static(id="run-title", markup=False)
        with TabbedContent(id="run-tabs"):
            with TabPane("Metrics (1)", id="run-metrics"):
                yield HistoryView(table_id="run-metrics-table", curves_id="run-curves")
            with TabPane("Report (2)", id="run-report"):
                yield ReportView(id="run-report-view")
        yield KvtFooter()

    def on_mount(self) -> None:
        self._fill()

    def show(self, record: RunRecord) -> None:
        """Show another run: the main screen keeps one RunScreen and fills it again, not a new one per run.

        A new screen per Enter composed, styled and laid out ~40 widgets and
        drew a fresh plotext figure: most of the time from the key to the
        screen (docs/live.md).
        """
        self.record = record
        if self.is_mounted:
            self._fill()

    def _fill(self) -> None:
        record = self.record
        self.query_one("#run-title", Static).update(run_title(record))
        self.query_one(TabbedContent).active = "run-metrics"  # every run opens on its metrics, as a new screen did
        self.sub_title = str(record.path)
        self.query_one(HistoryView).set_history(record.history)
        accuracy = (record.report or {}).get("accuracy")
        summary = f"{record.status}" + (f" · test accuracy {accuracy:.4f}" if accuracy is not None else "")
        if record.report is not None and record.report_epoch is not None:
            summary += f" · report of epoch {record.report_epoch}"
        summary += f" · {runtime_of(record)}"
        if record.message:
            summary += f" · {record.message}"
        self.query_one(ReportView).show(record.report, record.confusion, record.class_names, summary)
        self.refresh_bindings()  # c (resume) depends on the run

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_export(self) -> None:
        self.app.export_pngs(self.record.path)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resume":
            # Hidden for finished runs: there is nothing to continue.
            return self.record.resumable
        return True

    def action_resume(self) -> None:
        self.dismiss(self.record.path)
