"""When does the answer settle? B - A per epoch with its 95% CI band, drawn with plotext.

One pair at a time (each variant against the baseline): the difference of
mean test accuracy in points, the band's upper and lower bounds as two lines
(plotext draws no filled band between two curves), and the zero line. Where
the band stays on one side of zero the answer has settled; a crossing of the
difference line over zero is a change of lead.

A :class:`~kvt_tui.widgets.plot_base.PlotWidget`, like the other curve
widgets: a plotext figure of its own, the drawing cached per size and pair.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Hashable

from rich.text import Text

from .compare_curves import VARIANT_COLOURS
from .plot_base import PlotWidget, epoch_ticks

if TYPE_CHECKING:
    from kvt_models.compare.settling import PairTrajectory

# plotext 6 gives the i-th signal drawn the i-th colour of its theme, so the
# drawing order of series() is also the legend's colour order.


class DifferenceCurves(PlotWidget):
    """B - A (points) per epoch, its 95% CI bounds and zero, for one pair of a comparison."""

    def __init__(self, pairs: list[PairTrajectory] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pairs: list[PairTrajectory] = list(pairs or [])
        self.index = 0  # the pair shown

    @property
    def pair(self) -> PairTrajectory | None:
        return self.pairs[self.index] if self.pairs else None

    def next_pair(self) -> None:
        """Show the next pair (with three or more variants there is one per variant after the first)."""
        if self.pairs:
            self.index = (self.index + 1) % len(self.pairs)
            self.invalidate()

    def empty_text(self) -> str:
        pair = self.pair
        if pair is None or not any(not math.isnan(e.diff) for e in pair.epochs):
            return "No pair with a finished epoch on both sides."
        return ""

    def cache_key(self) -> Hashable:
        return self.index

    def series(self) -> dict[str, tuple[list[int], list[float]]]:
        """What is drawn, in points: each line's epochs and values (the CI only where it exists)."""
        pair = self.pair
        assert pair is not None
        diff = [(e.epoch, e.diff * 100) for e in pair.epochs if not math.isnan(e.diff)]
        band = [e for e in pair.epochs if e.has_stats]
        epochs = [e.epoch for e in pair.epochs]
        lines = {
            "B - A": ([x for x, _ in diff], [y for _, y in diff]),
            "CI high": ([e.epoch for e in band], [e.ci_high * 100 for e in band]),
            "CI low": ([e.epoch for e in band], [e.ci_low * 100 for e in band]),
            "0": ([epochs[0], epochs[-1]], [0.0, 0.0]),
        }
        return {name: values for name, values in lines.items() if values[0]}

    def plot_text(self, width: int, height: int) -> Text:
        """A legend line (short enough for half of 80 columns), then the plot."""
        drawn = self.series()
        colour = {name: f"color({VARIANT_COLOURS[i % len(VARIANT_COLOURS)]})" for i, name in enumerate(drawn)}
        title = "b - a, pts" if len(self.pairs) == 1 else f"pair {self.index + 1}/{len(self.pairs)} (d), pts"
        parts: list[str | tuple[str, str]] = [(f"{title}: ", "dim"), ("━━ b - a", colour["B - A"]), "  "]
        if "CI high" in drawn:
            # The band's two bounds, side by side: together they are "the 95% CI".
            parts += [("━━", colour["CI high"]), ("━━ 95% CI", colour["CI low"]), "  "]
        parts.append(("━━ 0", colour["0"]))
        if "CI high" not in drawn:
            parts.append(("  (a CI needs 2+ seeds each)", "dim"))
        legend = Text.assemble(*parts, no_wrap=True)
        legend.truncate(width, overflow="ellipsis")
        return Text("\n").join([legend, Text.from_ansi(self._build(drawn, width, height - 1), no_wrap=True)])

    def _build(self, drawn: dict[str, tuple[list[int], list[float]]], width: int, height: int) -> str:
        fig = self.ready_figure(width, height)
        fig.theme("simple")  # no background colour: the terminal's own shows through
        for epochs, values in drawn.values():
            signal = fig.signal([float(e) for e in epochs], [float(v) for v in values])
            signal.lines()
            fig.draw(signal)
        epoch_ticks(fig, range(1, max(drawn["B - A"][0]) + 1))
        return fig.build().string()
