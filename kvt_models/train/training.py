"""Train one run: RunConfig in, events out, files on disk. No UI knowledge.

:func:`train` (a new run) and :func:`resume` (a run that ended early) are
what both front ends call -- ``kvt-train`` on the main thread, the app in a
child process. Both take the same four steps, and differ only in the first:

1. open (:mod:`kvt_models.train.opening`): the settings, the epochs already
   finished, and how to get the run folder -- all checked before anything
   slow, so a mistake costs nothing;
2. prepare: start the run's runtime (:func:`kvt_models.backend.runtime.activate`:
   Keras 3 on TensorFlow, JAX or PyTorch, or Keras 2), load the data, build
   MiniVGGNet (or reload its checkpoint) -- where TensorFlow runs it, inside a
   ``tf.distribute`` strategy scope (the default one on a single machine, so
   multi-device strategies can come later without a rewrite) -- then take the
   run folder: made now for a new run, locked again for a resumed one;
3. fit: ``model.fit(verbose=0)`` with :class:`~kvt_models.train.callbacks.KvtCallback`,
   which scores each finished epoch on the test split
   (:class:`~kvt_models.train.evaluation.EpochScorer`);
4. finish: the plots and the status. The report is the last finished
   epoch's, written with it: a run that ends, finished or stopped, does not
   evaluate again, so a stop costs the batch under way and no more.

The run store hears every event before the caller does
(:meth:`~kvt_models.store.runs.RunRecorder.recording`): when a listener hears that
epoch N ended, its checkpoint, its history row and its report are already on disk.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kvt_models.backend import runtime
from kvt_models.errors import DiskFull, KvtError, TrainingDiverged, is_user_error, one_line
from kvt_models.events import Listener, StageChanged, TrainEnded, TrainFailed, TrainStarted, ignore
from kvt_models.settings import precision
from kvt_models.settings.config import RunConfig
from kvt_models.settings.recipes import get_recipe, warmup_linear_decay
from kvt_models.store.runs import (
    CONFIG_FILE,
    CONFUSION_FILE,
    CURVES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    REPORT_FILE,
    RunRecorder,
    RunStore,
    read_json,
)
from kvt_models.train.opening import Opened, on_backend, open_existing, open_new

__all__ = ["TrainResult", "build_compiled_model", "resume", "train"]


@dataclass
class TrainResult:
    run_id: str
    run_dir: Path
    status: str  # finished | stopped | failed
    history: list[dict[str, float]] = field(default_factory=list)
    evaluation: Any = None  # kvt_models.train.evaluation.Evaluation of report_epoch; None if this process scored none
    files: dict[str, str] = field(default_factory=dict)
    params: int = 0
    message: str = ""
    fit_seconds: float = 0.0  # wall time inside model.fit (for benchmarks)
    images_trained: int = 0
    report_epoch: int | None = None  # the epoch report.json describes: the last finished one (the checkpoint's)


def build_compiled_model(cfg: RunConfig, num_classes: int, steps_per_epoch: int) -> Any:
    """MiniVGGNet for ``cfg``, compiled with its recipe, inside the strategy scope."""
    from kvt_models.model.architectures import build_minivggnet

    keras = runtime.activate(cfg.backend)
    recipe = get_recipe(cfg.recipe)
    with runtime.strategy_scope(), precision.building_in(keras, precision.resolve(cfg.precision, cfg.backend)):
        model = build_minivggnet(cfg.framework, cfg.activation, num_classes=num_classes)
        recipe.prepare_model(model)
        model.compile(
            optimizer=recipe.make_optimizer(keras, cfg.lr, cfg.epochs, steps_per_epoch),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
            metrics=["accuracy"],
        )
    return model


def train(
    config: RunConfig,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    runs_dir: str | Path | None = None,
    batch_interval: float = 0.2,
) -> TrainResult:
    """Run ``config`` in a new run folder, to the end or to a stop request.

    Bad input raises :class:`KvtError` (after a ``TrainFailed`` event); a run
    that diverges ends ``failed`` and raises :class:`TrainingDiverged`.
    """
    return _Run(listener, stop, batch_interval).run(lambda: open_new(config, RunStore(runs_dir)))


def resume(
    run_dir: str | Path,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    batch_interval: float = 0.2,
    tensorboard: bool | None = None,
) -> TrainResult:
    """Continue a stopped, crashed or killed run from its last finished epoch.

    The checkpoint holds the optimizer state, so the learning-rate schedule
    goes on where it stopped; the history ends up with every epoch once.
    ``tensorboard=False`` writes no TensorBoard events for the epochs trained
    now (None: as the run's config says).
    """
    return _Run(listener, stop, batch_interval, tensorboard).run(lambda: open_existing(Path(run_dir)))


# -- steps 2 to 4 -------------------------------------------------------------
@dataclass
class _Prepared:
    cfg: RunConfig
    data: Any  # kvt_models.data.Dataset
    model: Any  # a compiled keras.Model
    recorder: RunRecorder
    started: TrainStarted
    train_ds: Any


class _Run:
    """One run through its steps. Whatever goes wrong is told once, as a TrainFailed event."""

    def __init__(self, listener: Listener, stop: threading.Event | None, batch_interval: float,
                 tensorboard: bool | None = None):
        self.listener = listener
        self.stop = stop or threading.Event()
        self.batch_interval = batch_interval
        self.recorder: RunRecorder | None = None  # the run folder, from the moment we hold it
        self.tensorboard = tensorboard  # None: the config's
        self.board: Any = None  # kvt_models.train.tensorboard.BoardWriter, while fit writes through it

    def run(self, open_step: Callable[[], Opened]) -> TrainResult:
        try:
            prepared = self._prepare(open_step())
            scorer, fit_seconds = self._fit(prepared)
            return self._finish(prepared, scorer, fit_seconds)
        except Exception as exc:
            failure = self._fail(exc)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            self._close_board()
            if self.recorder is not None:
                self.recorder.close()  # after the last status: the run now reads as that status

    def _prepare(self, opened: Opened) -> _Prepared:
        cfg, listener = opened.cfg, self.listener
        from kvt_models.data.loader import load_dataset

        # First of all: Keras's backend is fixed by its first import, which may
        # come from the data loader (keras.datasets).
        listener(StageChanged("starting", f"{runtime.BACKENDS[cfg.backend]}"))
        keras = runtime.activate(cfg.backend)

        listener(StageChanged("loading data", cfg.data))
        data = load_dataset(
            cfg.data, train_limit=cfg.train_limit, test_limit=cfg.test_limit, seed=cfg.seed,
            progress=lambda msg: listener(StageChanged("loading data", msg)),
        )

        listener(StageChanged("building model", f"{cfg.framework} + {cfg.activation}"))
        from kvt_models.train.pipeline import make_dataset

        keras.backend.clear_session()  # drop graphs of earlier runs in this process
        # Same seed + same config = same history on CPU: seeded Python/NumPy/backend
        # generators, and on TensorFlow its kernels (and tf.data) forced onto deterministic paths.
        runtime.seed_everything(cfg.seed + opened.done)
        steps = math.ceil(len(data.x_train) / cfg.batch_size)
        if opened.checkpoint is not None:
            model = _load_checkpoint(opened.checkpoint, steps * opened.done)
            get_recipe(cfg.recipe).prepare_optimizer(model.optimizer)
            if model.output_shape[-1] != data.num_classes:
                raise KvtError(
                    f"cannot resume {opened.checkpoint.parent}: the model has {model.output_shape[-1]} classes "
                    f"but {cfg.data} now has {data.num_classes}"
                )
        else:
            model = build_compiled_model(cfg, data.num_classes, steps)
            if get_recipe(cfg.recipe).whiten:
                from kvt_models.model.whitening import whiten_first_conv

                whiten_first_conv(model, data.x_train, seed=cfg.seed)
        params = int(model.count_params())
        versions = runtime.versions()
        recorder = self.recorder = opened.take_folder({
            "class_names": data.class_names,
            "data_source": data.source,
            "train_samples": int(len(data.x_train)),
            "test_samples": int(len(data.x_test)),
            "params": params,
            "versions": versions,
        })
        started = TrainStarted(
            run_id=recorder.run_id,
            run_dir=str(recorder.path),
            framework=cfg.framework,
            activation=cfg.activation,
            # "Keras 3.15.1 on TensorFlow 2.21.0", and ", mixed bfloat16" when its math is bf16
            runtime=runtime.describe(versions) + (", mixed bfloat16" if cfg.precision == "bfloat16" else ""),
            epochs=cfg.epochs,
            steps_per_epoch=steps,
            batch_size=cfg.batch_size,
            train_samples=int(len(data.x_train)),
            test_samples=int(len(data.x_test)),
            params=params,
            class_names=list(data.class_names),
            initial_epoch=opened.done,
            history=[dict(row) for row in recorder.history],
        )
        recipe = get_recipe(cfg.recipe)
        train_ds = make_dataset(
            data.x_train, data.y_train, cfg.batch_size, num_classes=data.num_classes,
            shuffle=True, augment=recipe.augment, shift=recipe.shift, seed=cfg.seed + opened.done, repeat=True,
            # A resumed run reshuffles from a new seed, but keeps alternating its flips where it left off.
            alternate=recipe.alternate_flips, plan_seed=cfg.seed, first_epoch=opened.done,
        )
        return _Prepared(cfg, data, model, recorder, started, train_ds)

    def _fit(self, p: _Prepared) -> tuple[Any, float]:
        """Train to the end, a stop request or a NaN; return (the scorer, seconds in fit)."""
        from kvt_models.train.callbacks import KvtCallback
        from kvt_models.train.evaluation import EpochScorer

        recipe = get_recipe(p.cfg.recipe)
        scorer = EpochScorer(p.data.x_test, p.data.y_test, p.data.class_names, label_smoothing=recipe.label_smoothing,
                             flip=recipe.tta_flip)
        listener = self.listener
        if p.cfg.tensorboard if self.tensorboard is None else self.tensorboard:
            from kvt_models.train.tensorboard import BoardWriter

            # Behind the recorder: an epoch reaches the event file after history.csv.
            listener = self.board = BoardWriter(listener)
        listener = p.recorder.recording(listener, p.model.save, scorer.report)
        callback = KvtCallback(listener, p.started, stop=self.stop, batch_interval=self.batch_interval,
                               score=scorer.score)
        if not self.stop.is_set():
            scorer.warm_up(p.model)
        fit_start = time.perf_counter()
        if not self.stop.is_set():  # asked while the data loaded or the model was built: no step at all
            # No validation_data: the callback scores finished epochs itself (kvt_models.train.evaluation).
            # shuffle=False: the input pipeline already reshuffles every epoch. On TensorFlow
            # it is endless, so steps_per_epoch: fit keeps one iterator for the run (pipeline.py).
            steps = p.started.steps_per_epoch if runtime.tf_engine() else None
            p.model.fit(p.train_ds, epochs=p.cfg.epochs, initial_epoch=p.started.initial_epoch,
                        steps_per_epoch=steps, verbose=0, callbacks=[callback], shuffle=False)
        fit_seconds = time.perf_counter() - fit_start
        if callback.non_finite:
            raise TrainingDiverged(
                f"training diverged: {callback.non_finite}; lower the learning rate (--lr) and try again"
            )
        return scorer, fit_seconds

    def _finish(self, p: _Prepared, scorer: Any, fit_seconds: float) -> TrainResult:
        """The plots and the status; the report on disk is the last finished epoch's, written with it."""
        cfg, data, recorder, history = p.cfg, p.data, p.recorder, p.recorder.history
        self._close_board()  # before TrainEnded: whoever hears it (a Ray worker's shipper) finds the file whole
        self.listener(StageChanged("saving", "plots and status"))
        from kvt_models.plots import save_confusion, save_curves

        evaluation = scorer.latest  # the last epoch this process finished (and recorded), if any
        done = len(history)
        written = scorer.report()  # what report.json got with that epoch, less the epoch
        if written is not None:
            report: dict[str, Any] = written
            report_epoch: int | None = done
        else:
            # No epoch finished here (a resumed run stopped in its first new epoch): what the run
            # had is on disk, its report among it when that names the checkpoint's epoch.
            on_disk = read_json(recorder.file(REPORT_FILE))
            matches = isinstance(on_disk, dict) and on_disk.get("epoch") == done and done > 0
            report = on_disk if matches else {}
            report_epoch = done if matches else None
        files = {name: str(recorder.file(file)) for name, file in (
            ("config", CONFIG_FILE), ("history", HISTORY_FILE), ("report", REPORT_FILE), ("model", MODEL_FILE))
            if recorder.file(file).exists()}
        title = f"Training Loss and Accuracy ({cfg.framework} + {cfg.activation}{on_backend(cfg)})"
        if history:
            files["curves"] = str(save_curves(history, recorder.file(CURVES_FILE), title))
        if evaluation is not None:
            files["confusion"] = str(save_confusion(evaluation.confusion, evaluation.class_names,
                                                    recorder.file(CONFUSION_FILE)))

        status = "stopped" if done < cfg.epochs else "finished"
        message = f"stopped after {done} of {cfg.epochs} epochs" if status == "stopped" else ""
        recorder.set_status(status, message)
        self.listener(TrainEnded(
            run_id=recorder.run_id, run_dir=str(recorder.path), status=status, epochs_done=done,
            report=report.get("report") or {}, confusion=report.get("confusion") or [],
            class_names=report.get("class_names") or list(data.class_names), files=files,
        ))
        return TrainResult(
            recorder.run_id, recorder.path, status, list(history), evaluation, files, p.started.params, message,
            fit_seconds=fit_seconds, images_trained=(done - p.started.initial_epoch) * len(data.x_train),
            report_epoch=report_epoch,
        )

    def _close_board(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None

    def _fail(self, exc: Exception) -> Exception:
        """Tell the failure once (status, TrainFailed event); what to raise: ``exc``, or a line that says more."""
        recorder = self.recorder
        if isinstance(exc, DiskFull) and recorder is not None:
            done = len(recorder.history)
            saved = f"epoch {done} is saved and intact" if done else "no epoch had finished yet"
            exc = DiskFull(exc.folder, exc.name, f"no space left on the device of {exc.folder} (writing {exc.name}): "
                           f"{saved}; free some space there, then resume the run: kvt-train --resume {recorder.path}")
        # A KvtError is our own line already; anything else is a crash, named by its type.
        message = one_line(exc, with_type=not isinstance(exc, KvtError))
        if recorder is not None:
            try:
                recorder.set_status("failed", message)
            except KvtError:
                pass  # the disk is what failed; the event below still tells the user
        self.listener(TrainFailed(
            message=message,
            run_id=recorder.run_id if recorder else "",
            run_dir=str(recorder.path) if recorder else "",
            user_error=is_user_error(exc),
        ))
        return exc


def _load_checkpoint(path: Path, iterations: int) -> Any:
    """Reload model.keras with its optimizer, safely (registered layers, safe_mode=True)."""
    from kvt_models.model import layers  # noqa: F401 - registers CReLU and TFActivation for deserialization

    keras = runtime.keras()  # the run's own runtime, activated by _prepare
    warmup_linear_decay(keras)  # registers the schedule that a saved optimizer may name
    try:
        with runtime.strategy_scope():
            model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise KvtError(f"cannot resume {path.parent}: {MODEL_FILE} cannot be read ({type(exc).__name__}); start a new run") from exc
    if model.optimizer is None:
        raise KvtError(f"cannot resume {path.parent}: {MODEL_FILE} has no optimizer state; start a new run")
    # The history is the truth about finished epochs; a kill between the
    # checkpoint and its history row can leave the optimizer one epoch ahead.
    model.optimizer.iterations.assign(iterations)
    return model
