"""TensorBoard event files in a run folder, read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kvt_models.events import BatchEnded, EpochEnded, TrainStarted
from kvt_models.train.tensorboard import BATCH_LOSS_TAG, BoardWriter, is_event_file

ROOT = Path(__file__).resolve().parents[2]


def _accumulator(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return accumulator


def _scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    return [(e.step, round(e.value, 4)) for e in _accumulator(run_dir).Scalars(tag)]


def _started(run_dir: Path, initial_epoch: int = 0) -> TrainStarted:
    return TrainStarted("r", str(run_dir), "keras", "relu", 2, 10, 32, 320, 64, 1, ["a"], initial_epoch=initial_epoch)


def _epoch(epoch: int, acc: float) -> EpochEnded:
    return EpochEnded(epoch, 2, 2.0 - acc, acc, 2.1 - acc, acc - 0.05, 0.01 / epoch, 1.5, 1.2)


# TensorBoard names a file <second>.<host>.<pid>.<a counter of the process>, and reads a folder in name order:
# when the counter goes from 9 to 10 between the two files, they sort the wrong way round unless their seconds differ.
@pytest.mark.parametrize("counter_crosses_ten", [False, True])
def test_epochs_and_batches_are_scalars_and_a_resumed_run_continues_the_same_steps(tmp_path: Path,
                                                                                    counter_crosses_ten: bool) -> None:
    from tensorboard.summary.writer import event_file_writer

    while counter_crosses_ten and event_file_writer._global_uid.get() % 10 != 8:
        pass  # each get() counts one file: the next two are ...9 and ...10
    heard = []
    board = BoardWriter(heard.append)
    board(_started(tmp_path))
    for step in (1, 5, 10):
        board(BatchEnded(1, step, 10, {"loss": 3.0 - step / 10}, 100.0, 0.1))
    board(_epoch(1, 0.3))
    for step in (3, 6):  # epoch 2, cut short by a stop or a kill: never on disk as an epoch
        board(BatchEnded(2, step, 10, {"loss": 9.0}, 100.0, 0.1))
    board.close()
    assert len(heard) == 7  # every event goes on to the listener behind

    again = BoardWriter(heard.append)  # the resume: a new event file in the same folder
    again(_started(tmp_path, initial_epoch=1))
    again(BatchEnded(2, 10, 10, {"loss": 1.5}, 100.0, 0.1))
    again(_epoch(2, 0.5))
    again.close()

    assert len([p for p in tmp_path.iterdir() if is_event_file(p.name)]) == 2
    assert _scalars(tmp_path, "epoch/val_accuracy") == [(1, 0.25), (2, 0.45)]
    assert _scalars(tmp_path, "epoch/accuracy") == [(1, 0.3), (2, 0.5)]
    assert _scalars(tmp_path, "epoch/learning_rate") == [(1, 0.01), (2, 0.005)]
    assert [step for step, _ in _scalars(tmp_path, "epoch/loss")] == [1, 2]
    # The cut epoch's batches (steps 13 and 16) are gone; the resumed run's go on from step 11.
    assert _scalars(tmp_path, BATCH_LOSS_TAG) == [(1, 2.9), (5, 2.5), (10, 2.0), (20, 1.5)]


def test_the_writer_loads_no_tensorflow(tmp_path: Path) -> None:
    script = ("import sys; from kvt_models.train.tensorboard import BoardWriter\n"
              "from kvt_models.events import TrainStarted, EpochEnded\n"
              f"b = BoardWriter(lambda e: None); b(TrainStarted('r', {str(tmp_path)!r}, 'keras', 'relu', 1, 1, 1, 1, 1, 1, ['a']))\n"
              "b(EpochEnded(1, 1, 1.0, 0.5, 1.0, 0.5, 0.01, 1.0)); b.close()\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    assert _scalars(tmp_path, "epoch/accuracy") == [(1, 0.5)]


@pytest.mark.long
def test_a_real_run_stopped_and_resumed_has_one_accuracy_curve_and_no_tensorboard_writes_none(tmp_path: Path) -> None:
    from kvt_models.settings.config import RunConfig
    from kvt_models.train.training import resume, train

    stop = threading.Event()
    config = RunConfig(data="sample", train_limit=64, test_limit=40, batch_size=16, epochs=2, seed=3)
    first = train(config, lambda e: stop.set() if isinstance(e, EpochEnded) else None, stop=stop,
                  runs_dir=tmp_path / "runs", batch_interval=0.0)
    assert first.status == "stopped" and len(first.history) == 1
    done = resume(first.run_dir, batch_interval=0.0)
    assert done.status == "finished"
    curve = _scalars(done.run_dir, "epoch/val_accuracy")
    assert curve == [(row["epoch"], round(row["val_accuracy"], 4)) for row in done.history]
    steps = [step for step, _ in _scalars(done.run_dir, BATCH_LOSS_TAG)]
    assert steps == sorted(set(steps)) and steps[-1] == 8  # 2 epochs x 4 batches, each step once

    off = train(RunConfig(data="sample", train_limit=32, test_limit=20, batch_size=16, epochs=1, seed=3,
                          tensorboard=False), runs_dir=tmp_path / "off")
    assert not [p for p in off.run_dir.iterdir() if is_event_file(p.name)]
