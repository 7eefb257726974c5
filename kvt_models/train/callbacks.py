"""The Keras callback that turns Keras hooks into kvt events.

It is the only place where training talks to the outside world: it copies the
numbers it needs out of Keras's ``logs`` (Keras reuses those dicts), wraps
them in the plain dataclasses of :mod:`kvt_models.events`, and hands them to
a listener. Batch events are throttled, because a CIFAR-10 epoch has 1,563
batches and a screen needs a few updates a second, not a thousand. About once
a second, and before each epoch's end, it also sends the training process's
own CPU and memory figures (:mod:`kvt_models.train.monitor`).

A stop request (a ``threading.Event`` set by the app's Stop key, a signal
handler, ...) is honoured at the next batch end by setting
``model.stop_training``; ``fit`` then returns normally. An epoch that the stop
cut short is not scored, not recorded and not reported: the run ends with its
last finished epoch on disk. A stop on an epoch's last batch cuts nothing, so
that epoch is scored and kept. Epochs are scored here, on the test split, by
``score`` (:class:`~kvt_models.train.evaluation.EpochScorer`), not by Keras's
``validation_data``, which would evaluate a cut epoch before any callback
could skip it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

import numpy as np

from kvt_models.backend import runtime
from kvt_models.events import BatchEnded, EpochEnded, Listener, TrainStarted

keras: Any = runtime.keras()  # import this module after the runtime is chosen

METRIC_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class KvtCallback(keras.callbacks.Callback):
    """Send TrainStarted / BatchEnded / EpochEnded events and honour stop requests."""

    def __init__(
        self,
        listener: Listener,
        started: TrainStarted,
        *,
        stop: threading.Event | None = None,
        batch_interval: float = 0.2,
        score: Callable[[Any], tuple[float, float]] | None = None,
        system_interval: float | None = 1.0,
    ):
        super().__init__()
        self.listener = listener
        self.started = started
        self.stop = stop or threading.Event()
        self.batch_interval = batch_interval
        self.epochs = started.epochs
        self.steps = started.steps_per_epoch
        self.batch_size = started.batch_size
        # model -> (val_loss, val_accuracy) on the test split, for a finished epoch; None: not scored (NaN)
        self.score = score
        self.stopped = False  # a stop request ended the run
        self.cut = False  # ... in the middle of an epoch, which is then thrown away
        self.non_finite: str | None = None
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_emit = 0.0
        self._last_batch_end = 0.0
        self._last_emit_step = 0
        self.system_interval = system_interval  # None: no SystemSampled events
        self._monitor: Any = None

    def _sample_system(self, *, always: bool = False) -> None:
        if self._monitor is not None and (always or self._monitor.due()):
            self.listener(self._monitor.sample())

    # -- hooks -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.listener(self.started)
        if self.system_interval is not None:
            from kvt_models.train.monitor import SystemMonitor  # psutil: only where a run trains

            self._monitor = SystemMonitor(self.system_interval)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._epoch_start = self._last_emit = self._last_batch_end = time.perf_counter()
        self._last_emit_step = 0
        if self._monitor is not None:
            self._monitor.epoch_began()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = batch + 1
        if self.stop.is_set():
            self.stopped = True
            self.model.stop_training = True
            # On the epoch's last batch the stop cuts nothing: that epoch is finished and kept.
            self.cut = self.cut or step < self.steps
        # Keras has already turned the logs into Python floats for us, so this
        # check costs nothing; a NaN caught at its first batch wastes no epoch.
        loss = _as_float(logs.get("loss", 0.0))
        if not math.isfinite(loss) and self.non_finite is None:
            self.non_finite = f"loss became {loss} at epoch {self._epoch}, batch {step}"
            self.model.stop_training = True
        now = self._last_batch_end = time.perf_counter()
        self._sample_system()
        # Emit a few times a second, and always for an epoch's last batch.
        if now - self._last_emit < self.batch_interval and step < self.steps:
            return
        since, since_step = now - self._last_emit, self._last_emit_step
        self._last_emit, self._last_emit_step = now, step
        elapsed = now - self._epoch_start
        self.listener(
            BatchEnded(
                epoch=self._epoch,
                step=step,
                steps=self.steps,
                logs={k: _as_float(v) for k, v in logs.items() if k in METRIC_KEYS},
                images_per_second=(step * self.batch_size / elapsed) if elapsed > 0 else 0.0,
                epoch_elapsed=elapsed,
                recent_images_per_second=(step - since_step) * self.batch_size / since if since > 0 else math.nan,
            )
        )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # Training alone, without the evaluation on the test set that follows it: what img/s is measured on.
        train_seconds = self._last_batch_end - self._epoch_start
        loss, accuracy = _as_float(logs.get("loss")), _as_float(logs.get("accuracy"))
        if not math.isfinite(loss) and self.non_finite is None:
            self.non_finite = f"loss became {loss} at epoch {epoch + 1}"
            self.model.stop_training = True
        if self.cut or self.non_finite:
            # An epoch cut short (stop request, NaN) is not a finished epoch: it is neither
            # scored nor recorded, and the history and the checkpoint only hold finished ones.
            return
        val_loss, val_accuracy = self.score(self.model) if self.score is not None else (math.nan, math.nan)
        self._sample_system(always=True)  # the epoch's peak memory and mean CPU, scoring included, for its line
        self.listener(
            EpochEnded(
                epoch=epoch + 1,
                epochs=self.epochs,
                loss=loss,
                accuracy=accuracy,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                lr=current_learning_rate(self.model.optimizer),
                seconds=time.perf_counter() - self._epoch_start,
                train_seconds=train_seconds,
            )
        )
        if self.stop.is_set():
            # Asked while this epoch was scored or saved: end now, before another epoch begins.
            self.stopped = True
            self.model.stop_training = True


def current_learning_rate(optimizer: Any) -> float:
    """The learning rate the optimizer will use for its next step, as a float."""
    lr = optimizer.learning_rate
    try:
        # A TF or JAX array, a torch tensor or a tf.Variable: NumPy reads them all.
        return float(np.asarray(keras.ops.convert_to_numpy(lr) if hasattr(keras, "ops") else lr))
    except (TypeError, ValueError):
        return math.nan
