"""A ``--seeds auto`` queue's rounds as they happen: each pair's B - A and its intervals against the boundaries.

After each round the engine sends a :class:`~kvt_models.events.LookTaken`:
per pair, the difference, the ``1 - alpha_k`` interval (better or worse
once it excludes 0) and the ``1 - 2 alpha_k`` interval (equivalent once it
lies inside ±D). :class:`DecisionRounds` keeps them, one row per pair and
round for the Compare tab's table (:func:`look_row`), and draws the first
pair's intervals narrowing round by round with plotext, with the lines at
0 and ±D that they are judged against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from rich.text import Text

from .compare_curves import VARIANT_COLOURS
from .plot_base import PlotWidget, epoch_ticks

if TYPE_CHECKING:
    from kvt_models.events import LookTaken, PairLook

LOOK_COLUMNS = ("seeds", "pair (b - a)", "diff pts", "CI vs 0", "CI vs ±D", "state")


def look_row(a: str, b: str, look: PairLook) -> tuple[str, ...]:
    """A table row: ``4``, the pair, B - A, both intervals with their levels, and the state after this look."""
    ci = f"{(1 - look.alpha) * 100:.4g}%: {look.ci_low * 100:+.1f} to {look.ci_high * 100:+.1f}"
    eq = f"{(1 - 2 * look.alpha) * 100:.4g}%: {look.eq_low * 100:+.1f} to {look.eq_high * 100:+.1f}"
    return (str(look.seeds), f"{b} - {a}", f"{look.diff * 100:+.2f}", ci, eq, look.outcome)


class DecisionRounds(PlotWidget):
    """The looks of a sequential comparison so far, and a plot of the first pair's intervals per round."""

    MIN_HEIGHT = 6

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.looks: dict[tuple[str, str], list[PairLook]] = {}  # (a, b) -> one look per round it was open

    def reset(self) -> None:
        self.looks = {}
        self.invalidate()

    def add(self, event: LookTaken) -> list[tuple[str, str, PairLook]]:
        """Keep a look's pairs; return those that are new (a pair decided earlier is not repeated)."""
        new = []
        for a, b, look in event.pairs:
            kept = self.looks.setdefault((a, b), [])
            if not kept or kept[-1].seeds != look.seeds:
                kept.append(look)
                new.append((a, b, look))
        self.invalidate()
        return new

    def empty_text(self) -> str:
        return "" if self.looks else "The rounds of an until-decided comparison appear here, from its first look on."

    def cache_key(self) -> Hashable:
        return tuple((key, len(looks)) for key, looks in self.looks.items())

    def series(self) -> dict[str, tuple[list[float], list[float]]]:
        """The first pair's lines, in points, by seeds per variant: B - A, both intervals, 0 and ±D."""
        looks = next(iter(self.looks.values()))
        seeds = [float(lk.seeds) for lk in looks]
        d = looks[-1].min_effect * 100
        span = [seeds[0], seeds[-1]] if len(seeds) > 1 else [seeds[0] - 0.5, seeds[0] + 0.5]
        return {
            "b - a": (seeds, [lk.diff * 100 for lk in looks]),
            "CI vs 0 high": (seeds, [lk.ci_high * 100 for lk in looks]),
            "CI vs 0 low": (seeds, [lk.ci_low * 100 for lk in looks]),
            "CI vs ±D high": (seeds, [lk.eq_high * 100 for lk in looks]),
            "CI vs ±D low": (seeds, [lk.eq_low * 100 for lk in looks]),
            "0": (span, [0.0, 0.0]),
            "+D": (span, [d, d]),
            "-D": (span, [-d, -d]),
        }

    def plot_text(self, width: int, height: int) -> Text:
        drawn = self.series()
        colour = {name: f"color({VARIANT_COLOURS[i % len(VARIANT_COLOURS)]})" for i, name in enumerate(drawn)}
        (a, b), looks = next(iter(self.looks.items()))
        parts: list[str | tuple[str, str]] = [
            (f"{b} - {a} by seeds, pts: ", "dim"), ("━━ b - a", colour["b - a"]), "  ",
            ("━━", colour["CI vs 0 high"]), ("━━ CI vs 0", colour["CI vs 0 low"]), "  ",
            ("━━", colour["CI vs ±D high"]), ("━━ CI vs ±D", colour["CI vs ±D low"]), "  ",
            ("━━ 0", colour["0"]), " ", ("━━", colour["+D"]), ("━━ ±D", colour["-D"]),
        ]
        legend = Text.assemble(*parts, no_wrap=True)
        legend.truncate(width, overflow="ellipsis")
        fig = self.ready_figure(width, height - 1)
        fig.theme("simple")  # no background colour: the terminal's own shows through
        for xs, ys in drawn.values():
            signal = fig.signal(xs, ys)
            signal.lines()
            fig.draw(signal)
        epoch_ticks(fig, [lk.seeds for lk in looks])
        return Text("\n").join([legend, Text.from_ansi(fig.build().string(), no_wrap=True)])
