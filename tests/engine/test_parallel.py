"""A queue with several runs at once: a failure that ends it stops the runs in flight, which save."""

from __future__ import annotations

import threading

import pytest

from kvt_models.compare.parallel import run_all
from kvt_models.errors import ClusterError, KvtError
from kvt_models.events import EpochEnded
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import read_run

WAIT_S = 300  # a bound for a loaded box; the waits below end on events, long before it


def test_the_first_failure_sets_the_stop_the_runs_in_flight_honour():
    stop = threading.Event()
    started = threading.Event()
    ended: dict[int, str] = {}

    def work(item: int) -> int:
        if item == 0:
            assert started.wait(WAIT_S)
            raise KvtError("the relay died")
        started.set()
        ended[item] = "stopped" if stop.wait(WAIT_S) else "trained to the end"
        return item

    with pytest.raises(KvtError, match="the relay died"):
        run_all([0, 1, 2, 3], work, concurrency=2, stop=stop)
    assert stop.is_set()
    assert 1 in ended and set(ended.values()) == {"stopped"}  # whatever had started was stopped, nothing ran on
    assert 3 not in ended  # never started: the queue ends at the failure


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
def test_a_queue_that_fails_stops_a_real_run_in_flight_at_its_next_batch_and_it_saves(tmp_path):
    """Seed 2 trains for real in a child (500 epochs); seed 1 fails once seed 2 has a finished epoch."""
    from kvt_models.compare.queue import run_comparison
    from kvt_models.train.isolated import train_isolated
    from kvt_models.train.stopping import StopRequest

    first_epoch = threading.Event()

    def train_fn(config, listener, **kwargs):
        if config.seed == 1:
            assert first_epoch.wait(WAIT_S)
            raise ClusterError("kvt's relay actor on this node died")

        def spy(event):
            listener(event)
            if isinstance(event, EpochEnded):
                first_epoch.set()

        return train_isolated(config, spy, **kwargs)

    base = RunConfig(data="sample", train_limit=96, test_limit=30, batch_size=16, epochs=500)
    with pytest.raises(ClusterError, match="relay actor"):
        run_comparison([("keras", "relu")], [1, 2], base, lambda event: None, stop=StopRequest(), runs_dir=tmp_path,
                       train_fn=train_fn, concurrency=2)

    [run_dir] = [p for p in tmp_path.iterdir() if (p / "config.json").is_file()]
    run = read_run(run_dir)
    assert run.status == "stopped" and 1 <= run.epochs_done < 500  # stopped, not trained to its end
    assert run.report_epoch == run.epochs_done and (run_dir / "model.keras").is_file()  # and saved
