"""Training in a child process: the same events, the same result, stop and errors relayed."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from kvt_models.errors import KvtError
from kvt_models.events import EpochEnded, SystemSampled, TrainEnded, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import read_run
from kvt_models.train.isolated import call_isolated

TINY = dict(data="sample", train_limit=96, test_limit=30, batch_size=16, seed=4)


def test_a_run_in_a_child_sends_its_events_and_returns_its_result(tmp_path):
    events = []
    result = call_isolated("train", events.append, threading.Event(), RunConfig(epochs=2, **TINY), runs_dir=tmp_path)
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("TrainStarted") < kinds.index("EpochEnded") and kinds[-1] == "TrainEnded"
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2]
    # The child measured itself: its own pid, not this process's, came up the pipe with its figures.
    samples = [e for e in events if isinstance(e, SystemSampled)]
    assert samples and all(s.pid != os.getpid() and s.rss > 100e6 for s in samples)
    assert result.status == "finished" and read_run(result.run_dir).epochs_done == 2
    assert result.evaluation.report["accuracy"] == events[-1].report["accuracy"]


def test_a_stop_reaches_the_child(tmp_path):
    stop = threading.Event()
    events = []

    def listener(event):
        events.append(event)
        if isinstance(event, TrainStarted):
            stop.set()

    result = call_isolated("train", listener, stop, RunConfig(epochs=30, **TINY), runs_dir=tmp_path)
    assert result.status == "stopped" and isinstance(events[-1], TrainEnded)
    assert read_run(result.run_dir).status == "stopped"


def test_a_users_mistake_in_the_child_comes_back_as_the_same_error(tmp_path):
    with pytest.raises(KvtError, match="does not exist"):
        call_isolated("train", lambda e: None, threading.Event(), RunConfig(data=str(tmp_path / "nope")), runs_dir=tmp_path)



@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
def test_kvt_train_compare_trains_in_a_child_process(tmp_path, capsys):
    """No run's memory stays behind in a long queue (the app's Compare tab passes the same train_fn).

    That each queued run gets a process of its own is checked by the kill -9 test below.
    """
    import json
    import os

    from kvt_models.cli.main import main

    runs = tmp_path / "runs"
    code = main(["compare", "keras:relu", "--seeds", "1", "--data", "sample", "--epochs", "1", "--batch-size", "16",
                 "--train-limit", "96", "--test-limit", "30", "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 run(s) trained, 0 reused" in out and "keras:relu" in out
    pids = [json.loads((run / "status.json").read_text())["pid"] for run in runs.iterdir() if (run / "status.json").is_file()]
    assert len(pids) == 1 and os.getpid() not in pids


def test_a_stop_ends_a_model_description_child_at_once():
    """Quitting the app while the model view's helper starts must not wait for TensorFlow.

    The stop comes as soon as the child process exists, wherever it is then
    (starting, importing, building): a kill at any of those moments must
    neither hang the parent nor leave the child behind.
    """
    import multiprocessing

    from kvt_models.train.isolated import describe_isolated
    from kvt_models.train.stopping import StopRequest

    stop = StopRequest()

    def stop_once_the_child_exists():
        while not stop.is_set():
            if any(p.name == "kvt-describe_models" for p in multiprocessing.active_children()):
                stop.set()
            else:
                threading.Event().wait(0.01)

    threading.Thread(target=stop_once_the_child_exists, daemon=True).start()
    assert describe_isolated([("keras", "relu")], stop) is None
    assert multiprocessing.active_children() == []


def _kill_the_child_after_its_first_epoch(events, killed_pids):
    """A listener that kill -9s the training child as soon as its first epoch is on disk."""
    import json
    import os
    import signal

    run_dirs = []

    def listener(event):
        events.append(event)
        if isinstance(event, TrainStarted):
            run_dirs.append(event.run_dir)
        if isinstance(event, EpochEnded) and event.epoch == 1 and len(run_dirs) == 1:
            # status.json names the process that writes the run: the child.
            pid = json.loads((Path(run_dirs[0]) / "status.json").read_text())["pid"]
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed_pids.append(pid)

    return listener


@pytest.mark.long
def test_a_killed_child_fails_its_run_and_a_compare_queue_goes_on_then_the_run_resumes(tmp_path):
    """kill -9 (or the OOM killer) in the middle of a queue: no hang, the other runs train, the run resumes."""
    import json
    import os

    from kvt_models.compare.queue import run_comparison
    from kvt_models.events import TrainFailed
    from kvt_models.train.isolated import resume_isolated, train_isolated
    from kvt_models.train.stopping import StopRequest

    events, killed_pids = [], []
    base = RunConfig(epochs=3, **TINY)
    result = run_comparison([("keras", "relu")], [1, 2], base, _kill_the_child_after_its_first_epoch(events, killed_pids),
                            stop=StopRequest(), runs_dir=tmp_path, train_fn=train_isolated)

    assert not result.stopped and result.trained == 1
    [lost] = result.unfinished
    assert lost.seed == 1 and "killed by SIGKILL" in lost.reason and "kvt-train --resume" in lost.reason
    failed = [e for e in events if isinstance(e, TrainFailed)]
    assert len(failed) == 1 and failed[0].run_dir == lost.run_dir and not failed[0].user_error
    killed = read_run(lost.run_dir)
    assert killed.status == "failed" and "killed by SIGKILL" in killed.message and killed.epochs_done == 1
    # The queue's other run trained to its end after the kill, in a process of its own.
    assert [e.status for e in events if isinstance(e, TrainEnded)] == ["finished"]
    other = next(p for p in tmp_path.iterdir() if (p / "status.json").is_file() and str(p) != lost.run_dir)
    assert json.loads((other / "status.json").read_text())["pid"] not in (killed_pids[0], os.getpid())

    resumed = resume_isolated(lost.run_dir)
    assert resumed.status == "finished"
    assert [row["epoch"] for row in read_run(lost.run_dir).history] == [1, 2, 3]


def test_a_child_killed_before_its_run_folder_exists_is_an_error_not_a_hang(tmp_path):
    """Dead before TrainStarted (e.g. out of memory while loading data): ChildDied, with how it died."""
    import multiprocessing
    import os
    import signal

    from kvt_models.events import StageChanged
    from kvt_models.train.isolated import ChildDied
    from kvt_models.train.stopping import StopRequest

    def listener(event):
        if isinstance(event, StageChanged):  # the child's first event: it is loading the data
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)

    with pytest.raises(ChildDied, match="killed by SIGKILL"):
        call_isolated("train", listener, StopRequest(), RunConfig(epochs=1, **TINY), runs_dir=tmp_path)
