"""The model view: MiniVGGNet's layers for the chosen framework and activation.

Layers that run a raw TensorFlow op are marked, which is where the two
frameworks really differ (both are Keras 3 models). The summaries come from
:func:`kvt_models.model.summary.describe_models`, run by the app in a child process
(building a model imports TensorFlow), every variant at once.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from kvt_models.model.summary import ModelSummary

TF_MARK = "◆"


def short_shape(shape: str) -> str:
    """``(None, 32, 32, 64)`` -> ``32×32×64``: the batch dimension is always None here."""
    dims = [d.strip() for d in shape.strip("()").split(",") if d.strip()]
    if dims and dims[0] == "None":
        dims = dims[1:]
    return "×".join(dims) if dims else shape


def short_count(n: int) -> str:
    """896, 36.9k, 4.19M: the exact totals are in the summary line above the table."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.3g}k"
    return f"{n / 1_000_000:.3g}M"


class ModelView(Vertical):
    """A one-line summary and the layer table (name, type, output shape, params, TF op)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary: ModelSummary | None = None

    def compose(self) -> ComposeResult:
        yield Static("Press m to build the model and list its layers.", id="model-summary", markup=False)
        table: DataTable = DataTable(id="model-table", cursor_type="row", zebra_stripes=True)
        # The TF op comes third so that it stays in view in an 80-column terminal.
        for label in ("layer", "type", "TensorFlow op", "output", "params"):
            table.add_column(label)
        yield table

    def show_loading(self, framework: str, activation: str) -> None:
        self.query_one("#model-summary", Static).update(
            f"Building MiniVGGNet ({framework} + {activation}) and the other variants in a helper process, "
            "where TensorFlow starts (5-10 s, once)…"
        )
        self.query_one(DataTable).clear()

    def show_error(self, message: str) -> None:
        self.query_one("#model-summary", Static).update(f"Could not build the model: {message}")
        self.query_one(DataTable).clear()

    def show_summary(self, summary: ModelSummary) -> None:
        self.summary = summary
        tf_layers = [layer for layer in summary.layers if layer.tensorflow_op]
        marked = (
            f"{TF_MARK} {len(tf_layers)} layers run raw TensorFlow ops"
            if tf_layers
            else "no raw TensorFlow ops: Keras layers only"
        )
        self.query_one("#model-summary", Static).update(
            f"MiniVGGNet, {summary.framework} + {summary.activation}: "
            f"{summary.total_params:,} params ({summary.trainable_params:,} trainable) · {marked}"
        )
        table = self.query_one(DataTable)
        table.clear()
        for layer in summary.layers:
            op = Text(f"{TF_MARK} {layer.tensorflow_op}", style="bold yellow") if layer.tensorflow_op else Text("")
            table.add_row(
                layer.name,
                layer.type,
                op,
                short_shape(layer.output_shape),
                Text(short_count(layer.params), justify="right"),
            )
