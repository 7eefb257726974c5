"""``kvt-train``: exit codes, one-line errors, log-friendly output."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kvt_models.cli.main import _guarded, main
from kvt_models.cli.printers import ConsolePrinter
from kvt_models.errors import EXIT_CRASH, EXIT_USAGE, ConfigError, TrainingDiverged
from kvt_models.events import BatchEnded
from kvt_models.timefmt import format_duration


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kvt_models.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--epochs", "0"], "--epochs must be a whole number from 1 to 10000, got 0"),
        (["--epochs", "-3"], "--epochs must be a whole number from 1 to 10000, got -3"),
        (["--epochs", "abc"], "--epochs must be a whole number from 1 to 10000, got 'abc'"),
        (["--batch-size", "0"], "--batch-size must be a whole number from 1 to 65536, got 0"),
        (["--lr", "nan"], "--lr must be a number above 0 and at most 10, such as 0.01, got 'nan'"),
        (["--lr", "-0.1"], "--lr must be a number above 0"),
        (["--lr", "fast"], "--lr must be a number above 0"),
        (["--framework", "pytorch"], "--framework must be one of keras, tensorflow, got 'pytorch'"),
        (["--activation", "tanh"], "--activation must be one of relu, crelu, elu, gelu, swish, got 'tanh'"),
        (["--data", "cifar100"], "cifar100 does not exist: choose cifar10, sample, or the path of an existing folder"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_no_traceback(capsys, args, fragment):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_data_path_exits_2_in_a_real_process(tmp_path):
    out = run_cli("--data", str(tmp_path / "nope"), "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kvt-train: error:") and "nope" in lines[0]


def test_runs_dir_that_is_a_file_exits_2(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("I am a file")
    out = run_cli("--data", "sample", "--runs-dir", str(blocker))
    assert out.returncode == 2 and "is a file" in out.stderr and "Traceback" not in out.stderr
    assert blocker.read_text() == "I am a file"


def test_a_quick_run_prints_plain_lines_and_the_report(tmp_path):
    plot = tmp_path / "plot.png"
    out = run_cli(
        "--preset", "tensorflow", "--data", "sample", "--train-limit", "100", "--test-limit", "50",
        "--epochs", "1", "--seed", "1", "--runs-dir", str(tmp_path / "runs"), "--plot", str(plot),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "\r" not in out.stdout and "\x1b" not in out.stdout  # stdout is a pipe here, as under nohup
    assert "Epoch 1/1 - " in out.stdout and "val_accuracy:" in out.stdout
    assert "weighted avg" in out.stdout and "airplane" in out.stdout  # sklearn's report
    # The runtime it trained on, with the versions, as config.json records them.
    assert re.search(r"training tensorflow \+ crelu \(Keras 3\.[\d.]+ on TensorFlow 2\.[\d.]+(, mixed bfloat16)?\): 4,331,434 params", out.stdout)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and str(runs[0]) in out.stdout
    assert out.stderr.strip() == ""  # TensorFlow's C++ logs stay out of the log


def test_a_diverged_run_exits_1_and_bad_input_exits_2():
    def raises(exc):
        def job():
            raise exc
        return job

    err = io.StringIO()
    assert _guarded(err, raises(TrainingDiverged("training diverged: loss became nan"))) == (None, EXIT_CRASH)
    assert _guarded(err, raises(ConfigError("epochs must be at least 1"))) == (None, EXIT_USAGE)
    assert err.getvalue().splitlines() == ["kvt-train: error: training diverged: loss became nan",
                                           "kvt-train: error: epochs must be at least 1"]


def test_durations_and_the_eta_read_the_same_as_in_the_app():
    assert [format_duration(s) for s in (0, 42.4, 723, 3723, -3)] == ["0:00", "0:42", "12:03", "1:02:03", "0:00"]

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    printer = ConsolePrinter(out, io.StringIO())
    printer.epochs = 2
    # 10 of 40 steps in 30 s: 90 s to go in this epoch.
    printer(BatchEnded(epoch=1, step=10, steps=40, logs={"loss": 1.0, "accuracy": 0.5}, images_per_second=10.0, epoch_elapsed=30.0))
    assert "ETA 1:30" in out.getvalue()
