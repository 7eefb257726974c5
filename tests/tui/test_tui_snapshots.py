"""Screenshots of kvt-tui at 80x24 and 120x40, compared with the files in tests/tui/snapshots/.

The comparison is on plain text (what each terminal cell shows, styles
dropped): a diff of it reads in a review, unlike an SVG. The screens are
deterministic: no training, run folders with constant contents written by
the run store (see conftest.py), relative paths, no cursor blink.

To accept a deliberate change, look at the diff, then regenerate with::

    KVT_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/tui/test_tui_snapshots.py

which also writes an .svg next to each .txt, for looking at the colours.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from textual.widgets import Input

from kvt_tui.cli import create_app
from kvt_tui.screens.comparison import CompareScreen
from kvt_tui.screens.run import RunScreen

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("KVT_UPDATE_SNAPSHOTS") == "1"


def check_snapshot(name: str, text: str, app: Any) -> None:
    expected_path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        expected_path.write_text(text)
        (SNAPSHOTS / f"{name}.svg").write_text(app.export_screenshot(title=f"kvt-tui {name}"))
        return
    if not expected_path.exists():
        pytest.fail(f"no snapshot {expected_path}: create it with KVT_UPDATE_SNAPSHOTS=1 after checking the screen")
    expected = expected_path.read_text()
    if text != expected:
        diff = "\n".join(difflib.unified_diff(expected.splitlines(), text.splitlines(), "expected", "actual", lineterm=""))
        pytest.fail(f"screen {name} differs from {expected_path}:\n{diff}")


@pytest.fixture(autouse=True)
def runtimes_as_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The screens show what is installed: pin CI's set (the README's test command installs jax, keras2
    and ray, not torch), so that the screens are the same with any extras, or none, installed.

    The form and the Compare tab's variants ask runtime.available; the Compare tab's Ray field (its
    hint, and so the tab's height and scrollbar) asks compare_view.ray_installed.
    """
    from kvt_models.backend import runtime
    from kvt_tui.widgets import compare_view

    monkeypatch.setattr(runtime, "available", lambda backend: backend in ("tensorflow", "jax", "keras2"))
    monkeypatch.setattr(compare_view, "ray_installed", lambda: True)


def still_app(**options: Any) -> Any:
    """The app, with animations off: the tabs' underline slides into place at start-up
    (0.3 s, started by a timer), and a screenshot may catch it on the way."""
    app = create_app(**options)
    app.animation_level = "none"
    return app


async def settle(app: Any, pilot: Any) -> None:
    """Wait for the whole UI, freeze the cursors, and let layout and scrolling finish."""
    await app.main_screen.ui_ready.wait()
    for field in app.query(Input):
        field.cursor_blink = False
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_main_screen(size: tuple[int, int], fixed_runs_dir: Path, screen_text: Callable[[Any], str]) -> None:
    app = still_app(data="sample", runs_dir=fixed_runs_dir, framework="tensorflow", activation="crelu", epochs=3)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        check_snapshot(f"main-{size[0]}x{size[1]}", screen_text(app), app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_runs_view_and_a_reopened_run(
    size: tuple[int, int], fixed_runs_dir: Path, screen_text: Callable[[Any], str]
) -> None:
    app = still_app(data="sample", runs_dir=fixed_runs_dir)
    name = f"{size[0]}x{size[1]}"
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        check_snapshot(f"runs-{name}", screen_text(app), app)

        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunScreen)
        check_snapshot(f"run-metrics-{name}", screen_text(app), app)

        await pilot.press("2")
        await settle(app, pilot)
        check_snapshot(f"run-report-{name}", screen_text(app), app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_compare_tab_and_a_comparison_of_marked_runs(
    size: tuple[int, int], fixed_runs_dir: Path, second_fixed_run: Path, screen_text: Callable[[Any], str]
) -> None:
    # Beside the fixed run, a second one (keras + relu, one point worse): the two marked make a comparison.
    app = still_app(data="sample", runs_dir=fixed_runs_dir)
    name = f"{size[0]}x{size[1]}"
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        check_snapshot(f"compare-{name}", screen_text(app), app)

        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("space", "down", "space", "x")
        await settle(app, pilot)
        assert isinstance(app.screen, CompareScreen)
        check_snapshot(f"compare-result-{name}", screen_text(app), app)
