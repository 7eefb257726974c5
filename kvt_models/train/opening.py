"""Step 1 of a run: open it. The settings, the epochs already finished, and how to get the run folder.

Everything here is checked before anything slow (the runtime, the data, the
model), so a mistake costs nothing: a bad runs dir, a missing runtime, a
damaged or running folder to resume. The folder itself is taken only in step
2 (:mod:`kvt_models.train.training`), once the data and the model are known:
bad data leaves no run folder behind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from kvt_models.backend import runtime
from kvt_models.errors import KvtError
from kvt_models.settings import precision
from kvt_models.settings.config import RunConfig
from kvt_models.settings.recipes import get_recipe
from kvt_models.store.damage import problem
from kvt_models.store.locking import lock_held
from kvt_models.store.runs import (
    CONFIG_FILE,
    MODEL_FILE,
    PRECISION_ASKED,
    RECIPE_FINGERPRINT,
    RunRecorder,
    RunStore,
    read_history,
    read_run_info,
)


@dataclass
class Opened:
    """What to train, from which epoch, and how to get hold of the run folder once it is time."""

    cfg: RunConfig
    done: int  # epochs already finished: 0 for a new run
    checkpoint: Path | None  # the model to go on from; None: build a new one
    # The facts found in step 2 (classes, sizes, params) -> the run folder, locked by us.
    take_folder: Callable[[dict[str, Any]], RunRecorder]


def open_new(config: RunConfig, store: RunStore) -> Opened:
    cfg = config.resolved()
    # "auto" precision is decided here, in the process that trains (a Ray worker's own CPU, not the
    # driver's); config.json records what it became and what was asked.
    asked = cfg.precision
    cfg = replace(cfg, precision=precision.resolve(cfg.precision, cfg.backend))
    runtime.require(cfg.backend)  # a missing extra: one line naming the pip command, before anything slow
    store.ensure()  # a bad runs dir fails before minutes of data loading

    def take_folder(facts: dict[str, Any]) -> RunRecorder:
        # Made only now, with everything known: bad data leaves no run folder behind.
        recorded = {**cfg.to_dict(), PRECISION_ASKED: asked, RECIPE_FINGERPRINT: get_recipe(cfg.recipe).fingerprint()}
        return store.create({"config": recorded, **facts}, label=folder_label(cfg))

    return Opened(cfg, 0, None, take_folder)


def open_existing(run_dir: Path) -> Opened:
    if not run_dir.is_dir():
        raise KvtError(f"cannot resume {run_dir}: no such run folder; pick one from the runs dir")
    info = read_run_info(run_dir)
    if info is None:
        raise KvtError(f"cannot resume {run_dir}: it has no readable {CONFIG_FILE}, so it is not a kvt run")
    if lock_held(run_dir):
        raise KvtError(f"cannot resume {run_dir}: it is still running; stop it first")
    trouble = problem(run_dir, thorough=True)  # before anything slow, and before anything is written
    if trouble:
        raise KvtError(f"cannot resume {run_dir}: {trouble}")
    try:
        cfg = RunConfig.from_dict(info.config)
        cfg.validate()
    except (TypeError, KvtError) as exc:
        raise KvtError(f"cannot resume {run_dir}: its {CONFIG_FILE} is not valid ({exc})") from None
    # Its own runtime: a checkpoint reloads where it was written (Keras 2's differs from Keras 3's).
    runtime.require(cfg.backend)
    done = len(read_history(run_dir))
    if done and not (run_dir / MODEL_FILE).is_file():
        raise KvtError(f"cannot resume {run_dir}: {MODEL_FILE} is missing, so there is nothing to continue from")
    if done >= (cfg.epochs or 0):
        raise KvtError(f"nothing to resume in {run_dir}: all {cfg.epochs} epochs are done")

    def take_folder(facts: dict[str, Any]) -> RunRecorder:
        recorder = RunRecorder.reopen(run_dir)  # the lock: one process resumes it, whoever asks
        if len(recorder.history) != done:
            recorder.close()
            raise KvtError(f"cannot resume {run_dir}: another process trained it meanwhile; try again")
        recorder.set_status("running", f"resumed after epoch {done}")
        return recorder

    return Opened(cfg, done, run_dir / MODEL_FILE if done else None, take_folder)



def on_backend(cfg: RunConfig) -> str:
    """`` on jax`` for a run off the default runtime, else nothing: how labels and titles name it."""
    return f" on {cfg.backend}" if cfg.backend != runtime.BACKEND_DEFAULT else ""


def folder_label(cfg: RunConfig) -> str:
    """The run folder's label: ``keras-relu``, ``keras-relu-jax``."""
    return f"{cfg.framework}-{cfg.activation}" + (f"-{cfg.backend}" if on_backend(cfg) else "")
