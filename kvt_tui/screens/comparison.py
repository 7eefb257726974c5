"""A comparison's results: the verdict, the statistics tables, the mean curves and B - A per epoch.

The same screen shows a comparison run from the Compare tab and one made
from runs marked in the runs view. It only reads a
:class:`kvt_models.compare.summary.Comparison` (plain dataclasses, no Keras).
"""

from __future__ import annotations

import math
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from kvt_models.compare.stats import mean_std
from kvt_models.compare.summary import Comparison, PairSummary, VariantSummary
from kvt_models.compare.verdict import VARIANT_COLUMNS, images_per_second
from kvt_models.errors import KvtError
from kvt_models.store.differ import differing_line
from kvt_models.store.runs import read_json

from ..widgets.compare_curves import CompareCurves
from ..widgets.difference_curves import DifferenceCurves
from ..widgets.footer import KvtFooter
from ..widgets.header import KvtHeader
from ..widgets.table import KvtTable

# The variants' headers are kvt-train compare's (VARIANT_COLUMNS); it prints the pairs as sentences.
# "need": the seeds per variant a fixed-seed comparison needs to detect the min effect (80% power).
PAIR_COLUMNS = ("pair (b - a)", "diff pts", "95% CI pts", "Welch p", "decision", "need")


def variant_row(v: VariantSummary) -> tuple[str, ...]:
    seconds = "-" if math.isnan(v.seconds_per_epoch) else f"{v.seconds_per_epoch:.1f}"
    return (v.variant, str(v.final_accuracy.n), mean_std(v.final_accuracy), mean_std(v.best_accuracy),
            images_per_second(v), seconds, f"{v.params:,}")


def pair_row(p: PairSummary) -> tuple[str, ...]:
    ci = "n/a" if math.isnan(p.ci95[0]) else f"{p.ci95[0] * 100:+.2f} to {p.ci95[1] * 100:+.2f}"
    pv = "n/a" if math.isnan(p.p_value) else f"{p.p_value:.3f}"
    if not math.isnan(p.p_holm):
        pv += f" (Holm {p.p_holm:.3f})"
    # No look, no decision: with one seed a side there is no test (the verdict says so).
    decision = f"{p.decision.outcome} at {p.decision.seeds}" if p.decision is not None and p.decision.looks else "-"
    needed = "-" if p.seeds_needed is None else str(p.seeds_needed)
    return (f"{p.b} - {p.a}", f"{p.diff * 100:+.2f}", ci, pv, decision, needed)


class CompareScreen(Screen[None]):
    """A comparison, read-only. Escape goes back."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("d", "next_pair", "Next pair"),
        Binding("e", "export", "Export bundle"),
    ]

    def __init__(self, comparison: Comparison, folder: Path | None = None) -> None:
        super().__init__()
        self.comparison = comparison
        self.folder = folder

    def compose(self) -> ComposeResult:
        comparison = self.comparison
        seeds = comparison.settings.get("seeds") or []
        epochs = comparison.settings.get("epochs", "?")
        yield KvtHeader()
        yield Static(
            f"Comparison · {len(comparison.variants)} variants · seeds {', '.join(map(str, seeds)) or '?'}"
            f" · data {comparison.settings.get('data', '?')} · {epochs} epoch{'' if epochs == 1 else 's'}",
            id="compare-title",
            markup=False,
        )
        yield Static(comparison.verdict, id="compare-result-verdict", markup=False)
        # The variants' own keys are in their names (and the seeds in the title): the rest, where it differs.
        configs = [(read_json(Path(path) / "config.json") or {}).get("config") or {}
                   for v in comparison.variants for path in v.runs]
        yield Static(differing_line(configs, leave_out=("framework", "activation", "backend", "seed")),
                     id="compare-settings", markup=False)
        with Vertical(id="compare-tables"):
            yield KvtTable(id="compare-stats", cursor_type="none", zebra_stripes=True)
            yield KvtTable(id="compare-pairs", cursor_type="none", zebra_stripes=True)
        with Horizontal(id="compare-plots"):
            yield CompareCurves(
                {v.variant: list(v.curves.get("val_accuracy_mean", [])) for v in comparison.variants},
                id="compare-curves",
            )
            yield DifferenceCurves(comparison.per_epoch.pairs, id="compare-difference")
        yield KvtFooter()

    def on_mount(self) -> None:
        self.sub_title = str(self.folder) if self.folder else ""
        stats = self.query_one("#compare-stats", DataTable)
        stats.add_columns(*VARIANT_COLUMNS)
        for v in self.comparison.variants:
            stats.add_row(*variant_row(v), key=v.variant)
        pairs = self.query_one("#compare-pairs", DataTable)
        pairs.add_columns(*PAIR_COLUMNS)
        for p in self.comparison.pairs:
            pairs.add_row(*pair_row(p), key=f"{p.a}|{p.b}")
        # One variant has no pairs: an empty table would only show its header.
        pairs.display = bool(self.comparison.pairs)
        self.query_one(DifferenceCurves).display = bool(self.comparison.per_epoch.pairs)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_pair":
            return len(self.comparison.per_epoch.pairs) > 1  # one pair: nothing to switch to
        return True

    def action_next_pair(self) -> None:
        self.query_one(DifferenceCurves).next_pair()

    def export_folder(self) -> Path | None:
        """Where e writes the bundle: ``bundle/`` in the comparison's folder."""
        return self.folder / "bundle" if self.folder is not None else None

    def action_export(self) -> None:
        dest = self.export_folder()
        if dest is None:
            self.notify("This comparison has no folder to export into.", severity="warning")
            return
        self.notify(f"Writing the evidence bundle to {dest}…")
        self._export(dest)

    @work(thread=True, exit_on_error=False, group="export", name="export bundle")
    def _export(self, dest: Path) -> None:
        # A thread: the PNGs take matplotlib a second or two, and the screen stays live meanwhile.
        from kvt_models.compare.bundle import export_bundle

        try:
            files = export_bundle(self.comparison, dest)
        except KvtError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Export failed", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Wrote {len(files)} files to {dest} (report.md, table.tex, PNGs, "
                                  "comparison.json)", title="Evidence bundle", timeout=10)
