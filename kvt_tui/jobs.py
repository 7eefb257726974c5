"""What the app's thread workers run: the engine, with its events relayed as messages.

Each function runs on a worker thread and never touches a widget: it only
calls ``post``, the ``post_message`` of the widget that started the worker
(the main screen's run controller, or the model view; thread-safe, never
blocks the engine). Training, resuming, comparison queues and the model view's layer
tables all run in child processes (:mod:`kvt_models.train.isolated`): TensorFlow
keeps memory from every fit, and importing it would cost the app ~600 MB.
Engine modules are imported inside each function, after the first frame.

Every failure of a run reaches the screen as exactly one
:class:`~kvt_tui.messages.FailedMessage`: the engine's own ``TrainFailed``
when it sent one, else one made here. An exception that escapes a job
anyway is a bug in kvt: :func:`report_worker_error` says so.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from textual.message import Message

from kvt_models.errors import KvtError, is_user_error, one_line

from .messages import CompareDone, ModelsDescribed, message_for

if TYPE_CHECKING:
    from textual.app import App
    from textual.widget import Widget
    from textual.worker import Worker

    from kvt_models.events import Event
    from kvt_models.settings.config import RunConfig
    from kvt_models.variants import Variant

log = logging.getLogger("kvt_tui")

Post = Callable[[Message], Any]


def report_worker_error(node: Widget | App[Any], worker: Worker[Any]) -> None:
    """A worker's uncaught exception (a Worker.StateChanged to ERROR): logged, and said on screen; the app keeps running.

    The functions below turn every engine failure into a message, so an error
    that reaches here is a bug in kvt, not the user's.
    """
    error = worker.error or RuntimeError("no exception recorded")  # always one in the ERROR state
    log.error("worker %s failed", worker.name, exc_info=error)
    node.notify(one_line(error, with_type=True), title=f"{worker.name} failed", severity="error")


class RayChoice(NamedTuple):
    """The Compare tab's choice to train on Ray: the address (``local``, ``auto``, ``HOST:PORT``) and CPUs per run."""

    address: str
    cpus_per_run: int


def relay(post: Post, body: Callable[[Callable[[Event], None]], Any]) -> Any:
    """``body(listener)``, where the listener posts every event; None when the run failed."""
    from kvt_models.events import TrainFailed

    failed = False

    def listener(event: Event) -> None:
        nonlocal failed
        failed = failed or isinstance(event, TrainFailed)
        post(message_for(event))

    try:
        return body(listener)
    except Exception as exc:  # reported on screen (and logged): the app keeps running
        if not isinstance(exc, KvtError):
            log.error("training failed", exc_info=exc)  # a crash or a bug: keep its traceback
        if not failed:  # the engine did not say so itself (a child that died, a bug around it)
            listener(TrainFailed(message=one_line(exc), user_error=is_user_error(exc)))
        return None


def train(post: Post, config: RunConfig, stop: threading.Event, runs_dir: Path, train_fn: Callable[..., Any] | None) -> Any:
    """A new run, in a child process of its own (or ``train_fn``, a stand-in in tests)."""
    from kvt_models.train.isolated import train_isolated

    run = train_fn or train_isolated
    return relay(post, lambda listener: run(config, listener, stop=stop, runs_dir=runs_dir))


def resume(post: Post, run_dir: Path, stop: threading.Event) -> Any:
    """A stopped run continued from its last finished epoch, in a child process."""
    from kvt_models.train.isolated import resume_isolated

    return relay(post, lambda listener: resume_isolated(run_dir, listener, stop=stop))


def compare(
    post: Post, variants: list[Variant], seeds: list[int], base: RunConfig, stop: threading.Event,
    runs_dir: Path, train_fn: Callable[..., Any] | None, ray: RayChoice | None = None, *,
    max_seeds: int | None = None, min_effect: float = 1.0,
) -> None:
    """A comparison queue: trains what is missing (a child process per run, or a Ray task), reuses the rest,
    posts the summary. ``max_seeds``: until decided (``--seeds auto``), up to that many seeds per variant;
    ``min_effect`` in points."""
    # Deferred: a comparison summarises with scipy and draws with matplotlib.
    from kvt_models.compare.placement import where_runs_train
    from kvt_models.compare.queue import run_comparison
    from kvt_models.compare.sequential import Design

    if max_seeds:
        design = Design(max_seeds=max_seeds, min_effect=min_effect / 100)
    else:
        design = Design.fixed(len(seeds), min_effect / 100)

    def queue(listener: Callable[[Event], None]) -> Any:
        # Ray is connected to, and left, on this worker thread; its workers'
        # output stays in Ray's logs (log_to_driver=False), off the screen.
        where = where_runs_train(ray.address if ray else None, cpus_per_run=ray.cpus_per_run if ray else None,
                                 local=train_fn)
        with where as train_one:
            # One run at a time, even where a cluster could take several: the live view follows one run.
            return run_comparison(variants, seeds, base, listener, stop=stop, runs_dir=runs_dir, train_fn=train_one,
                                  concurrency=1, design=design)

    result = relay(post, queue)
    if result is None:
        return  # failed: already on screen
    post(CompareDone(result.comparison, result.folder, stopped=result.stopped, trained=result.trained, reused=result.reused,
                     unfinished=[f"{u.variant} seed {u.seed}: {u.reason}" for u in result.unfinished]))


def compare_marked(post: Post, paths: list[Path], runs_dir: Path) -> None:
    """Runs marked in the runs view, summarised as a comparison (comparison.json and overlay.png written)."""
    from kvt_models.compare.files import compare_runs

    try:
        comparison, folder = compare_runs(paths, runs_dir)
    except KvtError as exc:
        post(CompareDone(None, None, error=str(exc)))
        return
    post(CompareDone(comparison, folder, reused=len(paths)))


def describe_models(post: Post, stop: threading.Event) -> None:
    """Every variant's layer table, built in one child process.

    Building a model imports TensorFlow (~5 s, ~600 MB): done in the app, that
    memory would stay for the app's whole life. One child builds all ten
    variants (~1 s more than one) and exits.
    """
    from kvt_models.train.isolated import describe_isolated
    from kvt_models.variants import ACTIVATIONS, FRAMEWORKS

    variants = [(framework, activation) for framework in sorted(FRAMEWORKS) for activation in ACTIVATIONS]
    try:
        summaries = describe_isolated(variants, stop)
    except Exception as exc:  # reported in the view (and logged): the app keeps running
        if not isinstance(exc, KvtError):
            log.error("describing the models failed", exc_info=exc)
        post(ModelsDescribed([], one_line(exc)))
        return
    if summaries is not None:  # None: the app is closing
        post(ModelsDescribed(summaries))
