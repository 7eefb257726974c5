"""Mean test-accuracy curves of a comparison, one line per variant, drawn with plotext.

A :class:`~kvt_tui.widgets.plot_base.PlotWidget`, like the other curve
widgets: a plotext figure of its own, the drawing cached per size (a
comparison's curves never change once shown).
"""

from __future__ import annotations

from rich.text import Text

from .plot_base import PlotWidget, epoch_ticks

# The colour sequence of plotext's "simple" theme (the i-th line drawn gets the
# i-th colour; plotext 6 signals take no colour of their own), all in the
# 16-colour palette so the lines read the same in a basic terminal. The
# legend line uses the same sequence.
VARIANT_COLOURS = (12, 10, 9, 14, 13, 11, 0, 15, 8, 7)


class CompareCurves(PlotWidget):
    """Mean val_accuracy per epoch, one line per variant, with a legend line above."""

    def __init__(self, curves: dict[str, list[float]] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # variant -> mean val_accuracy per epoch (epoch 1 first)
        self.curves: dict[str, list[float]] = dict(curves or {})

    def empty_text(self) -> str:
        return "" if any(self.curves.values()) else "No finished epoch to draw."

    def plot_text(self, width: int, height: int) -> Text:
        """The legend (one line, or one per entry where one line would cut it), then the plot."""
        entries: list[Text] = []
        for index, (name, values) in enumerate(self._drawn().items()):
            colour = VARIANT_COLOURS[index % len(VARIANT_COLOURS)]
            entries.append(Text(f"━━ {name} {values[-1]:.3f}", style=f"color({colour})"))
        spaced: list[Text | str] = [part for entry in entries for part in (entry, "  ")]
        one_line = Text.assemble(("mean test accuracy: ", "dim"), *spaced, no_wrap=True)
        if one_line.cell_len <= width or height < 8:
            legend = [one_line]
        else:
            # Half of an 80-column screen: a variant's name must not be cut off.
            legend = [Text("mean test accuracy:", style="dim")] + entries
        for line in legend:
            line.truncate(width, overflow="ellipsis")
        plot = Text.from_ansi(self._build(width, height - len(legend)), no_wrap=True)
        return Text("\n").join([*legend, plot])

    def _drawn(self) -> dict[str, list[float]]:
        # Variants without a finished epoch draw nothing and take no colour,
        # so the i-th legend entry and the i-th line share a colour.
        return {name: values for name, values in self.curves.items() if values}

    def _build(self, width: int, height: int) -> str:
        fig = self.ready_figure(width, height)
        panel = fig  # one plot: the figure itself (subplots(1, 1) makes no panel)
        panel.theme("simple")  # no background colour: the terminal's own shows through
        longest = 0
        for values in self._drawn().values():
            epochs = list(range(1, len(values) + 1))
            longest = max(longest, len(values))
            signal = panel.signal(epochs, [float(v) for v in values])
            signal.lines()
            panel.draw(signal)
        epoch_ticks(panel, range(1, longest + 1))
        return fig.build().string()
