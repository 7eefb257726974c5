"""How fast the app answers a key while a run streams its events: key to the screen's next refresh.

    python bench/ui_latency.py                  # 3 minutes of replay, at least 240 keys
    python bench/ui_latency.py --minutes 30     # the long replay: does the app's RSS stay flat?

The app runs headless through Textual's Pilot, as in the tests, on a
comparison queue (keras:relu and tensorflow:crelu, 3 seeds) whose runs are
replayed at the real rate by a stand-in engine: a BatchEnded at the app's
throttle (every 0.2 s), a SystemSampled every second, an EpochEnded every
``--epoch-seconds`` with its history row written by the real run store, and a
finished run folder at the end (so the runs view has real runs to open). The
epochs per run are set so that the queue lasts the whole replay.

Keys go at an even pace over the replay, each one that changes the screen:
the tab keys (1, 2, 4, 5), the metrics table scrolled (down / up), the
runs view's table scrolled and a run opened (Enter) and closed (Escape). A
key's time is from just before Pilot sends it to the end of the first screen
update that shows its effect (the tab active, the cursor moved, the run
screen up), taken in the app's ``_display`` (where Textual writes a frame to
the terminal; headless, the frame is still rendered to terminal sequences
here, as a terminal would be sent them). Prints each round's median, then
p50, p95 and max over all keys, the app's RSS before, during and after the
replay, and last ``p95 N ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import kvt_tui.app
from kvt_models.events import BatchEnded, EpochEnded, SystemSampled, TrainEnded, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import RunStore
from kvt_models.variants import Variant
from kvt_tui.app import KvtApp

STEPS = 157  # the bundled sample's 5,000 training images at batch 32
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


class ReplayEngine:
    """Stands in for train_isolated: a run's events at the real rate, its folder written by the run store."""

    def __init__(self, epoch_seconds: float) -> None:
        self.epoch_seconds = epoch_seconds
        self.runs = 0

    def __call__(self, config: RunConfig, listener: Callable[[Any], None], *, stop: threading.Event,
                 runs_dir: Path, batch_interval: float = 0.2, **_: Any) -> Any:
        cfg = config.resolved()
        self.runs += 1
        record = {"config": cfg.to_dict(), "class_names": CLASSES, "params": 2_171_178, "train_samples": 5000,
                  "test_samples": 1000, "data_source": "bundled sample"}
        recorder = RunStore(runs_dir).create(record, f"{cfg.framework}-{cfg.activation}")
        run_id, run_dir = recorder.run_id, str(recorder.path)
        try:
            listener(TrainStarted(run_id, run_dir, cfg.framework, cfg.activation, cfg.epochs, STEPS, 32, 5000, 1000,
                                  2_171_178, CLASSES, runtime="Keras 3.15.1 on TensorFlow 2.21.0 (replayed)"))
            done = 0
            for epoch in range(1, cfg.epochs + 1):
                if not self._epoch(epoch, listener, stop, batch_interval):
                    break
                acc = 0.3 + 0.5 * (1 - math.exp(-epoch / 8)) + 0.002 * cfg.seed
                row = EpochEnded(epoch, cfg.epochs, 2.0 - acc, acc, 2.1 - acc, acc - 0.02, 0.01 * 0.97**epoch,
                                 self.epoch_seconds, self.epoch_seconds * 0.9)
                recorder.append_history(row.as_row())
                listener(row)
                done = epoch
            status = "finished" if done == cfg.epochs else "stopped"
            confusion = [[10 if i == j else 1 for j in range(10)] for i in range(10)]
            report = {name: {"precision": 0.8, "recall": 0.8, "f1-score": 0.8, "support": 19.0} for name in CLASSES}
            report["accuracy"] = 0.75 + 0.002 * cfg.seed
            recorder.write_report(report, confusion, CLASSES, epoch=done)
            recorder.set_status(status)
            listener(TrainEnded(run_id, run_dir, status, done, report, confusion, CLASSES))
        finally:
            recorder.close()
        return SimpleNamespace(status=status, run_dir=recorder.path, message="")

    def _epoch(self, epoch: int, listener: Callable[[Any], None], stop: threading.Event, interval: float) -> bool:
        start = time.perf_counter()
        next_sample = start
        while True:
            elapsed = time.perf_counter() - start
            step = min(STEPS, max(1, int(STEPS * elapsed / self.epoch_seconds)))
            if time.perf_counter() >= next_sample:
                next_sample += 1.0
                listener(SystemSampled(cpu_cores=1.4, cpu_count=2, machine_cpu_percent=97.0, rss=812_000_000 + step,
                                       peak_rss=1_100_000_000, available=3_200_000_000, total_memory=8_000_000_000,
                                       epoch_cpu_cores=1.3, host="replay", pid=1))
            listener(BatchEnded(epoch, step, STEPS, {"loss": 1.5, "accuracy": 0.45}, step * 32 / max(elapsed, 1e-3),
                                elapsed, recent_images_per_second=700.0))
            if step == STEPS:
                return True
            if stop.wait(interval):
                return False


class TimedApp(KvtApp):
    """The app, timing its frames: a key's wait ends at the first frame that shows what it should."""

    CSS_PATH = str(Path(kvt_tui.app.__file__).with_name("app.tcss"))  # a subclass reads it beside its own module

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shows: Callable[[], bool] | None = None
        self.shown_at = self.shown_cpu = 0.0
        self.shown = asyncio.Event()
        self.frames = 0

    def _display(self, screen: Any, renderable: Any) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:
            return  # nothing drawn
        if self.is_headless and hasattr(renderable, "render_segments"):
            renderable.render_segments(self.console)  # what a terminal would be sent, as _display does on one
        self.frames += 1
        if self.shows is not None and self.shows():
            self.shows, self.shown_at, self.shown_cpu = None, time.perf_counter(), time.thread_time()
            self.shown.set()


TAB_KEYS = {"1": "live", "2": "report", "4": "runs", "5": "compare"}


def plan_key(app: TimedApp, index: int) -> tuple[str, Callable[[], bool], Callable[[], None]]:
    """The next key, what its effect looks like, and what to do (untimed) before it; never a key that changes nothing."""
    from textual.widgets import DataTable

    main = app.main_screen

    def nothing() -> None:
        return None

    if app.screen is not main:  # a run (or the comparison) opened: back
        return "escape", lambda: app.screen is main, nothing
    tabs = main.views

    def switch(preferred: str) -> tuple[str, Callable[[], bool], Callable[[], None]]:
        keys = [preferred, *TAB_KEYS]
        key = next(k for k in keys if TAB_KEYS[k] != tabs.active)
        return key, lambda: tabs.active == TAB_KEYS[key], nothing

    def scroll(table_id: str, tab: str, otherwise: str) -> tuple[str, Callable[[], bool], Callable[[], None]]:
        table = main.query_one(table_id, DataTable)
        if tabs.active != tab or table.row_count < 2:
            return switch(otherwise)
        row = table.cursor_row
        target = row + 1 if row < table.row_count - 1 else row - 1
        return ("down" if target > row else "up"), lambda: table.cursor_row == target, table.focus

    step = index % 7
    if step == 1:
        return scroll("#metrics", "live", "2")  # the metrics table, one row down or up
    if step == 4:
        return scroll("#runs-table", "runs", "5")
    if step == 5:
        runs = main.query_one("#runs-table", DataTable)
        if tabs.active == "runs" and runs.row_count:
            return "enter", lambda: app.screen is not main, runs.focus  # open the highlighted run
        return switch("1")
    return switch({0: "1", 2: "2", 3: "4", 6: "5"}[step])


async def replay(minutes: float, keys: int, epoch_seconds: float, size: tuple[int, int]) -> None:
    from kvt_tui.widgets.compare_view import CompareChoice

    duration = minutes * 60
    engine = ReplayEngine(epoch_seconds)
    variants, seeds = [Variant("keras", "relu"), Variant("tensorflow", "crelu")], [1, 2, 3]
    epochs = max(1, math.ceil(duration / (len(variants) * len(seeds) * epoch_seconds)))
    with tempfile.TemporaryDirectory() as tmp:
        app = TimedApp(RunConfig(data="sample", epochs=epochs), Path(tmp) / "runs", train_fn=engine, idle_gc=True)
        async with app.run_test(size=size) as pilot:
            await app.main_screen.ui_ready.wait()
            await pilot.pause()
            rss_idle = rss_mb()
            base = app.main_screen.form.build_config()
            app.main_screen.runner.start_comparison(CompareChoice(variants, seeds, None, 1.0), base)
            started = time.perf_counter()
            print(f"replaying {minutes:g} min: {len(variants) * len(seeds)} runs x {epochs} epochs of {epoch_seconds:g} s, "
                  f"{keys} keys at one per {duration / keys:.2f} s, screen {size[0]}x{size[1]}", flush=True)
            times: list[float] = []
            timeouts = 0
            missed: list[str] = []
            by_key: dict[str, list[float]] = {}
            cpu_times: list[float] = []
            queue_over: float | None = None
            rss_samples: list[tuple[float, float]] = []
            round_size = max(20, keys // 10)
            for index in range(keys):
                due = started + duration * index / keys
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                key, shows, before = plan_key(app, index)
                before()
                await pilot.pause()
                app.shown.clear()
                app.shows = shows
                sent, sent_cpu = time.perf_counter(), time.thread_time()
                await pilot.press(key)
                try:
                    await asyncio.wait_for(app.shown.wait(), timeout=5.0)
                    times.append((app.shown_at - sent) * 1000)
                    # The UI thread's own CPU in that time (the app, Pilot and this loop share it): what the key
                    # costs whatever else the machine runs, a floor of its latency on an idle core.
                    cpu_times.append((app.shown_cpu - sent_cpu) * 1000)
                    by_key.setdefault(key, []).append(times[-1])
                except TimeoutError:
                    app.shows = None
                    timeouts += 1
                    times.append(5000.0)
                    missed.append(f"{key} on {type(app.screen).__name__}/{app.main_screen.views.active}")
                if not app.main_screen.runner.training and queue_over is None:
                    queue_over = rss_samples[-1][1] if rss_samples else math.nan  # RSS before its files were written
                if (index + 1) % round_size == 0:
                    rss_samples.append((time.perf_counter() - started, rss_mb()))
                    recent = times[-round_size:]
                    print(f"  keys {index + 1 - round_size + 1:4d}-{index + 1:4d} at {rss_samples[-1][0]:6.0f} s: "
                          f"median {statistics.median(recent):6.1f} ms, max {max(recent):7.1f} ms, "
                          f"RSS {rss_samples[-1][1]:.1f} MB", flush=True)
            await asyncio.sleep(max(0.0, started + duration - time.perf_counter()))
            rss_end = rss_mb()
            panel = str(app.main_screen.query_one("#system-panel").render())
            app.main_screen.runner.stop()
            await app.workers.wait_for_complete()
            await pilot.pause()
    for key, spent in sorted(by_key.items()):
        spent.sort()
        print(f"  {key:>6}: {len(spent):3d} keys, median {statistics.median(spent):6.1f} ms, "
              f"p95 {spent[min(len(spent) - 1, math.ceil(0.95 * len(spent)) - 1)]:6.1f} ms, max {spent[-1]:6.1f} ms")
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    warm = rss_samples[0][1] if rss_samples else math.nan
    print(f"{len(times)} keys over {minutes:g} min ({timeouts} without a frame showing them within 5 s), "
          f"{app.frames} frames, {engine.runs} runs replayed")
    if missed:
        print(f"keys whose effect no frame showed: {', '.join(missed[:12])}")
    print(f"the live view showed: {panel.splitlines()[0] if panel else '(nothing)'}")
    cpu_times.sort()
    print(f"key to screen: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")
    if cpu_times:
        print(f"UI thread's CPU from key to screen: p50 {statistics.median(cpu_times):.1f} ms, "
              f"p95 {cpu_times[min(len(cpu_times) - 1, math.ceil(0.95 * len(cpu_times)) - 1)]:.1f} ms, "
              f"max {cpu_times[-1]:.1f} ms (load average {os.getloadavg()[0]:.1f})")
    before_end = f", {queue_over:.1f} MB at the last round before the queue ended" if queue_over is not None else ""
    print(f"app RSS: {rss_idle:.1f} MB idle, {warm:.1f} MB after the first round of keys{before_end}, "
          f"{rss_end:.1f} MB after the replay ({rss_end - warm:+.1f} MB since the first round"
          f"{'; the queue ended first, and its comparison files were drawn in the app (matplotlib)' if queue_over is not None else ''})")
    print(f"p95 {p95:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="length of the replay (default 3; the issue asks for 30)")
    p.add_argument("--keys", type=int, default=240, help="keys pressed over the replay, at an even pace (at least 200)")
    p.add_argument("--epoch-seconds", type=float, default=10.0,
                   help="one replayed epoch (default 10 s, about the bundled sample's epoch on a 2-core box)")
    p.add_argument("--size", default="100x30", help="the terminal, COLSxROWS (default 100x30)")
    args = p.parse_args()
    cols, rows = (int(part) for part in args.size.lower().split("x"))
    asyncio.run(replay(args.minutes, max(200, args.keys), args.epoch_seconds, (cols, rows)))


if __name__ == "__main__":
    main()
