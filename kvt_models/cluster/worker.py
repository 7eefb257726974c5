"""What a Ray worker runs for one queued run: check kvt's version, get the data, train or resume, ship.

:func:`train_on_worker` is the Ray task (``max_calls=1``: its worker
process exits after the run, so each run has a fresh process, as a local
run has its child, with its own runtime and none of the last run's memory).

Each event goes to the relay actor at once, with the run folder's files when
they changed -- config and status when the run starts, history, checkpoint,
report and status at each epoch end, everything when it ends -- read right after
the run store wrote them. The push is synchronous: training goes on only
once the relay has the epoch, so what the relay holds is always a whole
epoch a retry can resume from.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from kvt_models import __version__
from kvt_models.cluster.shipping import Shipment, local_copy
from kvt_models.errors import ClusterError, KvtError, one_line
from kvt_models.events import EpochEnded, RunPlaced, StageChanged, TrainEnded, TrainFailed, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import (
    CONFIG_FILE,
    CONFUSION_FILE,
    CURVES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    REPORT_FILE,
    STATUS_FILE,
)
from kvt_models.train.tensorboard import is_event_file

# The files of a run folder that travel, and when; TensorBoard's event files (kvt_models.train.tensorboard) too,
# with the history, under the names TensorBoard gives them (ships_as_run_file).
RUN_FILES = (CONFIG_FILE, STATUS_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE, CURVES_FILE, CONFUSION_FILE)
_AT_START = (CONFIG_FILE, STATUS_FILE, HISTORY_FILE)
_AT_EPOCH = (STATUS_FILE, HISTORY_FILE, MODEL_FILE, REPORT_FILE)
STOP_POLL_S = 5.0


def ships_as_run_file(name: str) -> bool:
    """Whether a file of that name travels between a worker's run folder and the local one."""
    return name in RUN_FILES or is_event_file(name)  # how long one wait for the stop flag lasts before it is asked again


def code_fingerprint(package: Path | None = None) -> str:
    """A short hash of kvt's code as installed (every ``.py`` file of ``kvt_models``, by path and content).

    Two checkouts that both say 0.1.0 but differ in one line of code have
    different fingerprints: a worker must run the code the driver runs, or a
    run's files and events may not be what this machine reads.
    """
    if package is None:
        return _installed_fingerprint()
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def _installed_fingerprint() -> str:
    return code_fingerprint(Path(__file__).resolve().parents[1])  # kvt_models, as this process imports it


def identity() -> tuple[str, str]:
    """This machine's kvt: its version and its code's fingerprint."""
    return __version__, code_fingerprint()


def version_mismatch(driver: tuple[str, str], worker: tuple[str, str], node: str) -> str | None:
    """The error line when this worker's kvt (version, code fingerprint) is not the driver's, else None."""
    if driver == worker:
        return None
    (version, code), (theirs, their_code) = driver, worker
    if version != theirs:
        return (f"the Ray worker on node {node} has kvt {theirs} but this machine has kvt {version}: "
                f"install kvt {version} with its ray extra on every node (pip install 'kvt[ray]=={version}'), then run again")
    return (f"the Ray worker on node {node} has kvt {theirs} with other code than this machine's (code {their_code} "
            f"there, {code} here): install this machine's kvt checkout on every node (pip install '.[ray]' from it), "
            "then run again")


def train_on_worker(relay: Any, config: dict, shipment: Shipment | None, driver_kvt: tuple[str, str],
                    batch_interval: float) -> tuple[str, Any]:
    """Train (or, on a retry, resume) one run; ``("result", TrainResult)`` or ``("error", KvtError)``.

    kvt's own errors are returned, not raised: Ray retries a task only when
    its process dies, and a bad dataset or a diverged run would fail again.
    """
    import ray

    place = _placement(ray)
    mismatch = version_mismatch((driver_kvt[0], driver_kvt[1]), identity(), place.node)
    if mismatch:
        return "error", ClusterError(mismatch)
    attempt, run_id, snapshot = ray.get(relay.begin.remote())
    place = replace(place, attempt=attempt)
    scratch = Path(tempfile.mkdtemp(prefix="kvt-ray-"))
    stop = threading.Event()
    done = threading.Event()
    threading.Thread(target=_watch_stop, args=(ray, relay, stop, done), name="kvt-stop-watch", daemon=True).start()
    try:
        cfg = RunConfig.from_dict(config)
        copy = str(local_copy(ray, shipment)) if shipment is not None else None
        ship = _Shipper(ray, relay, attempt, place, cfg.data, copy, stop)
        ship(place)
        from kvt_models.train.training import resume, train

        if snapshot and run_id:
            run_dir = scratch / run_id
            _unpack(snapshot, run_dir, copy)
            result = resume(run_dir, ship, stop=stop, batch_interval=batch_interval)
        else:
            result = train(replace(cfg, data=copy or cfg.data), ship, stop=stop, runs_dir=scratch,
                           batch_interval=batch_interval)
        return "result", result
    except KvtError as exc:
        return "error", exc
    except Exception as exc:  # noqa: BLE001 - a crash inside kvt: told in one line, not retried
        return "error", RuntimeError(one_line(exc, with_type=True))
    finally:
        done.set()
        shutil.rmtree(scratch, ignore_errors=True)


def _placement(ray: Any) -> RunPlaced:
    node_id = ray.get_runtime_context().get_node_id()
    info: dict[str, Any] = next((n for n in ray.nodes() if n.get("NodeID") == node_id), {})
    address = str(info.get("NodeManagerAddress") or "")
    return RunPlaced(node=str(info.get("NodeName") or address or node_id[:8]), node_id=node_id, address=address,
                     pid=os.getpid())


def _watch_stop(ray: Any, relay: Any, stop: threading.Event, done: threading.Event) -> None:
    """Set ``stop`` when the driver asks (or when the relay is gone: then nobody is listening)."""
    while not done.is_set():
        try:
            if ray.get(relay.wait_stop.remote(STOP_POLL_S)):
                break
        except Exception:  # noqa: BLE001 - the relay died with its driver: stop at the next batch and save
            break
    stop.set()


def _unpack(snapshot: dict[str, bytes], run_dir: Path, copy: str | None) -> None:
    """The relay's snapshot as a run folder here, reading the data from this node's copy."""
    run_dir.mkdir(parents=True)
    for name, data in snapshot.items():
        if ships_as_run_file(name):
            (run_dir / name).write_bytes(data)
    if copy is not None:
        config = json.loads(snapshot[CONFIG_FILE])
        config["config"]["data"] = copy
        (run_dir / CONFIG_FILE).write_text(json.dumps(config))


class _Shipper:
    """The run's listener on the worker: each event, with the files it made, pushed to the relay."""

    def __init__(self, ray: Any, relay: Any, attempt: int, place: RunPlaced, data: str, copy: str | None,
                 stop: threading.Event):
        self.ray, self.relay, self.attempt, self.place = ray, relay, attempt, place
        self.data, self.copy, self.stop = data, copy, stop
        self.run_dir: Path | None = None

    def __call__(self, event: Any) -> None:
        items: list[tuple] = []
        if isinstance(event, TrainStarted):
            self.run_dir = Path(event.run_dir)
            items.append(self._files(_AT_START))
        elif isinstance(event, EpochEnded):
            items.append(self._files(_AT_EPOCH))
        elif isinstance(event, (TrainEnded, TrainFailed)) and self.run_dir is not None:
            items.append(self._files(RUN_FILES))
        elif isinstance(event, StageChanged) and self.copy and self.copy in event.detail:
            event = replace(event, detail=event.detail.replace(self.copy, self.data))
        items.append(("event", event))
        try:
            accepted = self.ray.get(self.relay.push.remote(self.attempt, items))
        except Exception:  # noqa: BLE001 - the relay died with its driver: nobody listens, so stop and save
            accepted = False
        if not accepted:
            self.stop.set()  # a newer attempt owns the run (or the driver is gone)

    def _files(self, names: tuple[str, ...]) -> tuple:
        assert self.run_dir is not None
        files = {}
        if HISTORY_FILE in names:  # the event files go with the history rows they were written after
            names = (*names, *sorted(p.name for p in self.run_dir.iterdir() if is_event_file(p.name)))
        for name in names:
            path = self.run_dir / name
            if path.is_file():
                files[name] = self._local_facts(name, path.read_bytes())
        return "files", self.run_dir.name, files

    def _local_facts(self, name: str, data: bytes) -> bytes:
        """The driver's view of the facts this node knows differently: its data path, and where it trains."""
        if name == CONFIG_FILE and self.copy is not None:
            config = json.loads(data)
            config["config"]["data"] = self.data
            if config.get("data_source") == self.copy:
                config["data_source"] = self.data
            return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
        if name == STATUS_FILE:
            status = json.loads(data)
            status["node"] = {"name": self.place.node, "id": self.place.node_id, "address": self.place.address,
                              "attempt": self.attempt}
            return (json.dumps(status, indent=2, sort_keys=True) + "\n").encode()
        return data
