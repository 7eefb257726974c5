"""Where a queue's runs train: a child process per run on this machine, or a task on a Ray cluster.

One rule for ``kvt-train compare`` and the app's Compare tab. Both are a
``train_fn`` with :func:`kvt_models.train.training.train`'s signature, so the
queue (:func:`kvt_models.compare.queue.run_comparison`) cannot tell them apart.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager

from kvt_models.settings.options import CPUS_PER_RUN


def where_runs_train(
    ray: str | None, *, cpus_per_run: int | None = None, gpus_per_run: int | None = None,
    say: Callable[[str], None] | None = None, log_to_driver: bool = False,
    local: Callable[..., Any] | None = None, parallel: int = 1,
) -> ContextManager[Callable[..., Any]]:
    """A context manager yielding the queue's ``train_fn``.

    ``ray`` None: each run in a child process here (``local``, default
    :func:`~kvt_models.train.isolated.train_isolated`): TensorFlow keeps memory
    from every fit, and a queue can be dozens of runs long. Otherwise Ray at
    that address (``local``, ``auto``, ``HOST:PORT``), connected on entry and
    left on exit, on the calling thread: a local Ray instance lives as long as
    the thread that started it.

    ``parallel`` (local runs only): that many runs at once (:class:`LocalRuns`).
    """
    if ray is None:
        if local is None:
            from kvt_models.train.isolated import train_isolated  # deferred: multiprocessing machinery

            local = train_isolated
        return contextlib.nullcontext(LocalRuns(local, parallel) if parallel > 1 else local)
    from kvt_models.cluster import ray_queue  # deferred: Ray is an extra

    return ray_queue(ray, cpus_per_run=cpus_per_run or CPUS_PER_RUN.default, gpus_per_run=gpus_per_run or 0,
                     say=say, log_to_driver=log_to_driver)


class LocalRuns:
    """``parallel`` runs at once on this machine, each running one TensorFlow op at a time.

    A ``train_fn`` whose ``concurrency`` the queue reads; each call passes
    ``inter_op_threads=1`` to ``local``
    (:func:`~kvt_models.train.isolated.thread_env`). On the 2-core box two
    runs at once, each with its default intra-op pool and one inter-op
    thread, trained a queue faster than one at a time in most measurements,
    with the very same numbers; splitting the intra-op pool too (one thread
    each) changed the numbers (docs/performance.md).
    """

    def __init__(self, local: Callable[..., Any], parallel: int) -> None:
        self.local = local
        self.concurrency = parallel

    def __call__(self, config: Any, listener: Any, **kwargs: Any) -> Any:
        return self.local(config, listener, inter_op_threads=1, **kwargs)
