"""kill -9 of kvt-train at random moments of its epoch-end writes, 50 times: every run folder stays usable.

An epoch's end writes, in order: the checkpoint (model.keras, through a
temporary file renamed into place), the history row (appended, fsynced),
the report (report.json, renamed into place). Each kill here is aimed at
that stretch: the test watches the run folder until the epoch's temporary
checkpoint appears, waits a random moment (within the writes or just
after them), and kills the process. Afterwards every folder must read as
a run that can be resumed (or clearly failed), with no damaged file, and no
history row may claim a checkpoint that is not there: the checkpoint holds
at least as many optimizer steps as the history has epochs, and at most one
epoch more (a kill between the checkpoint and its row). Then each is
resumed to its end.
"""

from __future__ import annotations

import io
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from procs import history_rows, wait_until

from kvt_models.store.damage import problem
from kvt_models.store.runs import read_run
from kvt_models.train.training import resume

ROOT = Path(__file__).resolve().parents[2]
KILLS = 50
# 64 images in batches of 16. Kills aim at the ends of epochs 1 to 4 (of 8): an epoch takes a fraction of
# a second, and the run must still have epochs to go when the kill comes.
EPOCHS, STEPS, LAST_TARGET = 8, 4, 4
WRITES_S = 0.2  # the stretch a kill is aimed at, from the temporary checkpoint's appearance: the writes (docs/faults.md) and a little after
STARTUP_S = 240


def _temporary_checkpoint(run_dir: Path) -> bool:
    return any(p.name.startswith(".model.") for p in run_dir.iterdir())


def _steps_in_checkpoint(path: Path) -> int:
    """The optimizer's step count saved in model.keras (Keras 3's weights file: optimizer/vars/0 is iterations)."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            return int(weights["optimizer/vars/0"][()])


def _kill_during_an_epoch_end(runs: Path, seed: int, rng: random.Random) -> bool:
    """One kvt-train, killed in the writes of a random epoch's end; whether a temporary file was left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kvt_models.cli", "--data", "sample", "--train-limit", "64", "--test-limit", "20",
         "--batch-size", "16", "--epochs", str(EPOCHS), "--seed", str(seed), "--runs-dir", str(runs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        epoch = rng.randint(1, LAST_TARGET)  # the end of this epoch is hit
        wait_until(lambda: any(runs.glob("2*/config.json")), STARTUP_S, "the run folder")
        [run_dir] = runs.glob("2*")
        _watch_for_the_end_of(epoch, run_dir, proc)
        # The moment of the kill, at random within the writes (or just after them): what this test is about.
        time.sleep(rng.uniform(0, WRITES_S))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return any(".tmp" in p.name for p in run_dir.iterdir())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _watch_for_the_end_of(epoch: int, run_dir: Path, proc: subprocess.Popen) -> None:
    """Return as epoch ``epoch``'s checkpoint is being written (or, if that was missed, just after)."""
    deadline = time.monotonic() + STARTUP_S
    while True:
        rows = history_rows(run_dir)
        if (rows == epoch - 1 and _temporary_checkpoint(run_dir)) or rows >= epoch:
            return
        assert proc.poll() is None, f"kvt-train ended before epoch {epoch}'s end (exit {proc.returncode})"
        assert time.monotonic() < deadline, f"epoch {epoch} did not end within {STARTUP_S} s"
        time.sleep(0.001)  # a checkpoint takes tens of milliseconds to write: look often


# About 9 minutes on an idle 2-core box: pytest-timeout's 600 s default is too close.
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_at_random_moments_of_the_epoch_end_writes_leaves_every_run_resumable(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> bool:
        return _kill_during_an_epoch_end(tmp_path / f"kill-{i:02d}", i, random.Random(2100 + i))

    # Two at a time: most of each one's time is a process starting (TensorFlow's import) on one core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        mid_write = sum(pool.map(one, range(KILLS)))
    folders = []
    for i in range(KILLS):
        [run_dir] = (tmp_path / f"kill-{i:02d}").glob("2*")
        folders.append(run_dir)

        run = read_run(run_dir)
        assert problem(run_dir, thorough=True) is None, run_dir
        # Killed: it reads stopped and resumes from its last epoch (or, had the kill come after its last
        # epoch was on disk, finished).
        assert run.resumable or (run.status == "finished" and run.epochs_done == EPOCHS), (run_dir, run.status)
        done = run.epochs_done
        assert [int(r["epoch"]) for r in run.history] == list(range(1, done + 1))
        if done:
            steps = _steps_in_checkpoint(run_dir / "model.keras")
            assert done * STEPS <= steps <= (done + 1) * STEPS, (run_dir, done, steps)
        if (run_dir / "report.json").is_file():
            assert run.report_epoch in (done - 1, done) and run.report_epoch >= 1, (run_dir, run.report_epoch)
        else:
            assert done <= 1, run_dir  # epoch 1's row is on disk, its report not yet
    # The kills really landed in the writes: a temporary file was left behind by some of them.
    print(f"{mid_write} of {KILLS} kills caught a file being written")  # shown with pytest -rP
    assert mid_write >= 10, f"only {mid_write} of {KILLS} kills caught a file being written"

    for run_dir in folders:
        if not read_run(run_dir).resumable:
            continue
        assert resume(run_dir).status == "finished", run_dir
        assert [int(r["epoch"]) for r in read_run(run_dir).history] == list(range(1, EPOCHS + 1))
        assert not [p.name for p in run_dir.iterdir() if ".tmp" in p.name]  # a resume clears what a kill left
