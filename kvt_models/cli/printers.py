"""Events as the lines a 2018 Keras script would print, for one run and for a queue.

Output is plain and log-friendly: one line per epoch, then the classification
report and the paths written. A live progress line (with ``\\r``) is drawn
only when stdout is a terminal, so ``nohup kvt-train ... > train.log`` stays
free of control characters. On a terminal the progress line also shows the
training process's CPU and memory and the machine's (``SystemSampled``), and
each epoch's line its peak memory and mean CPU; in a pipe or a file the lines
are exactly those without them.
"""

from __future__ import annotations

import shutil
import sys
from typing import Callable, TextIO

from kvt_models.compare.sequential import look_summary
from kvt_models.events import (
    BatchEnded,
    EpochEnded,
    Event,
    LookTaken,
    QueueProgress,
    RunPlaced,
    StageChanged,
    SystemSampled,
    TrainEnded,
    TrainFailed,
    TrainStarted,
)
from kvt_models.sizefmt import format_bytes
from kvt_models.timefmt import epoch_seconds_left, format_duration


def say(stream: TextIO, text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): the run is on disk either way."""
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):
        pass



class ConsolePrinter:
    """Turns events into the lines a 2018 Keras script would print."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out = out
        self.err = err
        self.live = out.isatty()
        self.epochs = 0
        self._line_open = False
        self.gone = False
        self.system: SystemSampled | None = None  # the latest figures of the run training now

    def _system_line(self, event: BatchEnded) -> str:
        """The live display's second line: the training process's CPU and memory, the machine's, the current pace."""
        s = self.system
        if s is None:
            return ""
        pace = event.recent_images_per_second
        now = f" | now {pace:,.0f} img/s" if pace == pace else ""  # NaN: not known yet
        return (f"  cpu {s.cpu_cores:.1f}/{s.cpu_count} cores {s.cpu_percent:.0f}%, machine {s.machine_cpu_percent:.0f}%"
                f" | mem {format_bytes(s.rss)} peak {format_bytes(s.peak_rss)} free {format_bytes(s.available)}{now}")

    def _print(self, text: str) -> None:
        if self._line_open:
            self.out.write("\r\x1b[J")  # the live display, one or two lines, from the cursor down
            self._line_open = False
        print(text, file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        if self.gone:
            return
        try:
            self._show(event)
        except (OSError, ValueError):
            # The terminal went away (SSH dropped): keep training, stop printing.
            self.gone = True

    def _show(self, event: Event) -> None:
        if isinstance(event, StageChanged):
            self._print(f"[INFO] {event.stage}: {event.detail}" if event.detail else f"[INFO] {event.stage}")
        elif isinstance(event, TrainStarted):
            self.epochs = event.epochs
            self.system = None
            self._print(
                f"[INFO] training {event.framework} + {event.activation} ({event.runtime or 'Keras'}): {event.params:,} params, "
                f"{event.train_samples:,} train / {event.test_samples:,} test images, "
                f"{event.epochs} epoch{'s' if event.epochs != 1 else ''} x {event.steps_per_epoch} steps of {event.batch_size}"
            )
            self._print(f"[INFO] run folder: {event.run_dir}")
            if event.initial_epoch:
                self._print(f"[INFO] resuming after epoch {event.initial_epoch}")
        elif isinstance(event, SystemSampled):
            self.system = event  # shown with the next progress line and epoch line, on a terminal only
        elif isinstance(event, BatchEnded) and self.live:
            head = f"Epoch {event.epoch}/{self.epochs} ["
            tail = (
                f"] {event.step}/{event.steps} "
                f"loss {event.logs.get('loss', float('nan')):.4f} acc {event.logs.get('accuracy', float('nan')):.4f} "
                f"{event.images_per_second:,.0f} img/s ETA {format_duration(epoch_seconds_left(event))}"
            )
            # Each line fits the terminal (a line that wraps cannot be redrawn in place): the bar gives way first.
            columns = shutil.get_terminal_size().columns - 1
            width = max(8, min(24, columns - len(head) - len(tail) - 1))
            done = int(width * event.step / max(1, event.steps))
            bar = "=" * done + ">" + "." * (width - done)
            line = head + bar[:width] + tail
            text = f"\r{line[:columns]}\x1b[K"
            second = self._system_line(event)
            if second:
                # The figures on a line of their own below; the cursor goes back up to redraw both.
                text += f"\n{second[:columns]}\x1b[K\x1b[1A\r"
            self.out.write(text)
            self.out.flush()
            self._line_open = True
        elif isinstance(event, EpochEnded):
            system = self.system if self.live else None
            extra = "" if system is None else (
                f" - peak mem: {format_bytes(system.peak_rss)} - mean cpu: {system.epoch_cpu_cores:.1f} of "
                f"{system.cpu_count} cores ({100 * system.epoch_cpu_cores / max(1, system.cpu_count):.0f}%)")
            self._print(
                f"Epoch {event.epoch}/{event.epochs} - {event.seconds:.1f}s - loss: {event.loss:.4f} - "
                f"accuracy: {event.accuracy:.4f} - val_loss: {event.val_loss:.4f} - "
                f"val_accuracy: {event.val_accuracy:.4f} - lr: {event.lr:.6g}" + extra
            )
        elif isinstance(event, TrainEnded):
            self._print(f"[INFO] {event.status} after {event.epochs_done} epoch(s)")
        elif isinstance(event, TrainFailed):
            if self._line_open:
                self._print("")


def look_lines(event: LookTaken) -> list[str]:
    """A look of a ``--seeds auto`` queue, one line per pair: B - A, its two intervals against 0 and ±D, the state."""
    lines = []
    for a, b, look in event.pairs:
        head = f"[LOOK] {event.round} of at most {event.max_seeds} seeds: {b} - {a}"
        if look.seeds != event.round:  # decided at an earlier look: its numbers were printed then
            lines.append(f"{head}: {look.outcome} after {look.seeds} seeds")
            continue
        d = look.min_effect * 100
        lines.append(
            f"{head} = {look.diff * 100:+.2f} points; "
            f"{(1 - look.alpha) * 100:.4g}% CI [{look.ci_low * 100:+.2f}, {look.ci_high * 100:+.2f}] vs 0, "
            f"{(1 - 2 * look.alpha) * 100:.4g}% CI [{look.eq_low * 100:+.2f}, {look.eq_high * 100:+.2f}] vs ±{d:g}: "
            f"{look.outcome}"
        )
    if event.decided:
        lines.append(f"[LOOK] the queue stops: {look_summary(event)}")
    return lines


class ComparePrinter(ConsolePrinter):
    """Adds a line per queued run to the usual training lines."""

    prefix = ""

    def _print(self, text: str) -> None:
        super()._print(self.prefix + text if self.prefix else text)

    def for_run(self, label: str) -> Callable[[Event], None]:
        """The listener of one of several runs training at once: its lines start with ``[label]``.

        run_comparison calls it (and them) one event at a time. A live
        progress line cannot follow several runs, so batch ends are not shown, nor
        the system figures (whose run would they be?).
        """

        def listen(event: Event) -> None:
            if isinstance(event, (BatchEnded, SystemSampled)):
                return
            self.prefix = f"[{label}] "
            try:
                self(event)
            finally:
                self.prefix = ""

        return listen

    def _show(self, event: Event) -> None:
        if isinstance(event, QueueProgress):
            what = f"reusing finished run {event.run_dir}" if event.reused else "training"
            total = f"{event.total} at most" if event.at_most else str(event.total)
            self._print(f"[INFO] run {event.index}/{total}: {event.variant} seed {event.seed}: {what}")
        elif isinstance(event, LookTaken):
            for line in look_lines(event):
                self._print(line)
        elif isinstance(event, (StageChanged, TrainStarted)):
            if isinstance(event, TrainStarted):
                self.epochs, self.system = event.epochs, None
                self._print(f"[INFO] run folder: {event.run_dir}")
                if event.initial_epoch:
                    self._print(f"[INFO] resuming after epoch {event.initial_epoch}")
        elif isinstance(event, RunPlaced):
            retry = f" (retry {event.attempt - 1}: its last worker died)" if event.attempt > 1 else ""
            self._print(f"[INFO] on Ray node {event.node} ({event.node_id[:8]}), worker pid {event.pid}{retry}")
        elif isinstance(event, TrainFailed) and not event.user_error:
            # One run of the queue died or diverged; the queue goes on without it.
            super()._show(event)
            self._print(f"[WARN] this run did not finish: {event.message}; the queue goes on")
        else:
            super()._show(event)
