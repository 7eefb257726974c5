"""Pilot-driven tests of kvt-tui: train live, stop, bad input, quit, the runs view.

Every training here uses the bundled ``sample`` dataset cut down to a few
hundred images and one epoch or a few, so each one takes seconds. The tests
wait on workers and messages, never on sleeps.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from runfactory import TRAINING_TIMEOUT, FakeEngine, spying
from textual.widgets import Button, Select, Static
from tui_support import SIZE, choose, ready, record_notifications, type_into

from kvt_models.events import BatchEnded
from kvt_models.store.runs import read_history, read_run
from kvt_tui.cli import create_app
from kvt_tui.screens.confirm import ConfirmScreen
from kvt_tui.screens.help import HelpScreen
from kvt_tui.screens.run import RunScreen
from kvt_tui.widgets.curves import Curves
from kvt_tui.widgets.history_view import HistoryView
from kvt_tui.widgets.metrics_table import COLUMNS, MetricsTable, format_cell
from kvt_tui.widgets.model_view import ModelView
from kvt_tui.widgets.report import ReportView, report_rows
from kvt_tui.widgets.runs_view import RunsView


def watch_batches(seen: threading.Event) -> Callable[..., Any]:
    """The real engine, in this process, with a spy that sets ``seen`` at the first BatchEnded."""
    from kvt_models.train.training import train

    return spying(train, BatchEnded, seen)


# -- the main scenario ---------------------------------------------------------------
@pytest.mark.long
async def test_train_one_epoch_with_keyboard_then_export(tmp_path: Path, screen_text: Callable[[Any], str]) -> None:
    runs_dir = tmp_path / "runs"
    app = create_app(data="sample", runs_dir=runs_dir)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main_screen
        await choose(pilot, "framework", "tensorflow")
        await choose(pilot, "activation", "crelu")
        await type_into(pilot, "epochs", "1")
        await type_into(pilot, "seed", "3")
        await type_into(pilot, "train-limit", "200")
        await type_into(pilot, "test-limit", "100")
        await pilot.press("escape", "t")  # leave the text field, then train
        assert main.runner.training
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not main.runner.training

        run = main.runner.current_run
        assert run is not None and run.parent == runs_dir
        assert json.loads((run / "status.json").read_text())["status"] == "finished"
        config = json.loads((run / "config.json").read_text())["config"]
        assert (config["framework"], config["activation"], config["epochs"]) == ("tensorflow", "crelu", 1)
        assert (config["train_limit"], config["test_limit"], config["seed"]) == (200, 100, 3)

        # The live view holds exactly the rows of history.csv, once: the metrics
        # table (shown rounded) and the curves draw from the same list.
        history = read_history(run)
        assert len(history) == 1
        assert app.query_one(HistoryView).history == history
        table = app.query_one(MetricsTable)
        assert table.history == history and table.history is app.query_one(Curves).history
        assert table.row_count == 1
        assert table.get_row_at(0) == [format_cell(key, history[0][key]) for key, _ in COLUMNS]

        # The report: a row per class with report.json's numbers, then the summary rows.
        saved = json.loads((run / "report.json").read_text())
        classes = saved["class_names"]
        rows = app.query_one(ReportView).rows
        assert [r[0] for r in rows] == [*classes, "accuracy", "macro avg", "weighted avg"]
        for row, name in zip(rows, classes):
            expected = saved["report"][name]
            assert float(row[1]) == round(expected["precision"], 4)
            assert float(row[2]) == round(expected["recall"], 4)
            assert float(row[3]) == round(expected["f1-score"], 4)
            assert int(row[4]) == int(expected["support"])
        # The summary rows, worked out here from the class rows: accuracy over
        # every test image, the macro average plain, the weighted one by support.
        per_class = [saved["report"][name] for name in classes]
        supports = [c["support"] for c in per_class]
        assert sum(supports) == 100  # --test-limit
        accuracy, macro, weighted = rows[len(classes):]
        assert accuracy[1:3] == ("", "") and int(accuracy[4]) == 100
        assert float(accuracy[3]) == round(saved["report"]["accuracy"], 4)
        correct = sum(c["recall"] * c["support"] for c in per_class)  # each class's hits
        assert abs(float(accuracy[3]) - correct / 100) <= 5e-5 + 1e-9
        for index, metric in enumerate(("precision", "recall", "f1-score"), start=1):
            plain = sum(c[metric] for c in per_class) / len(per_class)
            by_support = sum(c[metric] * c["support"] for c in per_class) / sum(supports)
            assert abs(float(macro[index]) - plain) <= 5e-5 + 1e-9, (metric, macro)
            assert abs(float(weighted[index]) - by_support) <= 5e-5 + 1e-9, (metric, weighted)
        assert int(macro[4]) == int(weighted[4]) == 100
        assert app.query_one("#views").active == "report"
        assert "Classification report" in screen_text(app)
        assert "weighted avg" in screen_text(app)

        # The curves rendered a plot of the epoch (axes, both panels, the legend).
        await pilot.press("1")
        await pilot.pause()
        curves = app.query_one(Curves)
        assert curves.history == history
        text = screen_text(app)
        assert "━━ train" in text and "━━ validation" in text
        assert "loss" in text and "accuracy" in text and "┤" in text

        # e re-exports both PNGs into the run folder and says where.
        for name in ("curves.png", "confusion.png"):
            (run / name).unlink()
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (run / "curves.png").stat().st_size > 0
        assert (run / "confusion.png").stat().st_size > 0
        assert any(str(run) in n.message and "curves.png" in n.message for n in notifications)

        # m: the model view lists the layers, the raw TensorFlow ops marked.
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = app.query_one(ModelView).summary
        assert summary is not None and (summary.framework, summary.activation) == ("tensorflow", "crelu")
        ops = {layer.tensorflow_op for layer in summary.layers if layer.tensorflow_op}
        assert "tf.nn.crelu" in ops
        assert app.query_one("#model-table").row_count == len(summary.layers)
        assert "tf.nn.crelu" in screen_text(app)


async def test_stop_mid_run_keeps_a_partial_run(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    batch_seen = threading.Event()
    app = create_app(data="sample", runs_dir=runs_dir, epochs=3, train_fn=watch_batches(batch_seen))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_into(pilot, "train-limit", "320")
        await type_into(pilot, "test-limit", "50")
        await pilot.press("escape", "t")
        # Waits on the engine's own event, in a thread, so the app keeps running.
        assert await asyncio.to_thread(batch_seen.wait, TRAINING_TIMEOUT)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()

        run = app.main_screen.runner.current_run
        assert run is not None and run.is_dir()
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "stopped"
        assert len(read_history(run)) < 3
        assert "stopped" in str(app.query_one("#progress-status", Static).render())

        # ... and it is in the runs view.
        await pilot.press("r")
        await pilot.pause()
        runs = app.query_one(RunsView).runs
        assert [(r.path, r.status) for r in runs] == [(run, "stopped")]


# -- bad input ------------------------------------------------------------------------
async def test_invalid_epoch_count_blocks_training(tmp_path: Path, screen_text: Callable[[Any], str]) -> None:
    runs_dir = tmp_path / "runs"
    app = create_app(data="sample", runs_dir=runs_dir)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        error = app.query_one("#epochs-error", Static)
        train_button = app.query_one("#train-button", Button)
        assert not error.display and not train_button.disabled

        for typed, message in (("0", "epochs must be a whole number from 1 to 10000, got 0"),
                               ("abc", "epochs must be a whole number from 1 to 10000, got 'abc'")):
            await type_into(pilot, "epochs", typed)
            assert error.display and str(error.render()) == message
            assert message[:28] in screen_text(app)  # the pane wraps the rest onto the next line
            assert train_button.disabled
            # The field takes the letter keys, so the footer says how to get them back.
            assert "esc Leave field" in screen_text(app)
            await pilot.press("escape", "t")
            await pilot.pause()
            assert not app.main_screen.runner.training
            assert "esc Leave field" not in screen_text(app) and "t Train" in screen_text(app)
            assert not runs_dir.exists()  # nothing started, nothing written
            assert any(n.severity == "error" and message in n.message for n in notifications)

        await type_into(pilot, "epochs", "2")
        assert not error.display and not train_button.disabled


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
async def test_bad_data_paths_show_an_error_and_the_app_stays_up(
    tmp_path: Path, monkeypatch: Any, screen_text: Callable[[Any], str]
) -> None:
    monkeypatch.chdir(tmp_path)  # short relative paths: less to type
    runs_dir = tmp_path / "runs"
    missing = tmp_path / "no-such-folder"
    app = create_app(data=str(missing), runs_dir=runs_dir)
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        main = app.main_screen
        # A path that does not exist: explained under the field, Train refused.
        assert app.query_one("#dataset", Select).value == "path"
        error = app.query_one("#data-path-error", Static)
        assert error.display and "does not exist" in str(error.render())
        assert app.query_one("#train-button", Button).disabled
        await pilot.press("t")
        await pilot.pause()
        assert not main.runner.training and not runs_dir.exists()

        # A file that exists but is no dataset: training starts, fails with one line, the app goes on.
        corrupt = tmp_path / "corrupt.tar.gz"
        corrupt.write_bytes(b"this is not a tar archive")
        await type_into(pilot, "data-path", corrupt.name)
        assert not error.display
        earlier = len(notifications)
        await pilot.press("escape", "t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not main.runner.training
        # Reported once: the engine's own TrainFailed, and nothing more when its error reaches the worker.
        assert [n.title for n in notifications[earlier:] if n.severity == "error"] == ["Cannot train"]
        failures = [n for n in notifications if n.severity == "error" and n.title == "Cannot train"]
        assert len(failures) == 1 and "\n" not in failures[0].message
        assert "Cannot train" in screen_text(app)
        assert app.is_running
        # Still usable: fix the path and the form is valid again.
        await choose(pilot, "dataset", "sample")
        assert not app.query_one("#train-button", Button).disabled


# -- quitting while training ---------------------------------------------------------------
async def test_quit_while_training_asks_then_stops_and_exits(tmp_path: Path, fake_engine: FakeEngine) -> None:
    app = create_app(data="sample", runs_dir=tmp_path / "runs", train_fn=fake_engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main_screen
        await pilot.press("t")
        assert await asyncio.to_thread(fake_engine.started.wait, 30)
        await pilot.pause()
        assert main.runner.training

        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: keep training
        assert not isinstance(app.screen, ConfirmScreen) and main.runner.training and app.is_running
        assert app.return_code is None  # not asked to exit

        await pilot.press("q")
        await pilot.press("y")  # yes: stop, let the run save, then quit
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not main.runner.training
        assert app.return_code == 0  # exited by itself once the worker was done
        assert [c.data for c in fake_engine.calls] == ["sample"]


# -- the runs view -----------------------------------------------------------------------
async def test_runs_view_lists_a_kvt_train_run(tmp_path: Path, capsys: Any) -> None:
    from kvt_models.cli.main import main as kvt_train

    runs_dir = tmp_path / "runs"
    code = kvt_train([
        "--data", "sample", "--epochs", "1", "--train-limit", "64", "--test-limit", "40",
        "--seed", "1", "--runs-dir", str(runs_dir),
    ])
    assert code == 0, capsys.readouterr().err
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir()]

    app = create_app(data="sample", runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert app.query_one("#views").active == "runs"
        view = app.query_one(RunsView)
        assert [(info.path, info.status, info.epochs_done) for info in view.runs] == [(run, "finished", 1)]
        table = app.query_one("#runs-table")
        # The first column holds the comparison mark (space), empty here.
        assert [str(c) for c in table.get_row_at(0)][:4] == ["", "finished", "keras + relu", "1/1"]

        await pilot.press("enter")  # open it
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)
        record = read_run(run)
        assert app.screen.query_one(HistoryView).history == record.history
        assert app.screen.query_one(MetricsTable).history == record.history
        assert app.screen.query_one(Curves).history == record.history
        assert len(app.screen.query_one(ReportView).rows) == len(record.class_names) + 3

        # e on a reopened run exports that run's PNGs.
        for name in ("curves.png", "confusion.png"):
            (run / name).unlink()
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (run / "curves.png").is_file() and (run / "confusion.png").is_file()

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunScreen)


async def test_help_screen_and_command_palette_list_the_keys(tmp_path: Path, screen_text: Callable[[Any], str]) -> None:
    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        footer = screen_text(app).splitlines()[-1]
        for key in ("t Train", "s Stop", "e Export", "r Runs", "m Model", "v Compare", "? Help", "q Quit"):
            assert key in footer
        assert "g Run queue" not in footer  # only on the Compare tab
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Train", "Stop training", "Export PNGs", "Runs", "Model", "Compare", "Run comparison", "Help"} <= titles

        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "stop gracefully" in screen_text(app)
        await pilot.press("t")  # the main screen's keys are off while the help is up
        assert not app.main_screen.runner.training and isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_the_report_fits_at_80_columns_and_the_matrix_scrolls_sideways(
    tmp_path: Path, screen_text: Callable[[Any], str]
) -> None:
    """At 80x24 the Report tab is ~46 columns: no number may be cut to "0.…"."""
    from sklearn.metrics import classification_report, confusion_matrix

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    y_true = [i % 10 for i in range(1000)]
    y_pred = [(i * 7 + i // 3) % 10 for i in range(1000)]
    report = classification_report(y_true, y_pred, target_names=names, output_dict=True, zero_division=0)
    confusion = confusion_matrix(y_true, y_pred).tolist()
    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 40)) as pilot:
        await ready(pilot)
        app.query_one(ReportView).show(report, confusion, names, "a run")
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        for row in report_rows(report, names):
            assert " ".join(row[1:]).strip() in " ".join(text.split()), row  # every number, whole
        assert "…" not in text.split("Classification report")[1].split("Confusion")[0]

        def last_column_shown(screen: str) -> bool:  # the matrix header's "truc" (for "truck")
            return any("hors" in line and "truc" in line for line in screen.splitlines())

        assert not last_column_shown(text)  # the matrix's last column is off to the right...
        app.query_one(ReportView).focus()
        await pilot.press(*["right"] * 30)
        await pilot.pause()
        assert last_column_shown(screen_text(app))  # ...and the arrow keys bring it in
