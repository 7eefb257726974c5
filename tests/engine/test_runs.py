"""The run store: unique folders, crash-safe files, reading runs back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvt_models.errors import RunStoreError
from kvt_models.events import EpochEnded
from kvt_models.store.atomic import atomic_write_json
from kvt_models.store.locking import lock_held
from kvt_models.store.runs import RunRecorder, RunStore, RunWriter, read_history, read_run, read_run_info


def _row(epoch: int) -> dict:
    return {"epoch": epoch, "loss": 1.0 / epoch, "accuracy": 0.1 * epoch, "val_loss": 1.1, "val_accuracy": 0.2, "lr": 0.01, "seconds": 1.5}


def test_runs_get_unique_folders_and_list_newest_first(tmp_path):
    store = RunStore(tmp_path)
    writers = [store.create({"config": {"epochs": 3}}, "keras-relu") for _ in range(5)]
    assert len({w.path for w in writers}) == 5
    for w in writers:
        w.append_history(_row(1))
    listed = store.list_runs()
    assert {i.run_id for i in listed} == {w.run_id for w in writers}
    assert all(i.status == "running" and i.epochs_done == 1 and i.epochs_total == 3 for i in listed)


def _killed_run(root) -> str:
    """A run made by a process that was then killed -9 in mid-training; its folder's path."""
    script = (
        "import os, signal, sys\n"
        "from kvt_models.store.runs import RunStore\n"
        "w = RunStore(sys.argv[1]).create({'config': {'epochs': 4}}, 'x')\n"
        "w.append_history({'epoch': 1, 'loss': 1.0, 'accuracy': 0.1, 'val_loss': 1.1, 'val_accuracy': 0.2, 'lr': 0.01, 'seconds': 1.5})\n"
        "print(w.path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9, out.stderr
    return out.stdout.strip()


def test_a_run_whose_process_died_reads_as_stopped(tmp_path):
    info = read_run(_killed_run(tmp_path))
    assert json.loads((info.path / "status.json").read_text())["status"] == "running"  # as the process left it
    assert info.status == "stopped" and "killed or crashed" in info.message and info.epochs_done == 1


@pytest.mark.parametrize("pid", ["this test's", "init's"])
def test_a_dead_run_whose_pid_was_reused_reads_as_stopped(tmp_path, pid):
    """Liveness is the run's lock, not a pid: pids are reused by unrelated processes."""
    path = _killed_run(tmp_path)
    status = json.loads(open(f"{path}/status.json").read())
    atomic_write_json(Path(path) / "status.json", {**status, "pid": os.getpid() if pid == "this test's" else 1})
    info = read_run(path)
    assert info.status == "stopped" and "killed or crashed" in info.message


def test_a_run_reads_running_exactly_while_its_lock_is_held(tmp_path):
    w = RunStore(tmp_path).create({"config": {"epochs": 2}}, "x")
    assert lock_held(w.path) and read_run(w.path).status == "running"  # seen from this process too
    # Another process sees it held, and cannot take it to resume the run.
    probe = (
        "import sys; from pathlib import Path\n"
        "from kvt_models.store.locking import lock_held\nfrom kvt_models.store.runs import RunRecorder\n"
        "from kvt_models.errors import RunStoreError\n"
        "held = lock_held(Path(sys.argv[1]))\n"
        "try:\n    RunRecorder.reopen(Path(sys.argv[1])); took = True\n"
        "except RunStoreError as exc:\n    took = str(exc)\n"
        "print(held, took)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(w.path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"True cannot resume {w.path}: it is still running; stop it first", out.stderr
    with pytest.raises(RunStoreError, match="still running"):
        RunRecorder.reopen(w.path)  # nor can a second writer in this process
    w.close()
    assert not lock_held(w.path) and read_run(w.path).status == "stopped"
    with RunRecorder.reopen(w.path) as again:  # free now: the run can be taken back
        assert lock_held(w.path) and again.history == []
        again.set_status("finished")
    assert read_run(w.path).status == "finished"


def test_a_dead_child_can_still_be_marked_failed_by_its_parent(tmp_path):
    """What kvt_models.train.isolated does after its training child died: the lock is free, the status is written."""
    path = Path(_killed_run(tmp_path))
    RunWriter(path, path.name).set_status("failed", "the training process was killed by SIGKILL")
    info = read_run(path)
    assert info.status == "failed" and "SIGKILL" in info.message and not lock_held(path)


def test_a_torn_history_line_is_ignored(tmp_path):
    w = RunStore(tmp_path).create({"config": {}}, "x")
    w.append_history(_row(1))
    w.append_history(_row(2))
    with open(w.path / "history.csv", "a") as fh:
        fh.write("3,0.5,0.")  # a kill in the middle of a write
    assert [r["epoch"] for r in read_history(w.path)] == [1, 2]


def test_atomic_writes_leave_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_runs_dir_problems_are_one_line_errors(tmp_path):
    as_file = tmp_path / "file"
    as_file.write_text("x")
    with pytest.raises(RunStoreError, match="is a file"):
        RunStore(as_file).ensure()



def test_an_unwritable_runs_dir_is_a_one_line_error(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    if os.geteuid() == 0:
        # root writes anywhere, so permissions cannot show it here: make the
        # access check answer as it would for an ordinary user.
        import kvt_models.store.runs as runs

        monkeypatch.setattr(runs.os, "access", lambda path, mode: False)
    with pytest.raises(RunStoreError, match="not writable: pass --runs-dir with a writable folder"):
        RunStore(ro).ensure()


def test_non_run_folders_are_skipped(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("hi")
    assert RunStore(tmp_path).list_runs() == []


@pytest.mark.parametrize(
    "status, done, total, resumable",
    [
        ("stopped", 1, 3, True),
        ("failed", 2, 3, True),
        ("stopped", 3, 3, False),  # every epoch done: nothing to continue
        ("finished", 3, 3, False),
        ("running", 1, 3, False),  # its process is alive: stop it first
    ],
)
def test_a_run_is_resumable_when_it_ended_early_with_epochs_left(tmp_path, status, done, total, resumable):
    w = RunStore(tmp_path).create({"config": {"epochs": total}}, "x")
    for epoch in range(1, done + 1):
        w.append_history(_row(epoch))
    w.set_status(status)
    assert read_run_info(w.path).resumable is resumable
    assert read_run(w.path).resumable is resumable


def test_a_killed_run_is_resumable(tmp_path):
    w = RunStore(tmp_path).create({"config": {"epochs": 2}}, "x")
    w.append_history(_row(1))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    status = json.loads((w.path / "status.json").read_text())
    atomic_write_json(w.path / "status.json", {**status, "pid": int(dead.stdout)})  # as kill -9 leaves it
    assert not read_run_info(w.path).resumable  # its lock is still held: it runs
    w.close()  # the kernel lets go of a killed process's lock
    assert read_run_info(w.path).resumable


def test_the_recorder_saves_the_checkpoint_then_the_row_then_tells_the_listener(tmp_path):
    w = RunStore(tmp_path).create({"config": {"epochs": 2}}, "x")
    order = []

    def save(tmp):
        order.append(("checkpoint", [r["epoch"] for r in read_history(w.path)]))
        Path(tmp).write_bytes(b"weights")

    def listener(event):
        order.append(("listener", [r["epoch"] for r in read_history(w.path)]))

    hear = w.recording(listener, save)
    hear(EpochEnded(epoch=1, epochs=2, loss=1.0, accuracy=0.5, val_loss=1.1, val_accuracy=0.4, lr=0.01, seconds=2.0))
    # The checkpoint was written while the history had no row yet; the listener heard of a row on disk.
    assert order == [("checkpoint", []), ("listener", [1])]
    assert (w.path / "model.keras").read_bytes() == b"weights" and [r["epoch"] for r in w.history] == [1]
    w.close()


def test_a_history_written_before_train_seconds_reads_and_resumes_in_its_own_columns(tmp_path):
    """Runs made before img/s was measured lack train_seconds: they read the whole epoch's seconds instead."""
    w = RunStore(tmp_path).create({"config": {"epochs": 3}}, "x")
    (w.path / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\r\n1,2,0.2,2,0.2,0.01,12.5\r\n")
    assert read_history(w.path)[0]["train_seconds"] == 12.5
    w.append_history({**_row(2), "train_seconds": 9.0})  # a resumed epoch keeps the file's header
    rows = read_history(w.path)
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["train_seconds"] == rows[1]["seconds"]
    w.close()


def test_a_run_killed_after_its_last_epoch_reads_finished_and_a_damaged_status_reads_stopped(tmp_path):
    """Its checkpoint, rows and report are all on disk: only the plots and the last status were not written."""
    w = RunStore(tmp_path).create({"config": {"epochs": 2}}, "x")
    w.append_history(_row(1))
    w.append_history(_row(2))
    w.close()  # status.json still says running, as kill -9 leaves it
    info = read_run_info(w.path)
    assert info.status == "finished" and "after its last epoch" in info.message and not info.resumable
    (w.path / "status.json").write_text('["not", "a", "status"]')  # damaged: read as stopped, never a crash
    assert read_run_info(w.path).status == "stopped"
