"""Loss and accuracy curves, train vs validation, drawn with plotext.

Each :class:`Curves` widget owns its own plotext figure, created on first use
and redrawn only by this widget: plotext's module-level ``plotext.figure`` is
one global shared by every caller, which would let two widgets (the live
view and a reopened run) draw over each other.

The rows come from the list it is given (:attr:`Curves.history`), which its
:class:`~kvt_tui.widgets.history_view.HistoryView` owns and also shows in the
metrics table. The plot is rebuilt when the owner says the rows changed and
when the widget is resized (the figure is cached per size and epoch count, so
plain repaints are free).
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

# The first two colours of plotext's "simple" theme sequence, 12 and 10 (bright
# blue, bright green): both exist in the 16-colour palette, so the curves read
# the same in a basic terminal. The legend line uses the same two.
TRAIN_COLOUR = 12
VAL_COLOUR = 10
PANELS = (("loss", "loss", "val_loss"), ("accuracy", "accuracy", "val_accuracy"))


def _new_figure() -> Any:
    """A plotext figure of our own.

    plotext 6 has no public constructor for a second figure: ``plotext.figure``
    is the global master of a module-level terminal. A fresh terminal object
    owns a fresh master figure, so that is what each widget makes.
    """
    # Deferred: importing plotext takes ~0.3 s, and the first frame has no curves.
    from plotext._kernel.terminal import terminal

    owner = terminal()
    # By default plotext shrinks plots to what it believes the terminal size
    # is; here the widget's own size is the only limit.
    owner.limit(False, False)
    return owner._master


def ready_figure(figure: Any | None, width: int, height: int) -> Any:
    """A widget's own figure (made on first use), cleared and sized for a redraw."""
    fig = figure if figure is not None else _new_figure()
    fig.clear()
    fig.plot_size(width, height)
    return fig


class Curves(Widget):
    """Two plots (loss, accuracy), each with a train and a validation line."""

    def __init__(self, history: list[dict[str, float]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history  # shared with the owner, which adds the rows
        self._figure: Any = None
        self._cache: tuple[tuple[int, int, int], Text] | None = None

    def redraw(self) -> None:
        """The history changed: plot it again (a replaced history may have as many rows as before)."""
        self._cache = None
        self.refresh()

    # -- drawing ---------------------------------------------------------------
    def render(self) -> RenderableType:
        width, height = self.content_size
        if not self.history:
            return Text("Loss and accuracy curves appear here after the first epoch.", style="dim")
        if width < 24 or height < 6:
            return Text("(too small for curves: make the window bigger)", style="dim")
        key = (width, height, len(self.history))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.plot_text(width, height))
        return self._cache[1]

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
        fig = self._figure = ready_figure(self._figure, width, height)
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
            if len(epochs) <= 12:
                # Whole epochs only; plotext would otherwise label 1.67, 2.33...
                panel.ruler("x").ticks(epochs, [str(e) for e in epochs])
        return fig.build().string()
