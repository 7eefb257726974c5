"""Crash safety: kill -9 in the middle of a run, then resume it to the end."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kvt_models.errors import KvtError
from kvt_models.events import EpochEnded, TrainStarted
from kvt_models.store.runs import RunStore, atomic_write_json, read_run
from kvt_models.train.training import resume


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "kvt_models.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # SIGHUP as from a terminal, even when the tests themselves run under nohup
        # (which kvt-train rightly keeps ignoring: see the README's exit codes).
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )


def _wait_for(proc: subprocess.Popen, needle: str, timeout: float = 240) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    for line in proc.stdout:  # blocks on the child's own output; no sleeping
        lines.append(line)
        if needle in line:
            return lines
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError("child ended before " + needle + ":\n" + "".join(lines))


@pytest.mark.long
def test_kill_9_during_epoch_3_of_4_then_resume_gives_epochs_1_to_4_once(tmp_path):
    runs = tmp_path / "runs"
    proc = _start("--data", "sample", "--train-limit", "320", "--test-limit", "50", "--epochs", "4",
                  "--batch-size", "16", "--seed", "5", "--runs-dir", str(runs))
    _wait_for(proc, "Epoch 2/4")  # epoch 3 is now under way (or, on a very busy box, even done)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (run_dir,) = runs.iterdir()
    # The dead run's pid now belongs to someone else (here: this test), as
    # pids get reused: liveness is the run's lock, so it still reads stopped.
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "running"
    atomic_write_json(run_dir / "status.json", {**status, "pid": os.getpid()})
    before = read_run(run_dir)
    assert before.status == "stopped" and "killed or crashed" in before.message  # its lock died with it
    done = len(before.history)
    assert 2 <= done < 4 and [int(r["epoch"]) for r in before.history] == list(range(1, done + 1))

    events = []
    result = resume(run_dir, events.append)
    assert result.status == "finished"
    # The start event carries the finished epochs, as on disk: the screen needs no history.csv.
    (started,) = [e for e in events if isinstance(e, TrainStarted)]
    assert started.initial_epoch == done and started.history == before.history
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == list(range(done + 1, 5))
    with open(run_dir / "history.csv", newline="") as fh:
        epochs = [int(r["epoch"]) for r in csv.DictReader(fh)]
    assert epochs == [1, 2, 3, 4]
    rows = read_run(run_dir).history
    # The learning-rate schedule went on from the checkpoint's optimizer state:
    # 20 steps per epoch, InverseTimeDecay(0.01, 1, 0.01 / 4).
    assert rows[3]["lr"] == pytest.approx(0.01 / (1 + 0.01 / 4 * 80), rel=1e-4)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"


@pytest.mark.long
def test_a_signal_stops_saves_and_exits_128_plus_n(tmp_path):
    """SIGTERM, SIGINT and SIGHUP, each to a kvt-train of its own; the three start side by side."""
    cases = [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
    # 500 epochs: far more than any box trains while the test reaches the third process.
    procs = [_start("--data", "sample", "--train-limit", "160", "--test-limit", "50", "--epochs", "500",
                    "--batch-size", "16", "--seed", "5", "--runs-dir", str(tmp_path / sig.name))
             for sig, _ in cases]
    for proc, (sig, _) in zip(procs, cases):
        _wait_for(proc, "Epoch 1/500")
        proc.send_signal(sig)
    for proc, (sig, code) in zip(procs, cases):
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == code, out
        assert f"got {sig.name}: stopping at the next batch" in out and "Traceback" not in out
        (run_dir,) = (tmp_path / sig.name).iterdir()
        run = read_run(run_dir)
        assert run.status == "stopped" and 1 <= run.epochs_done < 500
        assert (run_dir / "model.keras").exists() and run.report is not None


@pytest.mark.long
def test_two_processes_sharing_a_runs_dir_do_not_clobber_each_other(tmp_path):
    runs = tmp_path / "runs"
    args = ("--data", "sample", "--train-limit", "64", "--test-limit", "20", "--epochs", "1", "--runs-dir", str(runs))
    procs = [_start(*args, "--seed", str(seed)) for seed in (1, 2)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    folders = sorted(runs.iterdir())
    assert len(folders) == 2
    seeds = sorted(json.loads((f / "config.json").read_text())["config"]["seed"] for f in folders)
    assert seeds == [1, 2]
    assert all(read_run(f).status == "finished" and read_run(f).epochs_done == 1 for f in folders)


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    with pytest.raises(KvtError, match="no such run folder"):
        resume(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KvtError, match="not a kvt run"):
        resume(tmp_path / "empty")
    live = RunStore(tmp_path / "runs").create({"config": {"epochs": 3, "data": "sample"}}, "keras-relu")
    events = []
    with pytest.raises(KvtError, match="it is still running; stop it first"):
        resume(live.path, events.append)  # its lock is held (here, by this process)
    assert events[-1].user_error and read_run(live.path).status == "running"  # told, and left alone
    live.close()
