"""The live view's system figures: the training process's CPU and memory, the machine's, and the pace.

The figures are the engine's own (:class:`~kvt_models.events.SystemSampled`,
measured by the training process, about once a second, relayed like every
other event): the app never reads ``/proc``. Hidden until a run sends its
first sample; after the run it keeps the last one, marked as such.
"""

from __future__ import annotations

from textual.widgets import Static

from kvt_models.events import BatchEnded, SystemSampled
from kvt_models.sizefmt import format_bytes
from kvt_models.timefmt import epoch_seconds_left, format_duration

# Cores the other processes keep busy beyond which the panel says another job competes: a shell, an
# SSH session and the app itself stay well under half a core.
COMPETING_CORES = 0.5


def system_lines(sample: SystemSampled, batch: BatchEnded | None) -> list[str]:
    """The panel's three lines (CPU, memory, pace), short enough for the tabs of an 80-column screen."""
    others = max(0.0, sample.machine_cpu_percent / 100 * sample.cpu_count - sample.cpu_cores)
    competing = f", others {others:.1f} cores" if others >= COMPETING_CORES else ""
    lines = [
        f"CPU    {sample.cpu_cores:.1f} of {sample.cpu_count} cores ({sample.cpu_percent:.0f}%) · "
        f"machine {sample.machine_cpu_percent:.0f}%{competing}",
        f"memory {format_bytes(sample.rss)}, peak {format_bytes(sample.peak_rss)} · "
        f"{format_bytes(sample.available)} free of {format_bytes(sample.total_memory)}",
    ]
    if batch is not None:
        pace = batch.recent_images_per_second
        now = f"{pace:,.0f} img/s now, " if pace == pace else ""  # NaN: not known yet
        lines.append(f"speed  {now}{batch.images_per_second:,.0f} mean · ETA {format_duration(epoch_seconds_left(batch))}")
    return lines


class SystemPanel(Static):
    """CPU, memory and pace of the run that trains now (or of the last one, after it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.last_sample: SystemSampled | None = None
        self.last_batch: BatchEnded | None = None
        self._text = ""
        self.display = False  # until the first sample

    def reset(self) -> None:
        """A new run: nothing measured yet."""
        self.last_sample = self.last_batch = None
        self.display = False

    def system_sampled(self, sample: SystemSampled) -> None:
        self.last_sample = sample
        self.display = True
        self._show()

    def batch_ended(self, batch: BatchEnded) -> None:
        self.last_batch = batch
        if self.last_sample is not None:
            self._show()

    def ended(self) -> None:
        """The run is over: keep its last figures, saying so."""
        if self.last_sample is not None:
            self._show(" (last sample of the run)")

    def _show(self, note: str = "") -> None:
        assert self.last_sample is not None
        lines = system_lines(self.last_sample, self.last_batch)
        lines[0] += note
        text = "\n".join(lines)
        if text != self._text:
            # Its height is fixed (app.tcss): repaint only, no layout pass of the whole screen.
            self._text = text
            self.update(text, layout=False)
