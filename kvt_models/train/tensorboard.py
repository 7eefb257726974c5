"""TensorBoard event files in the run folder, written by TensorBoard's own writer, without TensorFlow.

``tensorboard --logdir ~/.kvt/runs`` then shows kvt's runs beside a user's
others, one run per run folder. Per epoch: ``epoch/loss``,
``epoch/accuracy``, ``epoch/val_loss``, ``epoch/val_accuracy`` (the test
split, as history.csv has them) and ``epoch/learning_rate``, at step = the
epoch (1-based); per batch: ``batch/loss`` at step = the batch's number
over the whole run, for the batches the listeners hear (the app's
throttle: a few a second, and each epoch's last).

The writer is :class:`tensorboard.summary.writer.event_file_writer.EventFileWriter`,
which reaches its file system through ``tensorboard.compat.tf``: that would
import TensorFlow whenever it is installed, also in a run on JAX or PyTorch
that has no use for it (seconds and hundreds of MB). Registering the
``tensorboard.compat.notf`` marker module first is TensorBoard's own switch
for its TensorFlow-free stub (local files only, which is all kvt writes).

A resumed run writes a new event file in the same folder, which starts with
a ``SessionLog.START`` at the first batch it trains: TensorBoard's readers
then drop the batch values of an epoch that a stop or a kill cut short
(training went on from the epoch before it), so the steps go on as if the
run had never stopped. The epoch values sit at steps below that (an epoch's
number is smaller than its batches'), and are kept.

Event files are appended as training goes, not replaced: a kill can leave a
torn last record, which TensorBoard's readers skip. Values are flushed at
every epoch end, after the epoch is on disk (history.csv), so the event
files never hold an epoch the run folder does not.
"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path
from typing import Any

from kvt_models.events import BatchEnded, EpochEnded, Event, Listener, StageChanged, TrainStarted

EVENT_FILE_PREFIX = "events.out.tfevents."  # TensorBoard's name for an event file: <prefix><time>.<host>.<pid>.<n>
_NO_TENSORFLOW = "tensorboard.compat.notf"
EPOCH_TAGS = {"loss": "epoch/loss", "accuracy": "epoch/accuracy", "val_loss": "epoch/val_loss",
              "val_accuracy": "epoch/val_accuracy", "lr": "epoch/learning_rate"}
BATCH_LOSS_TAG = "batch/loss"
FLUSH_SECONDS = 10  # the batch values of an epoch under way reach the file this often (epoch ends: at once)


def is_event_file(name: str) -> bool:
    """Whether a run folder's file name is one of TensorBoard's event files (a plain name, no path)."""
    return name.startswith(EVENT_FILE_PREFIX) and Path(name).name == name and "\0" not in name


def _wait_for_a_later_name(run_dir: Path) -> None:
    """Wait, if need be, until a new event file's name sorts after every one already in ``run_dir``.

    TensorBoard reads a folder's event files in name order, and a name starts
    with the second it was made in, then the host, the pid and a counter of
    the process: a resume in the same second as the file before it (in one
    process, the counter may go from 9 to 10) could sort before it and lose
    its ``SessionLog.START``. A real resume comes seconds later: no wait.
    """
    try:
        stamps = [int(p.name[len(EVENT_FILE_PREFIX):].split(".", 1)[0])
                  for p in run_dir.iterdir() if is_event_file(p.name)]
    except (OSError, ValueError):
        return  # a folder that cannot be read fails where it is written, with its own line
    if stamps and max(stamps) >= int(time.time()):
        time.sleep(max(stamps) + 1 - time.time())


def _tensorboard() -> tuple[Any, Any, Any]:
    """(EventFileWriter, event_pb2, summary_pb2), with TensorBoard's TensorFlow-free file system."""
    if "tensorboard.compat.tf" not in sys.modules:  # the lazy module, not yet resolved: choose the stub
        sys.modules.setdefault(_NO_TENSORFLOW, types.ModuleType(_NO_TENSORFLOW))
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    return EventFileWriter, event_pb2, summary_pb2


class BoardWriter:
    """The listener that writes a run's events as TensorBoard scalars into its folder (see the module)."""

    def __init__(self, listener: Listener):
        self.listener = listener
        self.writer: Any = None
        self.steps = 1
        self.failed = ""  # why writing stopped (a full disk): the run goes on without event files
        self._pb: tuple[Any, Any] | None = None

    def __call__(self, event: Event) -> None:
        try:
            self._write(event)
        except ImportError as exc:  # a kvt installed without its tensorboard dependency: train all the same
            self.failed = f"the tensorboard package cannot be imported ({exc}); pip install tensorboard"
            self.listener(StageChanged("no TensorBoard files", self.failed))
        except OSError as exc:
            self.failed = f"{exc.strerror or exc}"
            self._drop()
        self.listener(event)

    def _write(self, event: Event) -> None:
        if self.failed:
            return
        if isinstance(event, TrainStarted):
            writer_cls, event_pb2, summary_pb2 = _tensorboard()
            self._pb = (event_pb2, summary_pb2)
            self.steps = max(1, event.steps_per_epoch)
            _wait_for_a_later_name(Path(event.run_dir))
            self.writer = writer_cls(event.run_dir, flush_secs=FLUSH_SECONDS)
            if event.initial_epoch:
                start = event.initial_epoch * self.steps + 1
                self.writer.add_event(event_pb2.Event(
                    wall_time=time.time(), step=start,
                    session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
        elif self.writer is None:
            return
        elif isinstance(event, BatchEnded) and "loss" in event.logs:
            self._scalars((event.epoch - 1) * self.steps + event.step, {BATCH_LOSS_TAG: event.logs["loss"]})
        elif isinstance(event, EpochEnded):
            row = event.as_row()
            self._scalars(event.epoch, {tag: float(row[key]) for key, tag in EPOCH_TAGS.items()})
            self.writer.flush()

    def _scalars(self, step: int, values: dict[str, float]) -> None:
        assert self._pb is not None
        event_pb2, summary_pb2 = self._pb
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
                                             for tag, value in values.items()])
        self.writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def close(self) -> None:
        """Flush and close the event file (idempotent); a failure to (a full disk) is remembered, not raised."""
        if self.writer is None:
            return
        try:
            self.writer.close()
        except OSError as exc:
            self.failed = f"{exc.strerror or exc}"
        self.writer = None

    def _drop(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass  # already failing: what was written before stays readable
