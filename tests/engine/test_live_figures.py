"""The training process's own figures (SystemSampled) and kvt-train's lines with and without a terminal."""

from __future__ import annotations

import io
import time

from kvt_models.cli.printers import ComparePrinter, ConsolePrinter
from kvt_models.events import (
    BatchEnded,
    EpochEnded,
    QueueProgress,
    StageChanged,
    SystemSampled,
    TrainEnded,
    TrainFailed,
    TrainStarted,
)
from kvt_models.sizefmt import format_bytes
from kvt_models.train.monitor import SystemMonitor

GB = 1_000_000_000


def test_the_monitor_measures_this_process_busy_and_its_memory() -> None:
    monitor = SystemMonitor(interval=0.2)
    assert not monitor.due()
    wall, cpu = time.monotonic(), time.process_time()
    while time.monotonic() < wall + 0.3:  # busy on one core, as much as a loaded box gives it
        pass
    assert monitor.due()
    sample = monitor.sample()
    busy = (time.process_time() - cpu) / (time.monotonic() - wall)  # this process's own count of the same
    assert 0.05 < sample.cpu_cores <= sample.cpu_count and abs(sample.cpu_cores - busy) < 0.15
    assert sample.cpu_percent == 100 * sample.cpu_cores / sample.cpu_count
    assert 0 <= sample.machine_cpu_percent <= 100
    assert 10e6 < sample.rss <= sample.peak_rss and 0 < sample.available < sample.total_memory
    assert sample.pid > 0 and sample.host


def test_memory_reads_the_same_in_the_cli_and_the_app() -> None:
    assert [format_bytes(b) for b in (0, -1, float("nan"), 812e6, 999e6, 1.1e9, 12.34e9)] == [
        "0 MB", "0 MB", "0 MB", "812 MB", "999 MB", "1.10 GB", "12.3 GB"]


# -- kvt-train's lines --------------------------------------------------------------------------
def sample(cores: float = 1.4) -> SystemSampled:
    return SystemSampled(cpu_cores=cores, cpu_count=2, machine_cpu_percent=96.0, rss=812_000_000,
                         peak_rss=1_100_000_000, available=3_200_000_000, total_memory=8 * GB, epoch_cpu_cores=1.3)


def run_events() -> list:
    """A run's events as a training sends them, figures among them."""
    events = [
        StageChanged("starting", "Keras 3 on TensorFlow"),
        StageChanged("loading data", "sample"),
        TrainStarted(run_id="r1", run_dir="/tmp/runs/r1", framework="keras", activation="relu", epochs=2,
                     steps_per_epoch=4, batch_size=32, train_samples=128, test_samples=50, params=2171178,
                     class_names=["a", "b"], runtime="Keras 3.15.1 on TensorFlow 2.21.0"),
    ]
    for epoch in (1, 2):
        for step in (1, 2, 4):
            events.append(sample(1.0 + step / 10))
            events.append(BatchEnded(epoch=epoch, step=step, steps=4, logs={"loss": 2.0 / step, "accuracy": 0.1 * step},
                                     images_per_second=100.0 * step, epoch_elapsed=0.3 * step,
                                     recent_images_per_second=90.0 * step))
        events.append(sample())
        events.append(EpochEnded(epoch=epoch, epochs=2, loss=1.5, accuracy=0.3, val_loss=1.6, val_accuracy=0.25, lr=0.01,
                                 seconds=1.25, train_seconds=1.0))
    events += [StageChanged("saving", "plots and status"),
               TrainEnded(run_id="r1", run_dir="/tmp/runs/r1", status="finished", epochs_done=2),
               TrainFailed(message="boom", run_id="r2", run_dir="/tmp/runs/r2")]
    return events


EPOCH = "Epoch {}/2 - 1.2s - loss: 1.5000 - accuracy: 0.3000 - val_loss: 1.6000 - val_accuracy: 0.2500 - lr: 0.01"
# What kvt-train printed into a pipe before the figures existed (captured from the code of then): byte for byte.
PLAIN = ("[INFO] starting: Keras 3 on TensorFlow\n[INFO] loading data: sample\n"
         "[INFO] training keras + relu (Keras 3.15.1 on TensorFlow 2.21.0): 2,171,178 params, 128 train / 50 test "
         "images, 2 epochs x 4 steps of 32\n[INFO] run folder: /tmp/runs/r1\n"
         f"{EPOCH.format(1)}\n{EPOCH.format(2)}\n[INFO] saving: plots and status\n[INFO] finished after 2 epoch(s)\n")
PLAIN_QUEUE = ("[INFO] run 1/2: keras:relu seed 1: training\n[INFO] run folder: /tmp/runs/r1\n"
               f"{EPOCH.format(1)}\n{EPOCH.format(2)}\n[INFO] finished after 2 epoch(s)\n"
               "[WARN] this run did not finish: boom; the queue goes on\n"
               + "".join(f"[keras:relu seed 2] {line}\n" for line in (
                   "[INFO] run folder: /tmp/runs/r1", EPOCH.format(1), EPOCH.format(2), "[INFO] finished after 2 epoch(s)",
                   "[WARN] this run did not finish: boom; the queue goes on")))


def test_piped_lines_are_exactly_those_of_before_the_figures() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = ConsolePrinter(out, err)
    for event in run_events():
        printer(event)
    assert out.getvalue() == PLAIN and err.getvalue() == ""

    out = io.StringIO()
    queue = ComparePrinter(out, err)
    queue(QueueProgress(1, 2, "keras:relu", 1, False))
    for event in run_events():
        queue(event)
    parallel = queue.for_run("keras:relu seed 2")
    for event in run_events():
        parallel(event)
    assert out.getvalue() == PLAIN_QUEUE and err.getvalue() == ""


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_shows_the_figures_and_each_epoch_its_peak_and_mean_cpu(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    out = Tty()
    printer = ConsolePrinter(out, io.StringIO())
    for event in run_events():
        printer(event)
    text = out.getvalue()
    progress = text.split("Epoch 1/2 [")[-1]
    # The bar, then the figures on a second line, and the cursor back up to redraw both in place.
    assert "\n  cpu 1.4/2 cores 70%, machine 96% | mem 812 MB peak 1.10 GB free 3.20 GB | now 360 img/s\x1b[K\x1b[1A\r" in progress
    assert f"\r\x1b[J{EPOCH.format(1)} - peak mem: 1.10 GB - mean cpu: 1.3 of 2 cores (65%)\n" in text
    for line in text.replace("\r", "\n").split("\n"):
        if "img/s" in line:  # the live lines: none wraps
            assert len(line.replace("\x1b[K", "").replace("\x1b[1A", "")) < 120


def test_on_a_narrow_terminal_the_bar_gives_way_and_no_line_wraps(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = Tty()
    printer = ConsolePrinter(out, io.StringIO())
    printer.epochs = 30
    printer(sample())
    printer(BatchEnded(epoch=12, step=1234, steps=1563, logs={"loss": 1.0, "accuracy": 0.5}, images_per_second=1234.0,
                       epoch_elapsed=30.0))
    first, second = out.getvalue().lstrip("\r").split("\n")
    assert first.endswith("ETA 0:08\x1b[K") and len(first) - 3 <= 79
    assert second.startswith("  cpu 1.4/2") and len(second.split("\x1b[K")[0]) <= 79
