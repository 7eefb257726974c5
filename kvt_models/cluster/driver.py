"""The driver's side of a run on Ray: submit the task, drain its relay into the local runs dir, stop it, end it.

:class:`RayTrainer` is a ``train_fn`` for :func:`kvt_models.compare.queue.run_comparison`,
with :func:`kvt_models.train.training.train`'s signature, arguments, events and
result, like :func:`kvt_models.train.isolated.train_isolated`: the queue cannot
tell where a run trained. How it ends maps the same way too: a run that
stopped or finished returns its TrainResult; kvt's own error is raised as
it is; a task Ray gave up on (its worker died more often than Ray retries)
raises :class:`~kvt_models.train.isolated.ChildDied` after a ``TrainFailed``
event, with the run marked failed in its local folder, so the queue goes on
with the next run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from kvt_models import __version__
from kvt_models.cluster.connect import INSTALL_HINT
from kvt_models.cluster.mirror import Mirror
from kvt_models.cluster.relay import RunRelay
from kvt_models.cluster.shipping import Shipment, ship
from kvt_models.cluster.worker import identity, train_on_worker
from kvt_models.errors import ChildDied, ClusterError, one_line
from kvt_models.events import Listener, TrainFailed, ignore
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import RunStore

MAX_RETRIES = 3  # Ray's own default for tasks: a worker process or node may die three times per run
DRAIN_WAIT_S = 0.5  # the longest a stop request waits to be passed on (and the loop to look at the task)


class RayTrainer:
    """Train runs as Ray tasks on the connected cluster; one object serves a whole queue."""

    def __init__(self, ray: Any, *, address: str, cpus_per_run: int, gpus_per_run: int = 0):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        self.address = address
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self._check_resources()
        # How many runs the cluster takes at once, as it is now: run_comparison keeps that many going.
        self.concurrency = max(1, self._slots())
        # max_calls=1: the worker process exits after its run (a fresh process per run).
        self._task = ray.remote(max_calls=1)(train_on_worker).options(
            num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=MAX_RETRIES, retry_exceptions=False,
            name="kvt-run",
        )
        # The relay lives where the driver is: it must outlive any worker node.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._relay = ray.remote(RunRelay).options(num_cpus=0, scheduling_strategy=here)
        self._shipments: dict[str, Shipment | None] = {}
        self._shipping = threading.Lock()  # runs of a queue start on several threads at once

    # -- the cluster ---------------------------------------------------------------
    def _nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def _check_resources(self) -> None:
        """One line, before anything is queued, when no node can ever take a run (Ray would wait forever)."""
        nodes = self._nodes()
        fits = [n for n in nodes if n["Resources"].get("CPU", 0) >= self.cpus_per_run
                and n["Resources"].get("GPU", 0) >= self.gpus_per_run]
        if fits:
            return
        cpus = max((int(n["Resources"].get("CPU", 0)) for n in nodes), default=0)
        gpus = max((int(n["Resources"].get("GPU", 0)) for n in nodes), default=0)
        if self.gpus_per_run > gpus:
            raise ClusterError(f"no node of the Ray cluster at {self.address} has {self.gpus_per_run} GPU(s) for a run "
                               f"(the most any node has is {gpus}): drop --gpus-per-run, or add a node with GPUs")
        raise ClusterError(f"no node of the Ray cluster at {self.address} has {self.cpus_per_run} CPUs for a run "
                           f"(the most any node has is {cpus}): pass --cpus-per-run {max(cpus, 1)}, or add a bigger node")

    def _slots(self) -> int:
        """Runs that fit on the live nodes at once (CPUs, and GPUs when asked)."""
        slots = 0
        for node in self._nodes():
            fit = int(node["Resources"].get("CPU", 0) // self.cpus_per_run)
            if self.gpus_per_run:
                fit = min(fit, int(node["Resources"].get("GPU", 0) // self.gpus_per_run))
            slots += fit
        return slots

    def describe_cluster(self) -> str:
        nodes = self._nodes()
        cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
        return (f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}, {cpus:g} CPUs; "
                f"{self.cpus_per_run} CPU(s) per run, so {self.concurrency} run(s) at once")

    # -- one run ---------------------------------------------------------------------
    def __call__(
        self,
        config: RunConfig,
        listener: Listener = ignore,
        *,
        stop: threading.Event | None = None,
        runs_dir: str | Path | None = None,
        batch_interval: float = 0.2,
    ) -> Any:
        cfg = config.resolved()
        store = RunStore(runs_dir)
        store.ensure()
        with self._shipping:
            if cfg.data not in self._shipments:  # once per dataset per queue, not once per run
                self._shipments[cfg.data] = ship(self.ray, cfg.data)
        relay = self._relay.remote()
        mirror = Mirror(store.root)
        task = self._task.remote(relay, cfg.to_dict(), self._shipments[cfg.data], identity(), batch_interval)
        finished = False
        try:
            outcome = self._follow(task, relay, mirror, listener, stop or threading.Event())
            finished = True
            return outcome
        finally:
            if not finished:
                # Leaving early (Ctrl-C twice, a listener that raised): end the task now. A task
                # already over (an error it returned) has nothing to cancel.
                with contextlib.suppress(Exception):
                    self.ray.cancel(task, force=True)
            mirror.close()
            with contextlib.suppress(Exception):  # an actor already dead
                self.ray.kill(relay)

    def _follow(self, task: Any, relay: Any, mirror: Mirror, listener: Listener, stop: threading.Event) -> Any:
        ray = self.ray
        stop_sent = False
        try:
            while True:
                if stop.is_set() and not stop_sent:
                    relay.request_stop.remote()  # the worker stops at its next batch end and saves
                    stop_sent = True
                mirror.apply(ray.get(relay.drain.remote(DRAIN_WAIT_S)), listener)
                if ray.wait([task], timeout=0)[0]:
                    break
            mirror.apply(ray.get(relay.drain.remote(0)), listener)  # whatever came with its last push
        except ray.exceptions.RayActorError as exc:
            raise self._relay_died(exc) from None
        try:
            kind, payload = ray.get(task)
        except ray.exceptions.RayError as exc:
            raise self._gave_up(exc, mirror, listener, ray.get(relay.attempts.remote())) from None
        if kind == "error":
            raise payload
        return mirror.result(payload)

    def _relay_died(self, exc: Exception) -> ClusterError:
        """The relay actor (on this node) could not run: nothing can reach the driver, so the queue stops."""
        hint = ("; if the cluster runs without token authentication, export RAY_AUTH_MODE=disabled"
                if os.environ.get("RAY_AUTH_MODE") == "token" else "")
        return ClusterError(f"kvt's relay actor on this node died ({type(exc).__name__}); see the Ray logs in "
                            f"/tmp/ray/session_latest/logs{hint}")

    def _gave_up(self, exc: Exception, mirror: Mirror, listener: Listener, attempts: int) -> Exception:
        """The task failed for good: a ClusterError (kvt missing on a worker) or ChildDied (it kept dying)."""
        from kvt_models.store.runs import read_history

        cause = getattr(exc, "cause", None)
        if isinstance(cause, ImportError):
            return ClusterError(f"a Ray worker cannot run kvt's task ({one_line(cause)}): install kvt {__version__} "
                                f"on every node ({INSTALL_HINT}), then run again")
        done = len(read_history(mirror.path)) if mirror.path is not None else 0
        message = (f"the Ray task of this run failed {attempts} time(s) and Ray gave up "
                   f"({type(exc).__name__}: {one_line(exc, limit=200)})")
        if mirror.path is not None:
            message += (f" after {done} finished epoch{'s' if done != 1 else ''}; "
                        f"resume it with: kvt-train --resume {mirror.path}")
            mirror.fail(message)
        listener(TrainFailed(message=message, run_id=mirror.path.name if mirror.path else "",
                             run_dir=str(mirror.path or ""), user_error=False))
        return ChildDied(message, str(mirror.path or ""))


