"""What the three plotext widgets share: a figure of their own, the size check, a cached drawing, epoch ticks.

:class:`~kvt_tui.widgets.curves.Curves` (a run's loss and accuracy),
:class:`~kvt_tui.widgets.compare_curves.CompareCurves` (a comparison's mean
curves) and :class:`~kvt_tui.widgets.difference_curves.DifferenceCurves`
(B - A per epoch) are each a :class:`PlotWidget`.

Each owns its own plotext figure, created on first use and redrawn only by
that widget: plotext's module-level ``plotext.figure`` is one global shared
by every caller, which would let two widgets (the live view and a reopened
run) draw over each other. The drawing is cached per size and per what the
subclass says it depends on (:meth:`PlotWidget.cache_key`), and so are the
lines Textual paints from it (:meth:`PlotWidget.render_line`): plotext's
drawing is a colour code every few cells, and turning it into a widget's
lines again each time its tab is shown cost more than the rest of a tab
switch (docs/live.md). :meth:`PlotWidget.invalidate` drops both when the
data changes.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

from rich.console import RenderableType
from rich.text import Text
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

TOO_SMALL = "(too small for curves: make the window bigger)"
# Up to this many epochs the x axis is labelled with each whole epoch; beyond,
# plotext's own ticks are fine (and whole labels would crowd each other).
MAX_EPOCH_TICKS = 12


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


def epoch_ticks(panel: Any, epochs: Sequence[int]) -> None:
    """Label the x axis with whole epochs only; plotext would otherwise label 1.5, 2.33..."""
    if 0 < len(epochs) <= MAX_EPOCH_TICKS:
        panel.ruler("x").ticks(list(epochs), [str(e) for e in epochs])


class PlotWidget(Widget):
    """A plot drawn with plotext into a figure of its own, redrawn only when its size or data change.

    A subclass says what to show while there is nothing to plot
    (:meth:`empty_text`), what the drawing depends on besides the size
    (:meth:`cache_key`), and draws (:meth:`plot_text`).
    """

    MIN_WIDTH = 24
    MIN_HEIGHT = 5  # cells; below either, a line saying so instead of a plot

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._figure: Any = None
        self._cache: tuple[Hashable, Text] | None = None
        self._lines: tuple[Hashable, list[Strip]] | None = None

    def invalidate(self) -> None:
        """The data changed: draw again at the next repaint."""
        self._cache = None
        self._lines = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the drawing, from lines kept until the size, the data or the style change."""
        width, height = self.size
        style = self.visual_style
        key = (width, height, style, self.empty_text(), self.cache_key())
        if self._lines is None or self._lines[0] != key:
            visual = visualize(self, self.render())
            self._lines = (key, Visual.to_strips(self, visual, width, height, style))
        lines = self._lines[1]
        return lines[y] if 0 <= y < len(lines) else Strip.blank(width, style.rich_style)

    def render(self) -> RenderableType:
        empty = self.empty_text()
        if empty:
            return Text(empty, style="dim")
        width, height = self.content_size
        if width < self.MIN_WIDTH or height < self.MIN_HEIGHT:
            return Text(TOO_SMALL, style="dim")
        key = (width, height, self.cache_key())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.plot_text(width, height))
        return self._cache[1]

    def ready_figure(self, width: int, height: int) -> Any:
        """This widget's own figure (made on first use), cleared and sized for a redraw."""
        if self._figure is None:
            self._figure = _new_figure()
        self._figure.clear()
        self._figure.plot_size(width, height)
        return self._figure

    # -- what a subclass says ------------------------------------------------------
    def empty_text(self) -> str:
        """What to show instead of a plot when there is nothing to draw; empty: draw."""
        return ""

    def cache_key(self) -> Hashable:
        """Whatever the drawing depends on besides the size (the size is always part of the key)."""
        return None

    def plot_text(self, width: int, height: int) -> Text:
        """The drawing, ``width`` x ``height`` cells, as Rich Text."""
        raise NotImplementedError
