"""The progress strip: stage, epoch i/N, a per-batch bar with ETA, img/s, and the run's CPU and memory.

The ETA is computed from the engine's own clock (``epoch_elapsed`` of each
BatchEnded), so it means the same thing on a fast and a slow terminal. The
CPU and memory line shows while a run sends its figures (SystemSampled),
and goes when it ends.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from kvt_models.events import BatchEnded, EpochEnded, SystemSampled, TrainStarted
from kvt_models.sizefmt import format_bytes
from kvt_models.timefmt import epoch_seconds_left, format_duration


def system_strip_text(sample: SystemSampled) -> str:
    """The strip's one line of figures: ``cpu 1.4/2 cores (71%) · machine 98% · mem 812 MB, peak 1.10 GB · 3.20 GB free``."""
    return (f"cpu {sample.cpu_cores:.1f}/{sample.cpu_count} cores ({sample.cpu_percent:.0f}%) · "
            f"machine {sample.machine_cpu_percent:.0f}% · mem {format_bytes(sample.rss)}, "
            f"peak {format_bytes(sample.peak_rss)} · {format_bytes(sample.available)} free")


class TrainingProgress(Vertical):
    """Two lines: what is happening, and how far the current epoch is; a third with the figures while a run trains."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.epochs = 0
        self.epoch = 0
        self.steps = 0
        self.stage = "idle"
        self._epoch_seconds: list[float] = []
        self._lines: dict[str, tuple[Static, str]] = {}  # id -> (the line, its text now)

    def compose(self) -> ComposeResult:
        yield Static("idle: press t to train", id="progress-status", markup=False)
        with Horizontal(id="progress-line"):
            yield Static("epoch -/-", id="progress-epoch")
            # total=1, progress=0: a still, empty bar (no total would animate,
            # which also makes screenshots differ from one run to the next).
            yield ProgressBar(total=1, show_eta=False, id="batch-bar")
            yield Static("", id="progress-eta")
        system = Static("", id="progress-system", markup=False)
        system.display = False  # until a run sends its first figures
        yield system

    # -- updates, all called on the UI thread -----------------------------------
    def set_stage(self, stage: str, detail: str = "") -> None:
        self.stage = stage
        self._status(f"{stage}: {detail}" if detail else stage)

    def started(self, event: TrainStarted) -> None:
        self.epochs = event.epochs
        self.steps = event.steps_per_epoch
        self.epoch = event.initial_epoch
        self._epoch_seconds = []
        self.stage = "training"
        self._status(
            f"training {event.framework} + {event.activation}"
            + (f" on {event.runtime}" if event.runtime else "")
            + f": {event.train_samples:,} images, batch {event.batch_size}, {event.params:,} params"
        )
        self._set("progress-epoch", f"epoch {event.initial_epoch + 1}/{event.epochs}")
        self.query_one(ProgressBar).update(total=event.steps_per_epoch, progress=0)
        self._set("progress-eta", "")
        self.query_one("#progress-system", Static).display = False

    def system_sampled(self, sample: SystemSampled) -> None:
        self._set("progress-system", system_strip_text(sample))
        self.query_one("#progress-system", Static).display = True

    def batch_ended(self, event: BatchEnded) -> None:
        self.epoch = event.epoch
        self.steps = event.steps
        self._set("progress-epoch", f"epoch {event.epoch}/{self.epochs or '?'}")
        self.query_one(ProgressBar).update(total=event.steps, progress=event.step)
        per_step = event.epoch_elapsed / event.step if event.step else 0.0
        epoch_left = epoch_seconds_left(event)
        parts = [f"ETA {format_duration(epoch_left)}"]
        if self.epochs and event.epoch < self.epochs:
            epoch_time = (
                sum(self._epoch_seconds) / len(self._epoch_seconds) if self._epoch_seconds else per_step * event.steps
            )
            run_left = epoch_left + epoch_time * (self.epochs - event.epoch)
            parts.append(f"run {format_duration(run_left)} left")
        parts.append(f"{event.images_per_second:,.0f} img/s")
        self._set("progress-eta", " · ".join(parts))
        metrics = " ".join(f"{k} {v:.4f}" for k, v in event.logs.items())
        self._status(f"training: step {event.step}/{event.steps}  {metrics}".rstrip())

    def epoch_ended(self, event: EpochEnded) -> None:
        self._epoch_seconds.append(event.seconds)
        self.epoch = event.epoch
        self._status(
            f"epoch {event.epoch} done in {format_duration(event.seconds)}: "
            f"val_accuracy {event.val_accuracy:.4f}, val_loss {event.val_loss:.4f}"
        )

    def finished(self, text: str) -> None:
        self.stage = "idle"
        self._status(text)
        self._set("progress-eta", "")
        self.query_one("#progress-system", Static).display = False

    def _status(self, text: str) -> None:
        self._set("progress-status", text)

    def _set(self, line_id: str, text: str) -> None:
        """One line of the strip, repainted when its text changes and never laid out again.

        Its size is fixed in app.tcss: a layout pass of the whole screen (~150
        widgets) for every batch event was most of the app's time while a run
        streamed, and it delayed the answer to keys (docs/live.md).
        """
        line, shown = self._lines.get(line_id) or (self.query_one(f"#{line_id}", Static), None)
        if text != shown:
            line.update(text, layout=False)
            self._lines[line_id] = (line, text)
