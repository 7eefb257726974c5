"""Training in a child process: the same events, the same result, stop and errors relayed."""

from __future__ import annotations

import threading

import pytest

from kvt_models.config import RunConfig
from kvt_models.errors import KvtError
from kvt_models.events import EpochEnded, TrainEnded, TrainStarted
from kvt_models.isolated import call_isolated
from kvt_models.runs import read_run

TINY = dict(data="sample", train_limit=96, test_limit=30, batch_size=16, seed=4)


def test_a_run_in_a_child_sends_its_events_and_returns_its_result(tmp_path):
    events = []
    result = call_isolated("train", events.append, threading.Event(), RunConfig(epochs=2, **TINY), runs_dir=tmp_path)
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("TrainStarted") < kinds.index("EpochEnded") and kinds[-1] == "TrainEnded"
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2]
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



def test_kvt_train_compare_trains_each_run_in_a_process_of_its_own(tmp_path, capsys):
    """No run's memory stays behind in a long queue (the app's Compare tab passes the same train_fn)."""
    import json
    import os

    from kvt_models.cli import main

    runs = tmp_path / "runs"
    code = main(["compare", "keras:relu", "--seeds", "2", "--data", "sample", "--epochs", "1", "--batch-size", "16",
                 "--train-limit", "96", "--test-limit", "30", "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 run(s) trained, 0 reused" in out and "keras:relu" in out
    pids = [json.loads((run / "status.json").read_text())["pid"] for run in runs.iterdir() if (run / "status.json").is_file()]
    assert len(pids) == 2 and len(set(pids)) == 2 and os.getpid() not in pids


def test_a_stop_ends_a_model_description_child_at_once():
    """Quitting the app while the model view's helper starts must not wait for TensorFlow."""
    import multiprocessing

    from kvt_models.isolated import describe_isolated

    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()  # long before the child has even imported TensorFlow
    assert describe_isolated([("keras", "relu")], stop) is None
    assert multiprocessing.active_children() == []
