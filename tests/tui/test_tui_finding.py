"""Pilot-driven: a run's note and tags edited in the runs view, its filter box and sort key, and the
comparison screen's settings that differ and its evidence bundle (e)."""

from __future__ import annotations

from pathlib import Path

from runfactory import history_rows, write_run
from textual.widgets import Input, Static
from tui_support import SIZE, ready, wait_all

from kvt_models.store.notes import read_notes, write_notes
from kvt_tui.cli import create_app
from kvt_tui.screens.comparison import CompareScreen
from kvt_tui.screens.notes import NotesScreen
from kvt_tui.widgets.runs_view import RunsView


def _run(runs_dir: Path, activation: str, seed: int, accs: list[float], *, epochs: int | None = None) -> Path:
    config = {"framework": "keras", "activation": activation, "data": "sample", "recipe": "seed-2018",
              "epochs": epochs or len(accs), "batch_size": 32, "lr": 0.01, "seed": seed, "train_limit": 64,
              "test_limit": 40}
    return write_run(runs_dir, config, history_rows(accs), created=f"2024-01-01T12:00:0{seed}",
                     class_names=["a", "b"], params=1000, train_samples=64)


async def test_notes_and_tags_edited_in_the_runs_view_then_filtered_and_sorted(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    relu = _run(runs_dir, "relu", 1, [0.30, 0.42])
    elu = _run(runs_dir, "elu", 2, [0.20, 0.25])
    write_notes(elu, "from the CLI", ["cli"])
    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        view = app.query_one(RunsView)
        assert [info.path for info in view.runs] == [elu, relu]

        await pilot.press("down", "n")  # relu's note and tags
        await pilot.pause()
        assert isinstance(app.screen, NotesScreen)
        await pilot.press(*"baseline run", "tab", *"paper, v2")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, NotesScreen)
        notes = read_notes(relu)
        assert (notes.note, notes.tags) == ("baseline run", ["paper", "v2"])
        assert [str(c) for c in view.table.get_row_at(1)][-2:] == ["paper, v2", "baseline run"]

        await pilot.press("n", "ctrl+u", *"bad", "tab", *"no;tag", "enter")  # refused: the box stays, says why
        await pilot.pause()
        assert isinstance(app.screen, NotesScreen)
        assert "tags must be one word" in str(app.screen.query_one("#notes-error", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert read_notes(relu).note == "baseline run"  # Escape left it as it was

        await pilot.press("slash", *"PAPER")  # the filter box: the search rule of kvt-train runs --search
        await pilot.pause()
        assert isinstance(app.focused, Input) and [info.path for info in view.runs] == [relu]
        assert "1 of 2 runs" in str(app.query_one("#runs-summary", Static).render())
        await pilot.press("ctrl+u", *"cli", "enter")
        await pilot.pause()
        assert [info.path for info in view.runs] == [elu] and app.focused is view.table
        await pilot.press("slash", "ctrl+u", "enter", "o")  # every run again, then by final test accuracy
        await pilot.pause()
        assert view.sort == "accuracy" and [info.path for info in view.runs] == [relu, elu]


async def test_marked_runs_show_the_settings_that_differ_and_e_exports_the_bundle(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    _run(runs_dir, "relu", 1, [0.30, 0.42])
    _run(runs_dir, "elu", 2, [0.20, 0.25, 0.31], epochs=3)
    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("r", "space", "down", "space", "x")
        await wait_all(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        line = str(screen.query_one("#compare-settings", Static).render())
        assert line == "Settings that differ: epochs 2 / 3"  # relu first: the canonical variant order
        await pilot.press("e")
        await wait_all(pilot)
        dest = screen.export_folder()
        assert dest is not None
        assert {p.name for p in dest.iterdir()} >= {"report.md", "table.tex", "overlay.png", "comparison.json"}
        assert "| epochs | 2 | 3 |" in (dest / "report.md").read_text()


async def test_digit_keys_switch_tabs_from_the_runs_view_and_only_slash_opens_the_filter(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    _run(runs_dir, "relu", 1, [0.4])
    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main_screen
        for key, tab in (("4", "runs"), ("1", "live"), ("4", "runs"), ("2", "report"), ("4", "runs")):
            await pilot.press(key)
            await pilot.pause()
            assert main.views.active == tab, f"after {key}"
        box = main.query_one("#runs-filter", Input)
        assert box.value == ""  # no digit went into the filter
        await pilot.press("slash", "r", "e", "l", "u", "enter")
        await pilot.pause()
        assert box.value == "relu" and app.focused is main.query_one("#runs-table")
        await pilot.press("1")
        await pilot.pause()
        assert main.views.active == "live" and box.value == "relu"
