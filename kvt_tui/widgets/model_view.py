"""The model view: MiniVGGNet's layers for the chosen framework and activation.

Layers that run a raw TensorFlow op are marked, which is where the two
frameworks really differ (both are Keras 3 models). The summaries come from
:func:`kvt_models.model.summary.describe_models`, run in a child process
(building a model imports TensorFlow), every variant at once: the view asks
for them the first time it is shown (:meth:`ModelView.show_model`), on a
worker of its own, and keeps them.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from kvt_models.model.summary import ModelSummary
from kvt_models.train.stopping import StopRequest

from .. import jobs
from ..messages import ModelsDescribed
from .table import KvtTable

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
        self.summary: ModelSummary | None = None  # the one shown
        self.summaries: dict[tuple[str, str], ModelSummary] = {}  # every variant's, by (framework, activation)
        self._wanted: tuple[str, str] | None = None  # the last one asked for
        self._describing = False  # the helper process is building them
        self._describe_stop = StopRequest()

    def compose(self) -> ComposeResult:
        yield Static("Press m to build the model and list its layers.", id="model-summary", markup=False)
        table: DataTable = KvtTable(id="model-table", cursor_type="row", zebra_stripes=True)
        # The TF op comes third so that it stays in view in an 80-column terminal.
        for label in ("layer", "type", "TensorFlow op", "output", "params"):
            table.add_column(label)
        yield table

    def on_unmount(self) -> None:
        self._describe_stop.set()  # the helper process ends at once

    def show_model(self, framework: str, activation: str) -> None:
        """Show that variant's layers; the first time, build every variant's on a worker, then show them."""
        key = self._wanted = (framework, activation)
        if key in self.summaries:
            self.show_summary(self.summaries[key])
            return
        self.show_loading(*key)
        if not self._describing:
            self._describing = True
            self._describe_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, group="describe", name="model view")
    def _describe_worker(self) -> None:
        jobs.describe_models(self.post_message, self._describe_stop)

    @on(ModelsDescribed)
    def _models_described(self, message: ModelsDescribed) -> None:
        self._describing = False
        if message.error:
            self.show_error(message.error)  # the next m tries again
            return
        self.summaries.update({(summary.framework, summary.activation): summary for summary in message.summaries})
        if self._wanted is not None:
            self.show_model(*self._wanted)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            jobs.report_worker_error(self, event.worker)

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
