"""The process that started a run dies (kill -9) while its child trains: the child saves, lets go and exits.

``kvt-train compare`` trains each queued run in a child process, as the app
does; here the queue's own process is killed. The child hears it (its
control pipe closes), stops at the next batch, marks its run stopped with
its last finished epoch on disk, releases the run's lock and exits; nothing
of the session is left, and the run resumes to its end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from procs import alive, history_rows, session_members, wait_until

from kvt_models.store.locking import lock_held
from kvt_models.store.runs import read_run
from kvt_models.train.training import resume

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 240  # a loaded 2-core box: TensorFlow's import and the first epoch
GONE_S = 15  # the promise: within a few seconds, and no process left


@pytest.mark.slow
def test_a_queue_killed_with_9_leaves_its_run_saved_and_no_process_behind(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # 640 images: an epoch of about a second here, so the kill lands in epoch 2 of 3.
    queue = subprocess.Popen(
        [sys.executable, "-m", "kvt_models.cli", "compare", "keras:relu", "--seeds", "1", "--data", "sample",
         "--train-limit", "640", "--test-limit", "100", "--epochs", "3", "--runs-dir", str(runs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
    try:
        wait_until(lambda: any(history_rows(p) for p in runs.glob("2*")), STARTUP_S, "the run's first epoch")
        [run_dir] = [p for p in runs.iterdir() if (p / "config.json").is_file()]
        child = json.loads((run_dir / "status.json").read_text())["pid"]
        assert child != queue.pid and alive(child)
        queue.send_signal(signal.SIGKILL)
        queue.wait(timeout=30)
        wait_until(lambda: not session_members(queue.pid), GONE_S, f"every process of the queue's session ends: "
                   f"{session_members(queue.pid)}")
    finally:
        for pid in session_members(queue.pid):  # whatever a failure left behind
            subprocess.run(["kill", "-9", str(pid)], check=False)
    run = read_run(run_dir)
    assert not lock_held(run_dir) and run.status == "stopped" and run.message.startswith("stopped after")
    assert 1 <= run.epochs_done < 3 and run.report_epoch == run.epochs_done
    assert resume(run_dir).status == "finished"
    assert [int(r["epoch"]) for r in read_run(run_dir).history] == [1, 2, 3]
