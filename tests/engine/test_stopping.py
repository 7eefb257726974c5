"""A stop ends the run at the next batch, and the report describes the model that is saved.

Real training on the bundled sample, in this process. The scorer's passes over
the test split and Keras's ``predict``, ``predict_on_batch`` and ``evaluate``
are spied on (and still run) to tell when the test split is gone through:
never after a stop request.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from kvt_models.backend import runtime
from kvt_models.events import BatchEnded, EpochEnded
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import read_run
from kvt_models.train.training import train

QUICK = dict(data="sample", train_limit=160, test_limit=100, batch_size=16, seed=3)  # 10 steps an epoch
STEPS = 10


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pass over a dataset that is not a train step, in order, as it starts.

    "score": the scorer's pass over the test split (its predict_on_batch calls
    inside it); Keras's predict, predict_on_batch or evaluate outside one: its name.
    The scorer's warm-up (one batch of zeros, traced before fit) is no pass.
    """
    from kvt_models.train.evaluation import EpochScorer

    keras = runtime.keras()
    seen: list[str] = []
    scoring = [False]
    original_score = EpochScorer.score

    def score(self, *args, **kwargs):
        seen.append("score")
        scoring[0] = True
        try:
            return original_score(self, *args, **kwargs)
        finally:
            scoring[0] = False

    monkeypatch.setattr(EpochScorer, "score", score)
    original_warm_up = EpochScorer.warm_up

    def warm_up(self, *args, **kwargs):
        scoring[0] = True
        try:
            return original_warm_up(self, *args, **kwargs)
        finally:
            scoring[0] = False

    monkeypatch.setattr(EpochScorer, "warm_up", warm_up)
    for name in ("predict", "predict_on_batch", "evaluate"):
        original = getattr(keras.Model, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            if not scoring[0]:
                seen.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(keras.Model, name, spy)
    return seen


def _stop_at(epoch: int, step: int, stop: threading.Event, passes: list[str], at_stop: list[int]):
    """A listener that sets ``stop`` as batch ``step`` of ``epoch`` ends (the callback sees it at the next batch)."""

    def listener(event):
        if isinstance(event, BatchEnded) and (event.epoch, event.step) == (epoch, step) and not stop.is_set():
            at_stop.append(len(passes))
            stop.set()

    return listener


def test_a_stop_mid_epoch_makes_no_test_pass_and_the_report_is_the_saved_epochs(tmp_path, passes):
    stop, at_stop = threading.Event(), []
    result = train(RunConfig(epochs=5, **QUICK), _stop_at(2, 3, stop, passes, at_stop), stop=stop, runs_dir=tmp_path,
                   batch_interval=0.0)

    assert result.status == "stopped"
    assert passes == ["score"] and at_stop == [1]  # epoch 1 was scored; nothing went through the test set after
    record = read_run(result.run_dir)
    assert record.epochs_done == 1 and record.report_epoch == 1 and result.report_epoch == 1
    # seed-2018 has no test-time augmentation: the report's accuracy is epoch 1's val_accuracy.
    assert record.report["accuracy"] == pytest.approx(record.history[-1]["val_accuracy"])
    assert json.loads((result.run_dir / "status.json").read_text())["message"] == "stopped after 1 of 5 epochs"


def test_a_stop_on_an_epochs_last_batch_keeps_that_epoch(tmp_path, passes):
    stop, at_stop = threading.Event(), []
    # Set as batch 9 ends: the callback sees it at batch 10, the last of epoch 2, which is then finished.
    result = train(RunConfig(epochs=5, **QUICK), _stop_at(2, STEPS - 1, stop, passes, at_stop), stop=stop,
                   runs_dir=tmp_path, batch_interval=0.0)

    record = read_run(result.run_dir)
    assert result.status == "stopped" and record.epochs_done == 2 and record.report_epoch == 2
    assert passes == ["score", "score"]  # epochs 1 and 2, each scored once, and no pass after
    assert record.message == "stopped after 2 of 5 epochs"


def test_a_stop_before_the_first_epoch_ends_keeps_no_model_and_no_report(tmp_path, passes):
    stop, at_stop = threading.Event(), []
    result = train(RunConfig(epochs=5, **QUICK), _stop_at(1, 2, stop, passes, at_stop), stop=stop, runs_dir=tmp_path,
                   batch_interval=0.0)

    assert result.status == "stopped" and passes == [] and result.evaluation is None
    names = {p.name for p in result.run_dir.iterdir()}
    assert "model.keras" not in names and "report.json" not in names  # nothing finished, nothing to describe
    record = read_run(result.run_dir)
    assert record.resumable and record.epochs_done == 0 and record.message == "stopped after 0 of 5 epochs"


@pytest.mark.parametrize("recipe", ["seed-2018", "fast"])
def test_the_scores_and_the_report_are_those_of_the_model_on_disk(tmp_path, recipe):
    """val_loss and val_accuracy as Keras's evaluate gives them; the report with flip TTA where the recipe has it."""
    from kvt_models.data.loader import load_dataset
    from kvt_models.model import layers  # noqa: F401 - registers kvt's layers for loading
    from kvt_models.train.pipeline import make_dataset

    config = RunConfig(epochs=1, recipe=recipe, **{**QUICK, "batch_size": 32})
    result = train(config, runs_dir=tmp_path)
    record = read_run(result.run_dir)
    row = record.history[-1]

    keras = runtime.keras()
    model = keras.saving.load_model(result.run_dir / "model.keras")
    data = load_dataset("sample", train_limit=160, test_limit=100, seed=3)
    loss, accuracy = model.evaluate(make_dataset(data.x_test, data.y_test, 32, num_classes=data.num_classes), verbose=0)
    assert row["val_loss"] == pytest.approx(loss, rel=1e-4)
    assert row["val_accuracy"] == pytest.approx(accuracy)

    probs = model.predict(make_dataset(data.x_test, None, 32), verbose=0)
    if recipe == "fast":
        probs = probs + model.predict(make_dataset(np.ascontiguousarray(data.x_test[:, :, ::-1]), None, 32), verbose=0)
    assert record.report["accuracy"] == pytest.approx(float(np.mean(probs.argmax(axis=1) == data.y_test)))
    assert record.report_epoch == 1 and sum(map(sum, record.confusion)) == 100
    assert json.loads((result.run_dir / "report.json").read_text())["views"] == (2 if recipe == "fast" else 1)


def test_a_resumed_run_stopped_in_its_first_new_epoch_keeps_its_report(tmp_path):
    from kvt_models.train.training import resume

    stop = threading.Event()

    def after_epoch_1(event):
        if isinstance(event, EpochEnded):
            stop.set()

    first = train(RunConfig(epochs=3, **QUICK), after_epoch_1, stop=stop, runs_dir=tmp_path)
    before = (first.run_dir / "report.json").read_bytes()

    again = threading.Event()
    again.set()  # asked at once: not one step trained
    result = resume(first.run_dir, stop=again)
    assert result.status == "stopped" and result.report_epoch == 1 and result.evaluation is None
    assert (first.run_dir / "report.json").read_bytes() == before
    assert read_run(first.run_dir).epochs_done == 1
