"""Run folders and stand-ins for the engine, shared by the engine, cluster and app tests (no Textual here).

``write_run`` writes a run folder with the run store's own writer, as a
training would leave it. ``FakeEngine`` and ``InstantEngine`` stand in for
``train`` where training is not the subject; ``spying`` wraps the real one.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from kvt_models.events import BatchEnded, EpochEnded, Event, StageChanged, TrainEnded, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.settings.recipes import get_recipe
from kvt_models.store.runs import RECIPE_FINGERPRINT, RunStore, RunWriter

TRAINING_TIMEOUT = 300  # seconds; generous for a loaded 2-core machine


# -- a stand-in for the engine ---------------------------------------------------------
class FakeEngine:
    """Stands in for the engine's ``train`` (or ``isolated.train_isolated``) and ``resume``: no TensorFlow, no files.

    Each call announces a run. With ``hold`` it then sends a batch and waits
    for the app to set the stop flag (the engine checks it at each batch
    end) and ends "stopped"; without, it ends "finished" at once. ``calls``
    has every config it was given to train, ``resumed`` every run folder it
    was given to resume, ``run_dirs`` the folders it announced; ``started``
    is set once the first run has begun.
    """

    def __init__(self, *, hold: bool = True) -> None:
        self.hold = hold
        self.calls: list[RunConfig] = []
        self.resumed: list[Path] = []
        self.run_dirs: list[Path] = []
        self.started = threading.Event()

    def __call__(self, config: RunConfig, listener: Callable[[Event], None], *,
                 stop: threading.Event, runs_dir: Path, **_: Any) -> SimpleNamespace:
        self.calls.append(config)
        run_dir = Path(runs_dir) / f"fake-{len(self.calls)}"
        return self._run(run_dir, config.framework, config.activation, 0, listener, stop)

    def resume(self, run_dir: Path, listener: Callable[[Event], None], *, stop: threading.Event, **_: Any) -> SimpleNamespace:
        self.resumed.append(Path(run_dir))
        return self._run(Path(run_dir), "keras", "relu", 1, listener, stop)

    def _run(self, run_dir: Path, framework: str, activation: str, initial_epoch: int,
             listener: Callable[[Event], None], stop: threading.Event) -> SimpleNamespace:
        self.run_dirs.append(run_dir)
        listener(StageChanged("loading data", "sample"))
        listener(TrainStarted(run_dir.name, str(run_dir), framework, activation, 2, 10, 32, 320, 64, 1000, ["a", "b"],
                              initial_epoch=initial_epoch))
        if self.hold:
            listener(BatchEnded(initial_epoch + 1, 1, 10, {"loss": 1.0}, 640.0, 0.05))
            self.started.set()
            if not stop.wait(TRAINING_TIMEOUT):
                raise AssertionError("the app never asked the fake run to stop")
            status, epochs = "stopped", initial_epoch
        else:
            self.started.set()
            status, epochs = "finished", initial_epoch + 1
        listener(TrainEnded(run_dir.name, str(run_dir), status, epochs))
        return SimpleNamespace(status=status, run_dir=run_dir)  # what run_comparison reads of a TrainResult


# -- run folders, written by the run store ------------------------------------------------
def history_rows(val_accuracies: list[float]) -> list[dict[str, float]]:
    """A history whose accuracies are ``val_accuracies`` (loss falling as they rise)."""
    return [
        {"epoch": epoch, "loss": 2 - acc, "accuracy": acc, "val_loss": 2.1 - acc, "val_accuracy": acc, "lr": 0.01, "seconds": 1.5}
        for epoch, acc in enumerate(val_accuracies, start=1)
    ]


def write_run(
    runs_dir: Path,
    config: dict[str, Any],
    history: list[dict[str, float]],
    *,
    status: str = "finished",
    run_id: str | None = None,
    created: str = "",
    report: tuple[dict[str, Any], list[list[int]], list[str]] | None = None,
    **facts: Any,
) -> Path:
    """A run folder written with the run store's own writer, as a training would leave it.

    ``run_id`` fixes the folder's name (screenshots show it); else the store
    names it. ``created`` fixes its date (the runs view sorts by it);
    ``facts`` go into config.json beside the settings (``params``, ``class_names``).
    """
    if "recipe" in config and RECIPE_FINGERPRINT not in config:  # what a training writes: today's recipe
        config = {**config, RECIPE_FINGERPRINT: get_recipe(config["recipe"]).fingerprint()}
    record = {"config": config, **facts, **({"created": created} if created else {})}
    if run_id is None:
        writer = RunStore(runs_dir).create(record, f"{config['framework']}-{config['activation']}")
    else:
        path = RunStore(runs_dir).ensure() / run_id
        path.mkdir()
        writer = RunWriter(path, run_id)
        writer.write_config(record)
    for row in history:
        writer.append_history(row)
    if report is not None:
        writer.write_report(*report)
    writer.set_status(status)
    return writer.path


def spying(train_fn: Callable[..., Any], event_type: type, seen: threading.Event) -> Callable[..., Any]:
    """``train_fn`` (the real engine, in-process or in a child), with a spy that sets ``seen`` at the first
    ``event_type`` event; the app gets every event as usual."""

    def spying_train(config: Any, listener: Callable[..., None], **kwargs: Any) -> Any:
        def spy(event: Any) -> None:
            listener(event)
            if isinstance(event, event_type):
                seen.set()

        return train_fn(config, spy, **kwargs)

    return spying_train


class InstantEngine:
    """Stands in for the engine where training is not the subject (the Compare tab's queue, its reuse).

    Each call writes a finished run at once, with the run store's own writer
    and the resolved settings as the engine records them (so a comparison
    reuses it next time), tells the app about it with the engine's events,
    and returns what run_comparison reads of a TrainResult. Accuracies differ
    by seed and variant so the statistics have something to show; or
    ``final(config)`` says each run's last test accuracy (a comparison's
    decision is the subject). Real queues train in tests/engine/test_compare.py
    and tests/engine/test_isolated.py.
    """

    def __init__(self, final: Callable[[RunConfig], float] | None = None) -> None:
        self.calls: list[RunConfig] = []
        self.final = final

    def __call__(self, config: RunConfig, listener: Callable[[Event], None], *,
                 stop: threading.Event, runs_dir: Path, **_: Any) -> SimpleNamespace:
        cfg = config.resolved()
        self.calls.append(cfg)
        lead = 0.02 if cfg.framework == "tensorflow" else 0.0
        accs = [0.30 + lead + 0.01 * cfg.seed + 0.05 * epoch for epoch in range(cfg.epochs)]
        if self.final is not None:
            accs = [self.final(cfg) - 0.05 * (cfg.epochs - 1 - epoch) for epoch in range(cfg.epochs)]
        rows = history_rows(accs)
        names = ["airplane", "automobile"]
        path = write_run(Path(runs_dir), cfg.to_dict(), rows, params=1000, class_names=names)
        listener(TrainStarted(path.name, str(path), cfg.framework, cfg.activation, cfg.epochs, 2, cfg.batch_size,
                              64, 40, 1000, names))
        for row in rows:
            listener(EpochEnded(cfg.epochs and int(row["epoch"]), cfg.epochs, row["loss"], row["accuracy"],
                                row["val_loss"], row["val_accuracy"], row["lr"], row["seconds"]))
        listener(TrainEnded(path.name, str(path), "finished", cfg.epochs))
        return SimpleNamespace(status="finished", run_dir=path, message="")
