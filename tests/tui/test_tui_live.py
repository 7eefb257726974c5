"""The live view's system figures, and the bell: what the engine measures reaches the widgets; an end rings.

The engine here is a stand-in that sends the events a training sends, the
system figures among them, so each test takes a fraction of a second; the
real training process's figures are checked in tests/engine/test_monitor.py
and, through the app, in test_the_real_engine_s_figures_reach_the_live_view.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from runfactory import TRAINING_TIMEOUT, spying
from textual.widgets import Checkbox, Static
from tui_support import SIZE, ready, record_notifications

import kvt_tui.app
from kvt_models.events import BatchEnded, Event, SystemSampled, TrainEnded, TrainFailed, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_tui.app import KvtApp
from kvt_tui.cli import build_parser
from kvt_tui.widgets.system_panel import SystemPanel

GB = 1_000_000_000


def sample(cores: float, rss: int) -> SystemSampled:
    return SystemSampled(cpu_cores=cores, cpu_count=2, machine_cpu_percent=95.0, rss=rss, peak_rss=rss + 100_000_000,
                         available=3 * GB, total_memory=8 * GB, epoch_cpu_cores=1.2, host="box", pid=1234)


class ScriptedEngine:
    """Sends a run's events, figures included; holds after the first sample until ``go`` is set; ends ``end``."""

    def __init__(self, end: str = "finished") -> None:
        self.end = end
        self.go = threading.Event()
        self.sampled = threading.Event()

    def __call__(self, config: RunConfig, listener: Callable[[Event], None], *, stop: threading.Event,
                 runs_dir: Path, **_: Any) -> Any:
        run_dir = Path(runs_dir) / "scripted"
        listener(TrainStarted(run_dir.name, str(run_dir), "keras", "relu", 1, 10, 32, 320, 64, 1000, ["a", "b"]))
        listener(BatchEnded(1, 4, 10, {"loss": 1.0}, 640.0, 0.2, recent_images_per_second=700.0))
        listener(sample(1.4, 812_000_000))
        self.sampled.set()
        if not self.go.wait(TRAINING_TIMEOUT):
            raise AssertionError("the test never let the scripted run go on")
        listener(sample(1.8, 900_000_000))  # the figures change as the run goes
        if self.end == "failed":
            listener(TrainFailed("the training process was killed by SIGKILL (out of memory?)", run_dir.name, str(run_dir)))
            return None
        listener(TrainEnded(run_dir.name, str(run_dir), "finished", 1))
        return SimpleNamespace(status="finished", run_dir=run_dir)


class BellApp(KvtApp):
    """The app, counting its bells: App.bell is the public call that rings the terminal."""

    CSS_PATH = str(Path(kvt_tui.app.__file__).with_name("app.tcss"))  # a subclass reads it beside its own module
    bells = 0

    def bell(self) -> None:
        self.bells += 1
        super().bell()


def bell_app(tmp_path: Path, engine: Any, *, bell: bool = True) -> BellApp:
    return BellApp(RunConfig(data="sample"), tmp_path / "runs", train_fn=engine, bell=bell)


async def train_until_sampled(pilot: Any, engine: ScriptedEngine) -> None:
    """``t``, then wait until the scripted run has sent its first figures."""
    await pilot.press("t")
    assert await asyncio.to_thread(engine.sampled.wait, 30)


async def test_the_figures_reach_the_live_view_and_the_strip_and_change_then_the_end_rings(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    app = bell_app(tmp_path, engine)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        panel = app.screen.query_one("#system-panel", SystemPanel)
        strip = app.screen.query_one("#progress-system", Static)
        assert not panel.display and not strip.display  # nothing measured yet
        await train_until_sampled(pilot, engine)
        await pilot.pause()
        text = str(panel.render())
        assert "1.4 of 2 cores (70%)" in text and "machine 95%" in text and "others 0.5 cores" in text
        assert "812 MB, peak 912 MB" in text and "3.00 GB free of 8.00 GB" in text
        assert "700 img/s now, 640 mean" in text and "ETA" in text
        assert panel.display and strip.display
        assert "cpu 1.4/2 cores (70%)" in str(strip.render()) and "mem 812 MB" in str(strip.render())
        assert app.bells == 0
        engine.go.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "1.8 of 2 cores" in str(panel.render()) and "900 MB" in str(panel.render())
        assert "last sample" in str(panel.render())
        assert not strip.display  # the strip's figures go with the run
        assert app.bells == 1
        assert any(n.title == "Run finished" for n in notifications)


async def test_a_run_that_dies_rings_and_a_stop_asked_for_does_not(tmp_path: Path) -> None:
    dying = ScriptedEngine(end="failed")
    app = bell_app(tmp_path, dying)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await train_until_sampled(pilot, dying)
        dying.go.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.bells == 1
        # A run the user stops (s) ends as asked: no bell.
        stopped = ScriptedEngine()
        app.main_screen.runner.train_fn = stopped
        await train_until_sampled(pilot, stopped)
        await pilot.press("s")
        stopped.go.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.bells == 1


async def test_the_bell_setting_turns_off_the_bell_and_the_end_notice(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    app = bell_app(tmp_path, engine)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        box = app.screen.query_one("#bell", Checkbox)
        assert box.value
        box.focus()
        await pilot.press("space")  # the form's checkbox, by keyboard
        await pilot.pause()
        assert not box.value and not app.main_screen.runner.bell
        app.set_focus(None)
        await train_until_sampled(pilot, engine)
        engine.go.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.bells == 0 and not any(n.title == "Run finished" for n in notifications)


async def test_kvt_tui_bell_off_starts_with_the_setting_off(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--bell", "OFF"])
    app = bell_app(tmp_path, ScriptedEngine(), bell=args.bell == "on")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not app.screen.query_one("#bell", Checkbox).value and not app.main_screen.runner.bell


@pytest.mark.long  # a real training in this process: TensorFlow's import and a tiny run, 10-25 s on a loaded box
async def test_the_real_engine_s_figures_reach_the_live_view(tmp_path: Path) -> None:
    from kvt_models.train.training import train

    seen = threading.Event()
    app = bell_app(tmp_path, spying(train, SystemSampled, seen))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        form = app.main_screen.form
        for field, value in (("#epochs", "1"), ("#train-limit", "64"), ("#test-limit", "20")):
            form.query_one(field).value = value  # type: ignore[attr-defined]
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert seen.is_set()
        text = str(app.screen.query_one("#system-panel", SystemPanel).render())
        assert "cores" in text and "peak" in text and "free of" in text
        assert app.bells == 1
