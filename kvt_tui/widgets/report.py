"""The classification report and confusion matrix of a finished (or stopped) run.

The report is scikit-learn's ``classification_report(output_dict=True)`` as
saved in ``report.json``: one row per class (precision, recall, f1, support),
then accuracy, macro avg and weighted avg, laid out like sklearn prints it.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg")
REPORT_COLUMNS = ("", "precision", "recall", "f1-score", "support")


def report_rows(report: dict[str, Any], class_names: Sequence[str] = ()) -> list[tuple[str, ...]]:
    """The cells of the report table, as shown: per class, then accuracy and the averages."""
    names = list(class_names) or [k for k in report if k not in SUMMARY_ROWS]
    rows: list[tuple[str, ...]] = []

    def metric_row(label: str, values: dict[str, float]) -> tuple[str, ...]:
        return (
            label,
            f"{values['precision']:.4f}",
            f"{values['recall']:.4f}",
            f"{values['f1-score']:.4f}",
            str(int(values["support"])),
        )

    for name in names:
        if name in report:
            rows.append(metric_row(name, report[name]))
    if "accuracy" in report:
        total = report.get("macro avg", {}).get("support", "")
        rows.append(("accuracy", "", "", f"{float(report['accuracy']):.4f}", str(int(total)) if total != "" else ""))
    for avg in ("micro avg", "macro avg", "weighted avg"):
        if avg in report:
            rows.append(metric_row(avg, report[avg]))
    return rows


def report_table(rows: list[tuple[str, ...]], n_classes: int) -> Table:
    table = Table(title="Classification report (test set)", title_justify="left", expand=False, pad_edge=False)
    for index, header in enumerate(REPORT_COLUMNS):
        table.add_column(header, justify="left" if index == 0 else "right", no_wrap=True)
    for index, row in enumerate(rows):
        # A rule between the classes and the summary rows, as sklearn leaves a blank line.
        table.add_row(*row, end_section=index == n_classes - 1, style="bold" if index >= n_classes else None)
    return table


def confusion_table(confusion: Sequence[Sequence[int]], class_names: Sequence[str]) -> Table:
    """Rows: true class; columns: predicted class (4-letter abbreviations). Diagonal highlighted."""
    table = Table(title="Confusion matrix (rows: true, columns: predicted)", title_justify="left", pad_edge=False)
    table.add_column("", no_wrap=True)
    for name in class_names:
        table.add_column(name[:4], justify="right", no_wrap=True)
    for i, row in enumerate(confusion):
        cells = []
        for j, value in enumerate(row):
            style = "bold green" if i == j else ("dim" if value == 0 else "")
            cells.append(Text(str(value), style=style))
        table.add_row(class_names[i] if i < len(class_names) else str(i), *cells)
    return table


class ReportView(VerticalScroll):
    """Scrollable: the report table, then the confusion matrix."""

    PLACEHOLDER = "The classification report appears here when a run ends (or open a past run: r)."

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, ...]] = []

    def compose(self) -> ComposeResult:
        yield Static(self.PLACEHOLDER, id="report-summary", markup=False)
        yield Static("", id="report-table")
        yield Static("", id="confusion-table")

    def show(
        self,
        report: dict[str, Any] | None,
        confusion: Sequence[Sequence[int]],
        class_names: Sequence[str],
        summary: str = "",
    ) -> None:
        """Show a run's report; ``report`` None (a run stopped before evaluation) shows why."""
        if not report:
            self.show_placeholder(summary or "This run has no report (it ended before the evaluation).")
            return
        names = list(class_names) or [k for k in report if k not in SUMMARY_ROWS]
        self.rows = report_rows(report, names)
        self.query_one("#report-summary", Static).update(summary)
        self.query_one("#report-table", Static).update(report_table(self.rows, len(names)))
        self.query_one("#confusion-table", Static).update(
            confusion_table(confusion, names) if confusion else ""
        )

    def show_placeholder(self, text: str | None = None) -> None:
        self.rows = []
        self.query_one("#report-summary", Static).update(text or self.PLACEHOLDER)
        self.query_one("#report-table", Static).update("")
        self.query_one("#confusion-table", Static).update("")
