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
    local: Callable[..., Any] | None = None,
) -> ContextManager[Callable[..., Any]]:
    """A context manager yielding the queue's ``train_fn``.

    ``ray`` None: each run in a child process here (``local``, default
    :func:`~kvt_models.train.isolated.train_isolated`): TensorFlow keeps memory
    from every fit, and a queue can be dozens of runs long. Otherwise Ray at
    that address (``local``, ``auto``, ``HOST:PORT``), connected on entry and
    left on exit, on the calling thread: a local Ray instance lives as long as
    the thread that started it.
    """
    if ray is None:
        if local is None:
            from kvt_models.train.isolated import train_isolated  # deferred: multiprocessing machinery

            local = train_isolated
        return contextlib.nullcontext(local)
    from kvt_models.cluster import ray_queue  # deferred: Ray is an extra

    return ray_queue(ray, cpus_per_run=cpus_per_run or CPUS_PER_RUN.default, gpus_per_run=gpus_per_run or 0,
                     say=say, log_to_driver=log_to_driver)
