"""Loss and accuracy curves, train vs validation, drawn with plotext.

A :class:`~kvt_tui.widgets.plot_base.PlotWidget`: a plotext figure of its
own, the drawing cached per size and epoch count.

The rows come from the list it is given (:attr:`Curves.history`), which its
:class:`~kvt_tui.widgets.history_view.HistoryView` owns and also shows in the
metrics table. The plot is rebuilt when the owner says the rows changed
(:meth:`Curves.redraw`) and when the widget is resized.
"""

from __future__ import annotations

from typing import Hashable

from rich.text import Text

from .plot_base import PlotWidget, epoch_ticks

# The first two colours of plotext's "simple" theme sequence, 12 and 10 (bright
# blue, bright green): both exist in the 16-colour palette, so the curves read
# the same in a basic terminal. The legend line uses the same two.
TRAIN_COLOUR = 12
VAL_COLOUR = 10
PANELS = (("loss", "loss", "val_loss"), ("accuracy", "accuracy", "val_accuracy"))


class Curves(PlotWidget):
    """Two plots (loss, accuracy), each with a train and a validation line."""

    MIN_HEIGHT = 6  # a legend line above two panels (stacked when narrow)

    def __init__(self, history: list[dict[str, float]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history  # shared with the owner, which adds the rows

    def redraw(self) -> None:
        """The history changed: plot it again (a replaced history may have as many rows as before)."""
        self.invalidate()

    # -- drawing ---------------------------------------------------------------
    def empty_text(self) -> str:
        return "" if self.history else "Loss and accuracy curves appear here after the first epoch."

    def cache_key(self) -> Hashable:
        return len(self.history)

    def plot_text(self, width: int, height: int) -> Text:
        """The legend line plus the plots, ``width`` x ``height`` cells, as Rich Text."""
        last = self.history[-1]
        legend = Text.assemble(
            ("━━ train", f"color({TRAIN_COLOUR})"), "  ", ("━━ validation", f"color({VAL_COLOUR})"),
            # The latest values in numbers: one or two epochs make points too small to read.
            (f"   epoch {int(last['epoch'])}: loss {last['loss']:.3f} / {last['val_loss']:.3f}"
             f" · acc {last['accuracy']:.3f} / {last['val_accuracy']:.3f}", "dim"),
            no_wrap=True,
        )
        legend.truncate(width, overflow="ellipsis")
        plot = self._build(width, height - 1)
        return Text("\n").join([legend, Text.from_ansi(plot, no_wrap=True)])

    def _build(self, width: int, height: int) -> str:
        fig = self.ready_figure(width, height)
        # Side by side when wide enough for two readable plots, else stacked.
        side_by_side = width >= 3 * height
        fig.subplots(1, 2) if side_by_side else fig.subplots(2, 1)
        epochs = [int(r["epoch"]) for r in self.history]
        for index, (title, train_key, val_key) in enumerate(PANELS, start=1):
            panel = fig.subplot(1, index) if side_by_side else fig.subplot(index, 1)
            panel.theme("simple")  # no background colour: the terminal's own shows through
            panel.title(title)
            # The theme's colour sequence restarts in each panel: the first
            # signal gets TRAIN_COLOUR, the second VAL_COLOUR.
            for key in (train_key, val_key):
                signal = panel.signal(epochs, [float(r[key]) for r in self.history])
                signal.lines()
                panel.draw(signal)
            epoch_ticks(panel, epochs)
        return fig.build().string()
