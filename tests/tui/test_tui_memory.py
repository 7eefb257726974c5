"""The app keeps no dead widget alive, and its full garbage collections wait for a gap between keys.

A user over SSH opens runs, switches tabs and closes runs for hours; each
of those used to leave widgets (and all the lines they had drawn) behind
(kvt_tui/textual_leaks.py, docs/live.md).
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from runfactory import history_rows, write_run
from textual.geometry import Size
from textual.widget import Widget
from tui_support import SIZE, ready

from kvt_tui.cli import create_app
from kvt_tui.heap import IdleCollector
from kvt_tui.screens.run import RunScreen
from kvt_tui.textual_leaks import install
from kvt_tui.widgets.curves import Curves
from kvt_tui.widgets.header import KvtHeader
from kvt_tui.widgets.table import KvtTable


def _run(runs_dir: Path, activation: str, seed: int, accs: list[float]) -> Path:
    config = {"framework": "keras", "activation": activation, "data": "sample", "recipe": "seed-2018",
              "epochs": len(accs), "batch_size": 32, "lr": 0.01, "seed": seed, "train_limit": 64, "test_limit": 40}
    return write_run(runs_dir, config, history_rows(accs), created=f"2024-01-01T12:00:0{seed}",
                     class_names=["a", "b"], params=1000, train_samples=64)


def detached_widgets() -> dict[str, int]:
    gc.collect()
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        if isinstance(obj, Widget) and not obj.is_attached:
            counts[type(obj).__name__] = counts.get(type(obj).__name__, 0) + 1
    return counts


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
async def test_runs_opened_and_closed_and_tabs_switched_leave_no_widget_behind(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    _run(runs_dir, "relu", 1, [0.30, 0.42])
    _run(runs_dir, "elu", 2, [0.20, 0.25, 0.31])
    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        table = app.query_one("#runs-table")
        table.focus()
        screens, titles = set(), []
        before = None
        for round_ in range(4):
            await pilot.press("down" if round_ % 2 == 0 else "up")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen)
            screens.add(id(app.screen))
            titles.append((str(app.screen.query_one("#run-title").render()), len(app.screen.query_one(Curves).history)))
            await pilot.press("escape")
            await pilot.pause()
            for key in ("1", "2", "5", "4"):  # each tab has its own keys: the footer rebuilds its keys
                await pilot.press(key)
                await pilot.pause()
            table.focus()
            await pilot.pause()
            if round_ == 1:
                before = detached_widgets()
        after = detached_widgets()
    # One screen, refilled for each run: the other run's title and history each time.
    assert len(screens) == 1
    assert {count for _, count in titles} == {2, 3}
    assert all(("relu" in title) == (count == 2) for title, count in titles)
    # Two more opens and eight more tab switches: not one widget more left behind.
    assert before is not None
    # (Counts, not zeros: other tests' apps in this process may have left widgets of their own.)
    for kind in ("FooterKey", "KvtHeader", "HeaderTitle", "Curves"):
        assert after.get(kind, 0) <= before.get(kind, 0), (kind, before, after)
    assert sum(after.values()) <= sum(before.values()), (before, after)


async def test_a_closed_screens_header_takes_its_watchers_off_the_app(tmp_path: Path) -> None:
    from textual.screen import Screen

    class Titled(Screen[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield KvtHeader()

    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = Titled()
        await app.push_screen(screen)
        await pilot.pause()
        header = weakref.ref(screen.query_one(KvtHeader))
        watchers = getattr(app, "__watchers")
        assert any(node is header() for node, _ in watchers.get("title", []))
        app.pop_screen()
        await pilot.pause()
        del screen
        gc.collect()
        assert not any(node is header() for node, _ in watchers.get("title", []))
        assert header() is None


def test_styles_caches_are_not_kept_by_the_colour_cache() -> None:
    from textual._styles_cache import StylesCache
    from textual.color import Color

    install()
    cache = StylesCache()
    inner, outer = cache.get_inner_outer(Color(10, 20, 30), Color(1, 2, 3, 0.5))
    assert inner.background == Color(10, 20, 30) + Color(1, 2, 3, 0.5) and outer.background == Color(10, 20, 30)
    gone = weakref.ref(cache)
    del cache
    gc.collect()
    assert gone() is None


async def test_a_table_shown_again_at_its_size_keeps_its_drawn_rows(tmp_path: Path) -> None:
    from textual import events

    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = KvtTable()
        await app.screen.mount(table)
        await pilot.pause()
        size = table.size
        drawn = table._update_count
        table._on_resize(events.Resize(size, size))
        assert table._update_count == drawn
        table._on_resize(events.Resize(Size(size.width + 1, size.height), size))
        assert table._update_count == drawn + 1


async def test_a_table_keeps_its_drawn_rows_across_a_focus_change_and_shows_the_cursor_as_focused(tmp_path: Path) -> None:
    """The runs view takes the focus at each visit: its rows must not be drawn again, nor drawn stale."""
    from textual.widgets import Input

    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        other = Input(id="elsewhere")
        table = KvtTable(cursor_type="row")
        table.add_columns("run", "accuracy")
        for index in range(8):
            table.add_row(f"run {index}", f"0.{index}")
        await app.screen.mount(other, table)

        async def cursor_line() -> tuple:
            await pilot.pause()
            return tuple(table.render_line(1))  # line 0 is the header, line 1 the cursor's row

        table.focus()
        focused = await cursor_line()
        other.focus()
        blurred = await cursor_line()
        assert blurred != focused  # the cursor shows whether the table has the focus
        drawn = dict(table._row_render_cache)
        table.focus()
        assert await cursor_line() == focused
        assert all(table._row_render_cache.get(key) is row for key, row in drawn.items())  # nothing drawn again
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        assert await cursor_line() != focused  # a new theme: drawn again, in its colours


async def test_full_collections_wait_for_a_quiet_moment_and_run_then(tmp_path: Path) -> None:
    thresholds = gc.get_threshold()
    app = create_app(data="sample", runs_dir=tmp_path / "runs", idle_gc=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.pause()
            collector = app.idle_gc
            assert isinstance(collector, IdleCollector)
            # The app's start-up objects are frozen, and no automatic full collection is due.
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[:2] == thresholds[:2] and gc.get_threshold()[2] >= 1_000_000
            collector.every, collector.quiet = 0.0, 60.0
            await pilot.press("2")  # a key: the collector waits
            collector._tick()
            assert collector.collections == 0
            collector.quiet = 0.0
            collector._tick()
            assert collector.collections == 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
