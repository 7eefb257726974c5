"""kvt-tui's entry point: options, the terminal guard, light imports, a real launch on a pty."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvt_tui.cli import build_parser, create_app, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--epochs", "0"], "--epochs must be a whole number from 1 to 10000, got 0"),
        (["--epochs", "abc"], "--epochs must be a whole number from 1 to 10000, got 'abc'"),
        (["--framework", "pytorch"], "--framework must be one of keras, tensorflow, got 'pytorch'"),
        (["--activation", "tanh"], "--activation must be one of relu, crelu, elu, gelu, swish, got 'tanh'"),
        (["--data", "cifar100"], "cifar100 does not exist: choose cifar10, sample, or the path of an existing folder"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kvt-tui: ") and expected in err


def test_runs_dir_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "runs"
    not_a_dir.write_text("")
    with pytest.raises(SystemExit) as exit_info:  # --runs-dir's rule, as kvt-train applies it
        main(["--runs-dir", str(not_a_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"kvt-tui: --runs-dir {not_a_dir} is a file, not a folder: pass a folder path\n"
    monkeypatch.setenv("KVT_RUNS_DIR", str(not_a_dir))  # the same rule for the default
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == f"kvt-tui: $KVT_RUNS_DIR {not_a_dir} is a file, not a folder: pass a folder path\n"


def test_without_a_terminal_it_says_so_and_exits(tmp_path: Path) -> None:
    """`ssh HOST kvt-tui` (no -t) or a pipe: one line and exit 2, not escape codes and a hang."""
    done = subprocess.run(
        [sys.executable, "-m", "kvt_tui", "--data", "sample", "--runs-dir", str(tmp_path / "runs")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "needs an interactive terminal" in done.stderr and "ssh -t" in done.stderr


def test_options_preselect_the_form(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["--data", "sample", "--runs-dir", str(tmp_path), "--framework", "tensorflow", "--activation", "crelu", "--epochs", "4"]
    )
    app = create_app(data=args.data, runs_dir=args.runs_dir, framework=args.framework, activation=args.activation, epochs=args.epochs)
    assert (app.initial.data, app.initial.framework, app.initial.activation, app.initial.epochs) == ("sample", "tensorflow", "crelu", 4)
    assert app.runs_dir == tmp_path


GUARD_SCRIPT = """
import os, sys
from pathlib import Path
from kvt_tui.terminal import protect_terminal
log, restore = protect_terminal(Path(sys.argv[1]))
sys.__stderr__.write("drawn by the app\\n")     # where Textual draws
sys.__stderr__.flush()
os.write(2, b"native noise on fd 2\\n")         # what TensorFlow's C++ logging does
os.write(1, b"native noise on fd 1\\n")
restore()
os.write(2, b"after restore\\n")
print(log)
"""


def test_terminal_guard_sends_native_writes_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "tui.log"
    done = subprocess.run(
        [sys.executable, "-c", GUARD_SCRIPT, str(log)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "drawn by the app" in done.stderr and "after restore" in done.stderr
    assert "noise" not in done.stderr and "noise" not in done.stdout
    assert log.read_text().splitlines() == ["native noise on fd 2", "native noise on fd 1"]
    assert done.stdout.strip() == str(log)


IMPORTS_SCRIPT = """
import asyncio, json, sys
from kvt_tui.cli import create_app

async def first_frames():
    app = create_app(data="sample", runs_dir=sys.argv[1])
    async with app.run_test(size=(100, 30)) as pilot:
        await app.main_screen.ui_ready.wait()
        await pilot.pause()

asyncio.run(first_frames())
heavy = ("tensorflow", "keras", "matplotlib", "plotext", "sklearn", "kvt_models.train.training", "kvt_models.model.layers")
print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy)))
"""


def test_the_ui_comes_up_without_heavy_imports(tmp_path: Path) -> None:
    """TensorFlow, Keras, matplotlib, plotext and sklearn wait until something needs them."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_SCRIPT, str(tmp_path / "runs")], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


MODEL_VIEW_SCRIPT = """
import asyncio, json, sys
from kvt_tui.cli import create_app

async def model_view():
    app = create_app(data="sample", runs_dir=sys.argv[1], framework="tensorflow", activation="crelu")
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.main_screen
        await main.ui_ready.wait()
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = main.model_view.summary
        return len(main.model_view.summaries), summary.framework, summary.activation, summary.total_params

shown = asyncio.run(model_view())
print(json.dumps([shown, sorted(m for m in ("tensorflow", "keras") if m in sys.modules)]))
"""


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
def test_the_model_view_builds_the_models_in_a_child_process(tmp_path: Path) -> None:
    """The app never holds TensorFlow (~600 MB), even after showing the layer tables."""
    done = subprocess.run(
        [sys.executable, "-c", MODEL_VIEW_SCRIPT, str(tmp_path / "runs")], capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown == [10, "tensorflow", "crelu", 4_331_434]  # every variant described at once
    assert heavy == []


FIRST_FRAME_IMPORTS = """
import json, sys
import kvt_tui.cli, kvt_tui.app
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("kvt_models", "numpy"))))
"""


def test_the_first_frame_waits_only_for_the_light_engine_modules() -> None:
    """What the app imports before its first frame: the config and nothing heavier.

    (``precision`` is the standard library only: config.py reads the legacy precision from it. ``alerts``,
    kvt-tui's --bell, is options and shlex: 0.7 ms of import.)

    bench/startup.py measured ~25 ms of first-frame time in the run store,
    events and model summary modules; they are imported after the first frame.
    """
    done = subprocess.run([sys.executable, "-c", FIRST_FRAME_IMPORTS], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert imported <= {"kvt_models", "kvt_models.settings", "kvt_models.settings.config", "kvt_models.errors",
                        "kvt_models.settings.options", "kvt_models.settings.datasets", "kvt_models.paths", "kvt_models.variants",
                        "kvt_models.train",
                        "kvt_models.settings.precision", "kvt_models.settings.recipes", "kvt_models.train.stopping",
                        "kvt_models.settings.alerts"}


def test_every_engine_event_has_a_message() -> None:
    import typing

    from kvt_models.events import Event
    from kvt_tui.messages import _wrappers

    assert set(typing.get_args(Event)) == set(_wrappers())


@pytest.mark.parametrize("quit_with", ["q", "SIGTERM"])
def test_kvt_tui_starts_and_quits_on_a_real_terminal(quit_with: str, tmp_path: Path) -> None:
    """python -m kvt_tui on a pty: it draws, q (or SIGTERM) quits with status 0, the log records the session."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "KVT_TUI_LOG": str(tmp_path / "tui.log")}
    command = [sys.executable, "-m", "kvt_tui", "--data", "sample", "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"Activation" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 65536)
        assert b"Activation" in seen, seen[-2000:]
        if quit_with == "q":
            os.write(master, b"q")
        else:
            proc.send_signal(signal.SIGTERM)
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert "kvt-tui started" in (tmp_path / "tui.log").read_text()
    assert b"Traceback" not in seen
