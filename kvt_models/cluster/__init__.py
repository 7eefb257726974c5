"""Comparison queues on a Ray cluster: each queued run a Ray task on a worker, its files back here.

``kvt-train compare ... --ray [ADDRESS]`` and the app's Compare tab hand
:func:`kvt_models.compare.queue.run_comparison` a ``train_fn`` from
:func:`ray_queue` instead of :func:`kvt_models.train.isolated.train_isolated`: the
queue, its order and the reuse of finished runs stay as they are; only where
a run trains changes (docs/architecture.md, "Where runs execute").

How one run goes (``driver.py``, ``worker.py``, ``relay.py``)::

    driver (kvt-train / the app)          relay actor (driver's node)      worker (any node)
    ray.remote(train_on_worker) ------------------------------------------> training.train(...)
    drain() <- [files, events] ---------- push(files, event) <------------ listener: each event,
    mirror: files into the local run          keeps the last snapshot        with the run folder's
    folder, then the event to the listener    for a retry                    files at epoch ends
    stop flag --------------------------> request_stop() -> wait_stop() --> threading.Event

- There is no shared filesystem: the worker trains in a scratch folder and
  ships the run folder's files with the events; the driver writes them under
  the same run name in the local runs dir (``mirror.py``), before it tells
  the listener, so "epoch N ended" still means "epoch N is on disk".
- A worker process or node that dies: Ray retries the task (``max_retries``);
  the retry asks the relay for the last snapshot and resumes from its last
  finished epoch (:func:`kvt_models.train.training.resume`). An error of kvt's own
  (bad data, a diverged run, another kvt version) comes back as a value, and
  Ray does not retry it.
- Local data (a folder or an archive) goes through Ray's object store once,
  and each worker node keeps it in a cache keyed by its SHA-256
  (``shipping.py``).

Nothing here imports Ray at module level: ``import kvt_models`` and
``kvt-train --help`` stay fast, and Ray is an extra (``pip install 'kvt[ray]'``).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator


@contextlib.contextmanager
def ray_queue(
    address: str, *, cpus_per_run: int, gpus_per_run: int = 0, say: Callable[[str], None] | None = None,
    log_to_driver: bool = False,
) -> Iterator[Callable[..., object]]:
    """Connect to Ray at ``address`` (``local``, ``auto`` or ``HOST:PORT``) and yield a ``train_fn``.

    The ``train_fn`` has :func:`kvt_models.train.training.train`'s signature and
    trains each run as a Ray task; leaving the block disconnects (and stops a
    local instance kvt started). Raises :class:`ClusterError` in one line
    when Ray is missing, the cluster cannot be reached (within ~30 s) or no
    node has the resources one run asks for.

    Call it, and use the ``train_fn``, on one thread: a local instance's
    processes end with the thread that started them (Linux's parent-death
    signal is per thread).
    """
    from kvt_models.cluster.connect import connected
    from kvt_models.cluster.driver import RayTrainer

    with connected(address, log_to_driver=log_to_driver) as ray:
        trainer = RayTrainer(ray, address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
        if say is not None:
            say(f"[INFO] Ray cluster at {address}: {trainer.describe_cluster()}")
        yield trainer
