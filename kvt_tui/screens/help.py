"""The help screen (``?``): keys, settings, the recipes, what the two frameworks mean, where logs go."""

from __future__ import annotations

import textwrap

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kvt_models.settings.recipes import RECIPES


def recipes_text(width: int = 72) -> str:
    """One entry per recipe of :data:`RECIPES`: its name, then its summary, wrapped under itself."""
    column = 2 + max(map(len, RECIPES)) + 2
    return "\n".join(
        textwrap.fill(escape(recipe.summary), width, initial_indent=f"  {name:<{column - 4}}  ",
                      subsequent_indent=" " * column)
        for name, recipe in RECIPES.items()
    )


HELP_TEXT = """\
[b]kvt-tui: Keras vs. TensorFlow, in the terminal[/b]

[b]Keys[/b]
  t        train with the settings on the left
  s        stop gracefully: the run stops at the next batch, and the
           partial run is saved (it shows in the runs view)
  e        export curves.png + confusion.png into the run folder
  r        runs view: Enter opens a run (Escape comes back); c resumes
           a stopped, failed or killed run from its last finished epoch;
           space marks runs, x compares the marked ones (e there writes
           an evidence bundle); n edits a run's note and tags; / filters
           (id, variant, note, tags, data); o sorts by date or accuracy
  m        model view: the layers, TensorFlow ops marked ◆
  v        compare view: pick variants and seeds; g runs the queue
           (s stops it; finished runs are reused next time)
  1 … 5    live, report, model, runs and compare tabs
  Tab      next field; Escape leaves a text field so keys work again;
           on a table or the report, the arrow keys scroll it (also
           sideways, where the confusion matrix is wider than the tab)
  ctrl+p   command palette
  ?        this help
  q        quit (while training: asks, stops, saves, then quits)

[b]Settings[/b]
  Empty epochs / batch / LR mean the recipe's values; an empty seed is
  random (recorded in config.json); empty limits use every image.
  A bad value is explained under its field, and Train stays off until
  it is fixed.

[b]Recipes[/b]
{recipes}

[b]Frameworks[/b]
  Since TF 2.16, tf.keras is Keras 3, so both choices build a Keras 3
  model. tensorflow (tf.keras + raw TensorFlow ops) puts raw tf.nn ops
  (tf.nn.crelu, ...) inside the activation layers; keras uses keras
  layers and ops only.

[b]Backends[/b]
  Keras 3 on TensorFlow (default), JAX or PyTorch, or Keras 2 (tf_keras,
  the tf.keras of 2018). The tensorflow framework needs TensorFlow or
  Keras 2. Each run trains in a process of its own, on its own backend;
  a runtime that is not installed is greyed out, with its pip command
  under the field. In the Compare tab, keras:relu@jax is keras:relu on
  JAX.

[b]Logs[/b]
  TensorFlow's own log lines go to {log_path}, never to the screen.

Press Escape or ? to close."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, log_path: str) -> None:
        super().__init__()
        self.log_path = log_path

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP_TEXT.format(log_path=escape(self.log_path), recipes=recipes_text()), id="help-text")
