"""Pilot-driven tests of resume (runs view) and of comparisons (Compare tab, marked runs).

Trainings are tiny (the bundled sample cut to a few dozen images, one or two
epochs). The tests wait on workers, never on sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from runfactory import FakeEngine, InstantEngine, history_rows, write_run
from textual.widgets import DataTable, Static
from tui_support import SIZE, ready, record_notifications, type_into, wait_all

import kvt_models.compare.queue as compare_module
from kvt_models.events import EpochEnded, Event, QueueProgress
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import read_history, read_run
from kvt_tui.cli import create_app
from kvt_tui.screens.comparison import CompareScreen
from kvt_tui.screens.run import RunScreen
from kvt_tui.widgets.compare_view import CompareView, queue_text
from kvt_tui.widgets.history_view import HistoryView
from kvt_tui.widgets.metrics_table import MetricsTable
from kvt_tui.widgets.runs_view import RunsView

TINY = {"train_limit": 64, "test_limit": 40}


def make_stopped_run(runs_dir: Path) -> Path:
    """A real 2-epoch run stopped right after its first epoch: status stopped, 1/2 epochs, a checkpoint."""
    from kvt_models.train.training import train

    stop = threading.Event()

    def listener(event: Event) -> None:
        if isinstance(event, EpochEnded):
            stop.set()

    config = RunConfig(framework="keras", activation="relu", data="sample", epochs=2, seed=5, **TINY)
    result = train(config, listener, stop=stop, runs_dir=runs_dir)
    assert result.status == "stopped" and len(result.history) == 1
    return result.run_dir


def write_finished_run(runs_dir: Path, framework: str, activation: str, seed: int, accs: list[float],
                       *, epochs: int | None = None, status: str = "finished") -> Path:
    """A run folder made without training (config, status and history), by the run store's writer."""
    config = {"framework": framework, "activation": activation, "data": "sample", "recipe": "seed-2018",
              "epochs": epochs or len(accs), "batch_size": 32, "lr": 0.01, "seed": seed, **TINY}
    return write_run(runs_dir, config, history_rows(accs), status=status, created=f"2024-01-01T12:00:0{seed}",
                     class_names=["a", "b"], params=1000)


def flat(text: str) -> str:
    """Screen text with every run of whitespace (line ends and padding included) as one space."""
    return " ".join(text.split())


# -- resume ------------------------------------------------------------------------
@pytest.mark.long
async def test_resume_a_stopped_run_from_the_runs_view(tmp_path: Path, screen_text: Callable[[Any], str]) -> None:
    runs_dir = tmp_path / "runs"
    run = make_stopped_run(runs_dir)
    assert read_run(run).status == "stopped"

    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main_screen
        await pilot.press("r")
        await pilot.pause()
        view = app.query_one(RunsView)
        assert [(info.path, info.status, info.epochs_done) for info in view.runs] == [(run, "stopped", 1)]
        assert "c Resume" in screen_text(app).splitlines()[-1]

        await pilot.press("c")
        assert main.runner.training
        await wait_all(pilot)
        assert not main.runner.training

        history = read_history(run)
        assert [row["epoch"] for row in history] == [1, 2]
        assert read_run(run).status == "finished"
        # The live table and curves show the earlier epoch (prefilled from history.csv) and the new one.
        assert [row["epoch"] for row in app.query_one(HistoryView).history] == [1, 2]
        assert [row["epoch"] for row in app.query_one(MetricsTable).history] == [1, 2]
        assert app.query_one(MetricsTable).row_count == 2
        assert main.runner.current_run == run

        # A finished run has nothing to resume: c is dimmed, and does nothing.
        await pilot.press("r")
        await pilot.pause()
        assert app.query_one(RunsView).check_action("resume", ()) is None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)
        assert app.screen.check_action("resume", ()) is False


async def test_c_on_a_reopened_run_resumes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kvt_models.train.isolated as isolated_module

    runs_dir = tmp_path / "runs"
    run = write_finished_run(runs_dir, "keras", "relu", 1, [0.3], epochs=2, status="stopped")
    engine = FakeEngine(hold=False)
    # The app resumes with isolated.resume_isolated (a child process): the stand-in takes its place.
    monkeypatch.setattr(isolated_module, "resume_isolated", engine.resume)
    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen) and app.screen.check_action("resume", ()) is True
        await pilot.press("c")  # the run screen closes, and the main screen resumes the run
        await wait_all(pilot)
        assert app.screen is app.main_screen and not app.main_screen.runner.training
        assert engine.resumed == [run]
        assert app.main_screen.runner.current_run == engine.run_dirs[0]


async def test_resume_of_a_broken_run_is_a_notification(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    # Stopped after 2 of 3 epochs, but it has no checkpoint: the engine refuses, the app stays up.
    run = write_finished_run(runs_dir, "keras", "relu", 1, [0.3, 0.4], epochs=3, status="stopped")

    app = create_app(data="sample", runs_dir=runs_dir)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("c")
        await wait_all(pilot)
        assert app.is_running and not app.main_screen.runner.training
        errors = [n for n in notifications if n.severity == "error"]
        assert len(errors) == 1 and "model.keras is missing" in errors[0].message
        assert [row["epoch"] for row in read_history(run)] == [1, 2]  # untouched


DAMAGED = {
    "history.csv": (lambda run: (run / "history.csv").write_text((run / "history.csv").read_text() + "2,not,a,row\n"),
                    "history.csv is damaged (line 3 is not an epoch's row)", "start a new run"),
    "model.keras": (lambda run: (run / "model.keras").write_bytes(b"PK\x03\x04 cut short"),
                    "model.keras is damaged (truncated, or not a Keras model file)", "start a new run"),
    "status.json": (lambda run: (run / "status.json").write_text('{"status": "stop'),
                    "status.json is damaged (not JSON)", "delete it"),
}


@pytest.mark.parametrize("name", list(DAMAGED))
async def test_a_run_with_a_damaged_file_reads_damaged_and_c_says_what_to_do(tmp_path: Path, name: str) -> None:
    """No child process, no change on disk: the runs view names the file and what to do, and c says it again."""
    runs_dir = tmp_path / "runs"
    run = write_finished_run(runs_dir, "keras", "relu", 1, [0.3], epochs=3, status="stopped")
    spoil, expected, fix = DAMAGED[name]
    spoil(run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    engine = FakeEngine()

    app = create_app(data="sample", runs_dir=runs_dir, train_fn=engine)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        view = app.main_screen.query_one(RunsView)
        assert str(view.table.get_row_at(0)[1]) == "damaged"
        summary = str(view.query_one("#runs-summary", Static).render())
        assert f"{run.name}: {expected}" in summary
        await pilot.press("c")
        await wait_all(pilot)
        [error] = [n for n in notifications if n.severity == "error"]
        assert expected in error.message and fix in error.message
        assert engine.resumed == [] and not app.main_screen.runner.training
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


# -- compare ------------------------------------------------------------------------
@pytest.fixture
def queue_events(monkeypatch: pytest.MonkeyPatch) -> list[QueueProgress]:
    """Every QueueProgress the app's comparison worker hears (the real engine underneath)."""
    seen: list[QueueProgress] = []
    real = compare_module.run_comparison

    def spying(variants: Any, seeds: Any, base: Any, listener: Callable[[Event], None], **kwargs: Any) -> Any:
        def spy(event: Event) -> None:
            if isinstance(event, QueueProgress):
                seen.append(event)
            listener(event)

        return real(variants, seeds, base, spy, **kwargs)

    monkeypatch.setattr(compare_module, "run_comparison", spying)
    return seen


async def test_compare_two_variants_two_seeds_then_reuse(
    tmp_path: Path, queue_events: list[QueueProgress], screen_text: Callable[[Any], str]
) -> None:
    runs_dir = tmp_path / "runs"
    # The subject is the Compare tab (queue, results, reuse), not training: the
    # runs are written at once (real queues train in test_compare.py, and in
    # child processes in test_isolated.py; the app's child-process default is
    # checked in test_s_stops_a_comparison_queue).
    engine = InstantEngine()
    app = create_app(data="sample", runs_dir=runs_dir, epochs=1, train_fn=engine, **TINY)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        main = app.main_screen
        await pilot.press("v")
        await pilot.pause()
        assert app.query_one("#views").active == "compare"
        view = app.query_one(CompareView)
        assert [v.name for v in view.variants()] == ["keras:relu", "tensorflow:crelu"]
        assert "g Run queue" in screen_text(app).splitlines()[-1]

        # A bad seeds value: explained under the field, and g refuses.
        await type_into(pilot, "compare-seeds", "0")
        error = app.query_one("#compare-seeds-error", Static)
        assert error.display and "seeds must be a count from 1 to 100 (seeds 1..K)" in str(error.render())
        await pilot.press("escape", "g")
        await pilot.pause()
        assert not main.runner.training
        assert any(n.severity == "error" and "seeds" in n.message for n in notifications)
        # A list, as kvt-train compare --seeds takes it: those seeds, in that order.
        await type_into(pilot, "compare-seeds", "9,5,1")
        assert not error.display and view.choice()[1] == [9, 5, 1]

        await type_into(pilot, "compare-seeds", "2")
        assert not error.display
        await pilot.press("escape", "g")
        # The stand-in engine finishes the queue at once, so the queue may be
        # over before the key press returns: wait for it, then check its work.
        await wait_all(pilot)
        assert not main.runner.training

        assert [(e.index, e.total, e.variant, e.seed, e.reused) for e in queue_events] == [
            (1, 4, "keras:relu", 1, False), (2, 4, "keras:relu", 2, False),
            (3, 4, "tensorflow:crelu", 1, False), (4, 4, "tensorflow:crelu", 2, False),
        ]
        assert len(engine.calls) == 4
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        stats = screen.query_one("#compare-stats", DataTable)
        rows = [[str(c) for c in stats.get_row_at(i)] for i in range(stats.row_count)]
        assert [(r[0], r[1]) for r in rows] == [("keras:relu", "2"), ("tensorflow:crelu", "2")]
        assert all("±" in r[2] for r in rows)
        assert screen.query_one("#compare-pairs", DataTable).row_count == 1
        verdict = screen.comparison.verdict
        assert verdict and verdict[:40] in flat(screen_text(app))
        folder = main.runner.last_comparison_folder
        assert folder is not None and (folder / "comparison.json").is_file() and (folder / "overlay.png").is_file()
        assert any(str(folder) in n.message for n in notifications)

        # Again, same settings: all four runs are reused, nothing trains.
        queue_events.clear()
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one("#views").active == "compare"
        await pilot.press("g")
        await wait_all(pilot)
        assert [e.reused for e in queue_events] == [True] * 4
        assert len(engine.calls) == 4  # nothing trained again
        assert isinstance(app.screen, CompareScreen)
        assert len([p for p in runs_dir.iterdir() if p.is_dir() and p.name != "comparisons"]) == 4
        assert "0 trained, 4 reused" in str(app.query_one("#compare-status", Static).render())
        assert "0 trained, 4 reused" in str(app.query_one("#progress-status", Static).render())
        assert queue_text(queue_events[-1]) == "run 4 of 4: tensorflow:crelu seed 2 (reused)"


async def test_compare_marked_runs_from_the_runs_view(tmp_path: Path, screen_text: Callable[[Any], str]) -> None:
    runs_dir = tmp_path / "runs"
    relu = write_finished_run(runs_dir, "keras", "relu", 1, [0.30, 0.42])
    crelu = write_finished_run(runs_dir, "tensorflow", "crelu", 2, [0.32, 0.45])
    other = write_finished_run(runs_dir, "keras", "elu", 3, [0.2, 0.25])

    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        view = app.query_one(RunsView)
        assert [info.path for info in view.runs] == [other, crelu, relu]  # newest first
        assert view.check_action("compare_marked", ()) is None  # nothing marked yet

        await pilot.press("down", "space", "down", "space")
        await pilot.pause()
        assert view.marked == {crelu, relu}
        assert "2 marked" in screen_text(app)
        await pilot.press("x")
        await wait_all(pilot)

        screen = app.screen
        assert isinstance(screen, CompareScreen)
        stats = screen.query_one("#compare-stats", DataTable)
        rows = [[str(c) for c in stats.get_row_at(i)] for i in range(stats.row_count)]
        assert [(r[0], r[1], r[2]) for r in rows] == [
            ("keras:relu", "1", "42.00 ± n/a"), ("tensorflow:crelu", "1", "45.00 ± n/a"),
        ]
        assert "one seed each" in screen.comparison.verdict
        assert "one seed each" in flat(screen_text(app))
        folder = app.main_screen.runner.last_comparison_folder
        assert folder is not None and (folder / "comparison.json").is_file()


async def test_s_stops_a_comparison_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_engine: FakeEngine) -> None:
    import kvt_models.train.isolated as isolated_module

    runs_dir = tmp_path / "runs"
    # Left alone, the app trains each queued run with isolated.train_isolated (a
    # child process per run): the stand-in takes its place, so this also checks that.
    monkeypatch.setattr(isolated_module, "train_isolated", fake_engine)
    app = create_app(data="sample", runs_dir=runs_dir, epochs=1, **TINY)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        main = app.main_screen
        await pilot.press("v", "g")
        assert await asyncio.to_thread(fake_engine.started.wait, 60)
        await pilot.pause()
        assert main.runner.training and main.runner.comparing
        assert "run 1 of 6: keras:relu seed 1" in str(app.query_one("#compare-status", Static).render())
        await pilot.press("s")
        await wait_all(pilot)
        assert not main.runner.training and app.is_running
        assert [config.seed for config in fake_engine.calls] == [1]  # the queue went no further than the run it was in
        assert "comparison stopped" in str(app.query_one("#compare-status", Static).render())
        assert any(n.title == "Comparison stopped" for n in notifications)
        assert not isinstance(app.screen, CompareScreen)


async def test_t_pressed_at_start_up_trains_once_and_the_workers_cover_it(tmp_path: Path) -> None:
    """bench/endurance.py presses t at once and then waits for the workers: that must be one whole run."""
    engine = FakeEngine(hold=False)
    app = create_app(data="sample", runs_dir=tmp_path / "runs", epochs=1, train_limit=200, test_limit=100, train_fn=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")  # no wait for the UI: it may not be mounted yet
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(engine.calls) == 1 and not app.main_screen.runner.training
        assert (engine.calls[0].epochs, engine.calls[0].train_limit, engine.calls[0].test_limit) == (1, 200, 100)
