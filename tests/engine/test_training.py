"""End-to-end training on the bundled sample: events, files on disk, stopping."""

from __future__ import annotations

import csv
import json
import threading

import pytest

from kvt_models.events import BatchEnded, EpochEnded, StageChanged, SystemSampled, TrainEnded, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.store.locking import lock_held
from kvt_models.store.runs import HISTORY_COLUMNS, RunStore, read_run
from kvt_models.train.training import train

QUICK = dict(data="sample", train_limit=160, test_limit=100, seed=3)


@pytest.mark.parametrize(
    "framework, activation, params",
    # The crelu preset (twice the channels, ~10 s here) in the long step: the default run stays under 4 minutes.
    [("keras", "relu", 2_171_178), pytest.param("tensorflow", "crelu", 4_331_434, marks=pytest.mark.long)],
)
def test_both_presets_train_end_to_end_and_write_the_run(tmp_path, framework, activation, params):
    events = []
    result = train(RunConfig(framework=framework, activation=activation, epochs=2, **QUICK), events.append, runs_dir=tmp_path)

    assert result.status == "finished" and result.params == params
    run = result.run_dir
    assert run.parent == tmp_path
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "status.json", "history.csv", "report.json", "model.keras", "curves.png", "confusion.png"} <= names

    with open(run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == HISTORY_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    for row, event in zip(rows, epochs):
        assert float(row["val_accuracy"]) == pytest.approx(event.val_accuracy)
        assert float(row["lr"]) == pytest.approx(event.lr)
    # seed-2018's inverse-time decay: lr after 2 epochs of 5 steps is 0.01 / (1 + 0.01/2 * 10)
    assert epochs[-1].lr == pytest.approx(0.01 / (1 + 0.01 / 2 * 10), rel=1e-4)

    config = json.loads((run / "config.json").read_text())
    assert config["config"]["framework"] == framework and config["params"] == params
    assert config["config"]["seed"] == 3 and len(config["class_names"]) == 10
    report = json.loads((run / "report.json").read_text())
    assert set(config["class_names"]) <= set(report["report"])
    assert sum(map(sum, report["confusion"])) == 100
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    record = read_run(run)
    assert record.status == "finished" and record.epochs_done == 2 and record.report is not None
    assert not lock_held(run)  # the run let go of its folder when it ended


def test_events_arrive_in_order(tmp_path):
    events = []
    train(RunConfig(epochs=2, batch_size=16, **QUICK), events.append, runs_dir=tmp_path, batch_interval=0.0)
    kinds = [type(e).__name__ for e in events]
    first_started = kinds.index("TrainStarted")
    assert all(k == "StageChanged" for k in kinds[:first_started])
    assert kinds[-1] == "TrainEnded" and kinds.count("TrainStarted") == 1
    started = events[first_started]
    assert isinstance(started, TrainStarted) and started.steps_per_epoch == 10 and started.epochs == 2
    assert started.initial_epoch == 0 and started.history == []  # a new run has no earlier epochs

    # The training process's figures come before each epoch's end (its line shows the epoch's peak and mean CPU).
    for index, event in enumerate(events):
        if isinstance(event, EpochEnded):
            assert isinstance(events[index - 1], SystemSampled) and events[index - 1].epoch_cpu_cores > 0
    samples = [e for e in events if isinstance(e, SystemSampled)]
    assert all(s.rss > 100e6 and s.peak_rss >= s.rss for s in samples)
    fit_events = [e for e in events[first_started + 1 : -1] if not isinstance(e, (StageChanged, SystemSampled))]
    expected = []
    for epoch in (1, 2):
        expected += [("BatchEnded", epoch, step) for step in range(1, 11)] + [("EpochEnded", epoch, None)]
    got = [(type(e).__name__, e.epoch, getattr(e, "step", None)) for e in fit_events]
    assert got == expected
    # The test split was scored with each epoch: the end only saves the plots and the status.
    assert [e.stage for e in events if isinstance(e, StageChanged)][-1] == "saving"
    assert isinstance(events[-1], TrainEnded) and events[-1].status == "finished"


def test_batch_events_are_throttled_but_the_last_batch_of_each_epoch_is_sent(tmp_path):
    events = []
    # An interval no epoch can outlast: only the last batch of the epoch gets through.
    train(RunConfig(epochs=1, batch_size=8, **QUICK), events.append, runs_dir=tmp_path, batch_interval=float("inf"))
    batches = [e for e in events if isinstance(e, BatchEnded)]
    assert [b.step for b in batches] == [20]
    assert batches[0].images_per_second > 0


def test_a_stop_request_ends_at_the_next_batch_and_keeps_a_partial_run(tmp_path):
    stop = threading.Event()
    events = []

    seen = []

    def listener(event):
        events.append(event)
        if isinstance(event, EpochEnded) and event.epoch == 1:
            run_dir = events[[type(e) for e in events].index(TrainStarted)].run_dir
            seen.append(read_run(run_dir).status)  # alive: its lock is held while it trains
            stop.set()  # what the app's Stop key does

    result = train(RunConfig(epochs=5, batch_size=16, **QUICK), listener, stop=stop, runs_dir=tmp_path, batch_interval=0.0)
    assert result.status == "stopped" and seen == ["running"]
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1]
    # asked while epoch 1 ended (the app heard of it): the run ends before epoch 2 trains a batch
    assert [e.step for e in events if isinstance(e, BatchEnded) and e.epoch == 2] == []
    record = read_run(result.run_dir)
    assert record.status == "stopped" and record.epochs_done == 1 and record.epochs_total == 5
    assert (result.run_dir / "model.keras").exists() and record.report is not None
    assert record.report_epoch == 1  # the report is the saved epoch's, not the cut one's
    assert [r.run_id for r in RunStore(tmp_path).list_runs()] == [result.run_id]
