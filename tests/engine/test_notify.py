"""``kvt-train --notify-command``: the user's command gets the outcome; whatever it does, the run and its exit stand."""

from __future__ import annotations

import io
import json
import shlex
import sys
import time
from pathlib import Path

import pytest
from runfactory import InstantEngine

from kvt_models.cli.main import main
from kvt_models.cli.notify import outcome_env, run_notify_command
from kvt_models.compare.queue import run_comparison
from kvt_models.errors import ConfigError
from kvt_models.settings.alerts import NOTIFY_COMMAND
from kvt_models.settings.config import RunConfig
from kvt_models.settings.options import VARIANT

QUICK = ["--data", "sample", "--train-limit", "64", "--test-limit", "20", "--epochs", "1", "--seed", "2"]


def recorder(path: Path, exit_code: int = 0) -> str:
    """A notify command (as a user types it) that writes the KVT_* variables it got to ``path``, then exits."""
    script = (f"import json, os, sys; json.dump({{k: v for k, v in os.environ.items() if k.startswith('KVT_')}}, "
              f"open({str(path)!r}, 'w')); sys.exit({exit_code})")
    return shlex.join([sys.executable, "-c", script])


def test_a_run_s_outcome_reaches_the_command_and_its_failure_does_not_touch_the_exit(tmp_path, capsys) -> None:
    got = tmp_path / "env.json"
    code = main([*QUICK, "--runs-dir", str(tmp_path / "runs"), "--notify-command", recorder(got, exit_code=3)])
    assert code == 0
    env = json.loads(got.read_text())
    run_dir = Path(env["KVT_RUN_DIR"])
    assert env["KVT_KIND"] == "run" and env["KVT_STATUS"] == "finished" and env["KVT_EXIT_CODE"] == "0"
    assert run_dir.parent == tmp_path / "runs" and env["KVT_RUN_ID"] == run_dir.name and (run_dir / "model.keras").exists()
    assert 0 <= float(env["KVT_ACCURACY"]) <= 1 and env["KVT_EPOCHS_DONE"] == env["KVT_EPOCHS"] == "1"
    assert env["KVT_MESSAGE"] == "" and float(env["KVT_SECONDS"]) > 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"kvt-train: warning: --notify-command {' '.join(shlex.split(recorder(got, 3)))!r} exited with status 3"]


def test_a_failed_run_tells_the_command_why(tmp_path, capsys) -> None:
    got = tmp_path / "env.json"
    # A dataset folder with nothing in it: the run fails as it loads, a user's error (exit 2).
    (tmp_path / "empty").mkdir()
    code = main(["--data", str(tmp_path / "empty"), "--runs-dir", str(tmp_path / "runs"), "--notify-command", recorder(got)])
    assert code == 2
    env = json.loads(got.read_text())
    assert env["KVT_STATUS"] == "failed" and env["KVT_EXIT_CODE"] == "2" and env["KVT_MESSAGE"]
    assert env["KVT_ACCURACY"] == ""


def test_a_comparison_s_outcome_reaches_the_command(tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    variants = [VARIANT.parse(v) for v in ("keras:relu", "keras:gelu")]
    base = RunConfig(data="sample", epochs=1, seed=0, train_limit=64, test_limit=20)
    run_comparison(variants, [1, 2], base, runs_dir=runs, train_fn=InstantEngine())  # every run finished already
    got = tmp_path / "env.json"
    code = main(["compare", "keras:relu", "keras:gelu", "--seeds", "2", *QUICK[:6], "--epochs", "1",
                 "--runs-dir", str(runs), "--notify-command", recorder(got)])
    assert code == 0
    env = json.loads(got.read_text())
    assert env["KVT_KIND"] == "comparison" and env["KVT_STATUS"] == "finished" and env["KVT_RUNS_REUSED"] == "4"
    assert env["KVT_RUNS_TRAINED"] == "0" and env["KVT_RUNS_UNFINISHED"] == "0" and env["KVT_VERDICT"]
    assert Path(env["KVT_COMPARISON_DIR"], "comparison.json").exists()
    assert "KVT_RUN_DIR" not in env


@pytest.mark.parametrize("command, says", [
    ("/no/such/notifier --now", "could not be started: No such file or directory"),
    (shlex.join([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]), "was ended by SIGTERM"),
])
def test_a_missing_or_killed_command_is_one_warning_line(command: str, says: str) -> None:
    err = io.StringIO()
    assert not run_notify_command(NOTIFY_COMMAND.parse(command), outcome_env("run", 0, 1.0, {}), err)
    assert err.getvalue().count("\n") == 1 and says in err.getvalue() and err.getvalue().startswith("kvt-train: warning:")


def test_a_command_that_hangs_is_killed_at_its_timeout() -> None:
    err = io.StringIO()
    started = time.monotonic()
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    assert not run_notify_command(argv, {}, err, timeout=0.5)
    assert time.monotonic() - started < 10 and "did not finish in 0.5 s and was killed" in err.getvalue()


def test_the_command_is_split_like_a_shell_would_and_never_given_to_one() -> None:
    assert NOTIFY_COMMAND.parse("notify-send 'kvt run' \"$HOME\"") == ["notify-send", "kvt run", "$HOME"]
    with pytest.raises(ConfigError, match="cannot be read as a command"):
        NOTIFY_COMMAND.parse("notify-send 'unclosed")
    assert outcome_env("run", 1, 2.0, {"STATUS": "failed"})["KVT_RUN_DIR"] == ""  # every variable is set
