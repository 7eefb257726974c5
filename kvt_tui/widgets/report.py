"""The classification report and confusion matrix of a finished (or stopped) run.

The report is scikit-learn's ``classification_report(output_dict=True)`` as
saved in ``report.json``: one row per class (precision, recall, f1, support),
then accuracy, macro avg and weighted avg, laid out like sklearn prints it.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg")
REPORT_COLUMNS = ("", "precision", "recall", "f1-score", "support")
COMPACT_REPORT_COLUMNS = ("", "prec", "recall", "f1", "support")


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


def report_table(rows: list[tuple[str, ...]], n_classes: int, *, compact: bool = False) -> Table:
    """sklearn's report as a Rich table; ``compact``: no vertical rules, one space between columns."""
    table = _table("Classification report (test set)", compact)
    for index, header in enumerate(COMPACT_REPORT_COLUMNS if compact else REPORT_COLUMNS):
        table.add_column(header, justify="left" if index == 0 else "right", no_wrap=True)
    for index, row in enumerate(rows):
        # A rule between the classes and the summary rows, as sklearn leaves a blank line.
        table.add_row(*row, end_section=index == n_classes - 1, style="bold" if index >= n_classes else None)
    return table


def confusion_table(confusion: Sequence[Sequence[int]], class_names: Sequence[str], *, compact: bool = False) -> Table:
    """Rows: true class; columns: predicted class (4-letter abbreviations). Diagonal highlighted."""
    table = _table("Confusion matrix (rows: true, columns: predicted)", compact)
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


def _table(title: str, compact: bool) -> Table:
    if compact:
        # One space between columns (the box's blank rule), none at the edges.
        return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    return Table(title=title, title_justify="left", pad_edge=False)


class Fitted:
    """The full table where it fits, else the compact one: no number cut to "0.…".

    Rich squeezes a table that is too wide by cutting its cells; at 80 columns
    the Report tab is ~46 wide, and the full report needs 56. The compact form
    needs 41. (What is wider still, the confusion matrix, scrolls sideways.)

    Textual measures a renderable's width, then renders it to learn its
    height, then renders it again to paint it; a Rich table is laid out anew
    each time (the Report tab's first frame after a run ended took most of
    that key's time). The tables do not change, so each table is measured
    once, and drawn once per width.
    """

    def __init__(self, full: Table, compact: Table) -> None:
        self.full = full
        self.compact = compact
        self._natural: dict[Table, Measurement] = {}  # each table's width with room to spare
        self._rendered: dict[tuple, list[Segment]] = {}

    def _measure(self, console: Console, options: ConsoleOptions, table: Table) -> Measurement:
        # Measured with 10,000 columns to spare: the same for every width the tab is given.
        if table not in self._natural:
            self._natural[table] = Measurement.get(console, options.update_width(10_000), table)
        return self._natural[table]

    def _pick(self, console: Console, options: ConsoleOptions) -> Table:
        fits = self._measure(console, options, self.full).maximum <= options.max_width
        return self.full if fits else self.compact

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key = (options.min_width, options.max_width, options.height, options.justify, options.overflow,
               options.no_wrap, console.color_system)
        if key not in self._rendered:
            self._rendered[key] = list(console.render(self._pick(console, options), options))
        yield from self._rendered[key]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return self._measure(console, options, self._pick(console, options))


class ReportView(ScrollableContainer):
    """Scrollable both ways: the report table, then the confusion matrix (wider than a narrow tab)."""

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
        self.query_one("#report-table", Static).update(
            Fitted(report_table(self.rows, len(names)), report_table(self.rows, len(names), compact=True))
        )
        self.query_one("#confusion-table", Static).update(
            Fitted(confusion_table(confusion, names), confusion_table(confusion, names, compact=True)) if confusion else ""
        )

    def show_placeholder(self, text: str | None = None) -> None:
        self.rows = []
        self.query_one("#report-summary", Static).update(text or self.PLACEHOLDER)
        self.query_one("#report-table", Static).update("")
        self.query_one("#confusion-table", Static).update("")
