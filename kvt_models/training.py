"""Train one run: RunConfig in, events out, files on disk. No UI knowledge.

:func:`train` is what both front ends call -- ``kvt-train`` on the main
thread, the app on a worker thread. It loads the data, builds and compiles
MiniVGGNet inside a ``tf.distribute`` strategy scope (the default one on a
single machine, so multi-device strategies can come later without a rewrite),
runs ``model.fit(verbose=0)`` with :class:`~kvt_models.callbacks.KvtCallback`,
evaluates on the test split with scikit-learn, and writes the run folder.

The run store listens to the same events as the caller, and sees each epoch
first: when a listener hears that epoch N ended, its history row and its
checkpoint are already on disk.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import KvtError
from .events import EpochEnded, Event, Listener, StageChanged, TrainEnded, TrainFailed, TrainStarted, ignore
from .recipes import get_recipe
from .runs import CONFUSION_FILE, CURVES_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE, RunStore, RunWriter, atomic_save


class TrainingDiverged(KvtError):
    """The loss became NaN or infinite; the run is kept and marked failed."""


@dataclass
class TrainResult:
    run_id: str
    run_dir: Path
    status: str  # finished | stopped | failed
    history: list[dict[str, float]] = field(default_factory=list)
    evaluation: Any = None  # kvt_models.evaluation.Evaluation
    files: dict[str, str] = field(default_factory=dict)
    params: int = 0
    message: str = ""
    fit_seconds: float = 0.0  # wall time inside model.fit (for benchmarks)
    images_trained: int = 0


def framework_versions() -> dict[str, str]:
    from .tfenv import import_tf

    tf, keras = import_tf()
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tf.keras": tf.keras.__version__}


def build_compiled_model(cfg: RunConfig, num_classes: int, steps_per_epoch: int) -> Any:
    """MiniVGGNet for ``cfg``, compiled with its recipe, inside the strategy scope."""
    from .architectures import build_minivggnet
    from .tfenv import import_tf

    tf, keras = import_tf()
    recipe = get_recipe(cfg.recipe)
    with tf.distribute.get_strategy().scope():
        model = build_minivggnet(cfg.framework, cfg.activation, num_classes=num_classes)
        model.compile(
            optimizer=recipe.make_optimizer(cfg.lr, cfg.epochs, steps_per_epoch),
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
    """Run ``config`` to the end (or to a stop request) and return what happened.

    Bad input raises :class:`KvtError` (after a ``TrainFailed`` event); a run
    that diverges ends ``failed`` and raises :class:`TrainingDiverged`.
    """
    stop = stop or threading.Event()
    writer: RunWriter | None = None
    try:
        cfg = config.resolved()
        store = RunStore(runs_dir)
        store.ensure()  # a bad runs dir fails before minutes of data loading

        from .data import load_dataset

        listener(StageChanged("loading data", cfg.data))
        data = load_dataset(
            cfg.data,
            train_limit=cfg.train_limit,
            test_limit=cfg.test_limit,
            seed=cfg.seed,
            progress=lambda msg: listener(StageChanged("loading data", msg)),
        )

        listener(StageChanged("building model", f"{cfg.framework} + {cfg.activation}"))
        from .callbacks import KvtCallback
        from .pipeline import make_dataset
        from .tfenv import import_tf

        tf, keras = import_tf()
        keras.backend.clear_session()  # drop graphs of earlier runs in this process
        keras.utils.set_random_seed(cfg.seed)
        recipe = get_recipe(cfg.recipe)
        steps = math.ceil(len(data.x_train) / cfg.batch_size)
        model = build_compiled_model(cfg, data.num_classes, steps)
        params = int(model.count_params())

        writer = store.create(
            {
                "config": cfg.to_dict(),
                "class_names": data.class_names,
                "data_source": data.source,
                "train_samples": int(len(data.x_train)),
                "test_samples": int(len(data.x_test)),
                "params": params,
                "versions": framework_versions(),
            },
            label=f"{cfg.framework}-{cfg.activation}",
        )
        train_ds = make_dataset(
            data.x_train, data.y_train, cfg.batch_size, num_classes=data.num_classes,
            shuffle=True, augment=recipe.augment, seed=cfg.seed,
        )
        test_ds = make_dataset(data.x_test, data.y_test, cfg.batch_size, num_classes=data.num_classes)

        history: list[dict[str, float]] = []

        def record(event: Event) -> None:
            if isinstance(event, EpochEnded):
                # Checkpoint first, then the history row: a row on disk always
                # has a checkpoint at least as new beside it.
                atomic_save(writer.file(MODEL_FILE), model.save)
                row = event.as_row()
                writer.append_history(row)
                history.append(row)
            listener(event)

        started = TrainStarted(
            run_id=writer.run_id,
            run_dir=str(writer.path),
            framework=cfg.framework,
            activation=cfg.activation,
            epochs=cfg.epochs,
            steps_per_epoch=steps,
            batch_size=cfg.batch_size,
            train_samples=int(len(data.x_train)),
            test_samples=int(len(data.x_test)),
            params=params,
            class_names=list(data.class_names),
        )
        callback = KvtCallback(record, started, stop=stop, batch_interval=batch_interval, epochs=cfg.epochs)
        fit_start = time.perf_counter()
        # shuffle=False: the tf.data pipeline already reshuffles every epoch.
        model.fit(train_ds, validation_data=test_ds, epochs=cfg.epochs, verbose=0, callbacks=[callback], shuffle=False)
        fit_seconds = time.perf_counter() - fit_start

        if callback.non_finite:
            raise TrainingDiverged(
                f"training diverged: {callback.non_finite}; lower the learning rate (--lr) and try again"
            )

        listener(StageChanged("evaluating", f"{len(data.x_test):,} test images"))
        from .evaluation import evaluate_predictions, predict_classes
        from .plots import save_confusion, save_curves

        evaluation = evaluate_predictions(
            data.y_test, predict_classes(model, data.x_test, cfg.batch_size), data.class_names
        )
        writer.write_report(evaluation.report, evaluation.confusion, evaluation.class_names)
        if not history:
            # Stopped inside the first epoch: keep the weights we have anyway.
            atomic_save(writer.file(MODEL_FILE), model.save)
        files = {"config": str(writer.file("config.json")), "history": str(writer.file(HISTORY_FILE)),
                 "report": str(writer.file(REPORT_FILE)), "model": str(writer.file(MODEL_FILE))}
        title = f"Training Loss and Accuracy ({cfg.framework} + {cfg.activation})"
        if history:
            files["curves"] = str(save_curves(history, writer.file(CURVES_FILE), title))
        files["confusion"] = str(save_confusion(evaluation.confusion, evaluation.class_names, writer.file(CONFUSION_FILE)))

        status = "stopped" if callback.stopped_early or len(history) < cfg.epochs else "finished"
        message = f"stopped after {len(history)} of {cfg.epochs} epochs" if status == "stopped" else ""
        writer.set_status(status, message)
        listener(
            TrainEnded(
                run_id=writer.run_id,
                run_dir=str(writer.path),
                status=status,
                epochs_done=len(history),
                report=evaluation.report,
                confusion=evaluation.confusion,
                class_names=evaluation.class_names,
                files=files,
            )
        )
        return TrainResult(
            writer.run_id, writer.path, status, history, evaluation, files, params, message,
            fit_seconds=fit_seconds, images_trained=len(history) * len(data.x_train),
        )
    except KvtError as exc:
        _fail(listener, writer, str(exc), user_error=True)
        raise
    except Exception as exc:
        _fail(listener, writer, f"{type(exc).__name__}: {exc}".splitlines()[0], user_error=False)
        raise


def _fail(listener: Listener, writer: RunWriter | None, message: str, *, user_error: bool) -> None:
    if writer is not None:
        try:
            writer.set_status("failed", message)
        except KvtError:
            pass  # the disk is what failed; the event below still tells the user
    listener(
        TrainFailed(
            message=message,
            run_id=writer.run_id if writer else "",
            run_dir=str(writer.path) if writer else "",
            user_error=user_error,
        )
    )
