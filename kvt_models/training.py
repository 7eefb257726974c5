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
from .errors import KvtError, TrainingDiverged, is_user_error, one_line
from .events import EpochEnded, Event, Listener, StageChanged, TrainEnded, TrainFailed, TrainStarted, ignore
from .recipes import get_recipe
from .runs import CONFUSION_FILE, CURVES_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE, RunStore, RunWriter, atomic_save


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
    """Run ``config`` in a new run folder, to the end or to a stop request.

    Bad input raises :class:`KvtError` (after a ``TrainFailed`` event); a run
    that diverges ends ``failed`` and raises :class:`TrainingDiverged`.
    """
    return _run(config, listener, stop=stop, runs_dir=runs_dir, batch_interval=batch_interval)


def resume(
    run_dir: str | Path,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    batch_interval: float = 0.2,
) -> TrainResult:
    """Continue a stopped, crashed or killed run from its last finished epoch.

    The checkpoint holds the optimizer state, so the learning-rate schedule
    goes on where it stopped; the history ends up with every epoch once.
    """
    return _run(None, listener, stop=stop, resume_dir=Path(run_dir), batch_interval=batch_interval)


def _open_for_resume(run_dir: Path) -> tuple[RunConfig, RunWriter, list[dict[str, float]]]:
    from .runs import MODEL_FILE, read_history, read_run_info

    if not run_dir.is_dir():
        raise KvtError(f"cannot resume {run_dir}: no such run folder; pick one from the runs dir")
    info = read_run_info(run_dir)
    if info is None:
        raise KvtError(f"cannot resume {run_dir}: it has no readable config.json, so it is not a kvt run")
    if info.status == "running":
        raise KvtError(f"cannot resume {run_dir}: it is still running (pid alive); stop it first")
    try:
        cfg = RunConfig.from_dict(info.config)
        cfg.validate()
    except (TypeError, KvtError) as exc:
        raise KvtError(f"cannot resume {run_dir}: its config.json is not valid ({exc})") from None
    history = read_history(run_dir)
    if history and not (run_dir / MODEL_FILE).is_file():
        raise KvtError(f"cannot resume {run_dir}: model.keras is missing, so there is nothing to continue from")
    if len(history) >= (cfg.epochs or 0):
        raise KvtError(f"nothing to resume in {run_dir}: all {cfg.epochs} epochs are done")
    # Keep exactly the finished epochs: rewrite history.csv without a torn last line.
    writer = RunWriter(run_dir, run_dir.name)
    writer.rewrite_history(history)
    return cfg, writer, history


def _run(
    config: RunConfig | None,
    listener: Listener,
    *,
    stop: threading.Event | None,
    runs_dir: str | Path | None = None,
    resume_dir: Path | None = None,
    batch_interval: float,
) -> TrainResult:
    stop = stop or threading.Event()
    writer: RunWriter | None = None
    try:
        history: list[dict[str, float]] = []
        if resume_dir is not None:
            cfg, writer, history = _open_for_resume(resume_dir)
            writer.set_status("running", f"resumed after epoch {len(history)}")
        else:
            assert config is not None
            cfg = config.resolved()
            RunStore(runs_dir).ensure()  # a bad runs dir fails before minutes of data loading
        initial_epoch = len(history)

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
        # Same seed + same config = same history on CPU: seeded Python/NumPy/TF
        # generators, and TF kernels (and tf.data) forced onto deterministic paths.
        keras.utils.set_random_seed(cfg.seed + initial_epoch)
        tf.config.experimental.enable_op_determinism()
        recipe = get_recipe(cfg.recipe)
        steps = math.ceil(len(data.x_train) / cfg.batch_size)
        if initial_epoch:
            model = _load_checkpoint(writer, steps * initial_epoch)
        else:
            model = build_compiled_model(cfg, data.num_classes, steps)
        params = int(model.count_params())
        if model.output_shape[-1] != data.num_classes:
            raise KvtError(
                f"cannot resume {writer.path}: the model has {model.output_shape[-1]} classes "
                f"but {cfg.data} now has {data.num_classes}"
            )

        if writer is None:
            writer = RunStore(runs_dir).create(
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
            shuffle=True, augment=recipe.augment, seed=cfg.seed + initial_epoch,
        )
        test_ds = make_dataset(data.x_test, data.y_test, cfg.batch_size, num_classes=data.num_classes)

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
            initial_epoch=initial_epoch,
        )
        callback = KvtCallback(record, started, stop=stop, batch_interval=batch_interval)
        fit_start = time.perf_counter()
        # shuffle=False: the tf.data pipeline already reshuffles every epoch.
        model.fit(train_ds, validation_data=test_ds, epochs=cfg.epochs, initial_epoch=initial_epoch,
                  verbose=0, callbacks=[callback], shuffle=False)
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
            fit_seconds=fit_seconds, images_trained=(len(history) - initial_epoch) * len(data.x_train),
        )
    except Exception as exc:
        # A KvtError is our own line already; anything else is a crash, named by its type.
        _fail(listener, writer, one_line(exc, with_type=not isinstance(exc, KvtError)), user_error=is_user_error(exc))
        raise


def _load_checkpoint(writer: RunWriter, iterations: int) -> Any:
    """Reload model.keras with its optimizer, safely (registered layers, safe_mode=True)."""
    from . import layers  # noqa: F401 - registers CReLU and TFActivation for deserialization
    from .tfenv import import_tf

    tf, keras = import_tf()
    path = writer.file(MODEL_FILE)
    try:
        with tf.distribute.get_strategy().scope():
            model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read a checkpoint means "bad file"
        raise KvtError(f"cannot resume {writer.path}: model.keras cannot be read ({type(exc).__name__}); start a new run") from exc
    if model.optimizer is None:
        raise KvtError(f"cannot resume {writer.path}: model.keras has no optimizer state; start a new run")
    # The history is the truth about finished epochs; a kill between the
    # checkpoint and its history row can leave the optimizer one epoch ahead.
    model.optimizer.iterations.assign(iterations)
    return model


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
