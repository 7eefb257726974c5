"""Run training in a child process and relay its events: memory that cannot leak.

TensorFlow and Keras keep memory from every ``model.fit`` in a process, and
``keras.backend.clear_session()`` does not give it back (keras-team/keras
#17458, tensorflow/tensorflow #61791; docs/performance.md has the measurement).
A long-lived front end such as the app therefore runs
each training in a fresh ``spawn``-ed interpreter: the events travel back over
one pipe as the same plain dataclasses, and a stop request travels down over
another. A fresh interpreter per run is also what lets each run choose its
own runtime (Keras 3 on TensorFlow, JAX or PyTorch, or Keras 2): a process
holds one Keras backend, and the child's training activates the run's
(:mod:`kvt_models.backend.runtime`) before anything imports Keras; a resumed run's
child reads it from the run's config.json.

Nothing is shared with the child but those two pipes. A child can die at any
instant (kill -9, the OOM killer, a segfault inside TensorFlow), and a lock,
condition or semaphore it held would then stay held for good: a parent that
waited on one would hang forever. The parent only ever waits on its end of the
event pipe and the child's exit sentinel together
(``multiprocessing.connection.wait``), so a death is seen at once. A run whose
child died is marked failed in its folder, with the reason, and can be resumed
from its last finished epoch.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kvt_models.errors import ChildDied, KvtError, one_line
from kvt_models.events import EpochEnded, Listener, TrainFailed, TrainStarted, ignore
from kvt_models.train.stopping import StopRequest

if TYPE_CHECKING:
    from kvt_models.model.summary import ModelSummary
    from kvt_models.settings.config import RunConfig
    from kvt_models.train.training import TrainResult

# What a child can run: name -> (module, function, whether it
# streams events, i.e. takes listener= and stop=, and what its process is
# called in messages).
_TARGETS: dict[str, tuple[str, str, bool, str]] = {
    "train": ("kvt_models.train.training", "train", True, "training"),
    "resume": ("kvt_models.train.training", "resume", True, "training"),
    "describe_models": ("kvt_models.model.summary", "describe_models", False, "model description"),
}

# How often to look at a plain threading.Event passed as ``stop``; a
# StopRequest (what kvt's own front ends pass) wakes the wait instead.
_PLAIN_EVENT_CHECK_S = 0.2

_STOP = "stop"


def thread_env(inter_op_threads: int | None) -> dict[str, str]:
    """The environment that holds a child's TensorFlow to ``inter_op_threads`` ops at once (None: its default).

    For runs that share the machine (``kvt-train compare --parallel``): the
    inter-op pool, which runs independent ops side by side, is what two runs
    would otherwise each size to the whole machine. The intra-op pool (the
    threads inside one op) is left alone on purpose: its size changes how
    TensorFlow's CPU kernels split their sums, so a seeded run held to 1
    intra-op thread gives other numbers than the same run alone, while the
    inter-op size does not (docs/runtimes.md#repeatability).
    """
    return {"TF_NUM_INTEROP_THREADS": str(inter_op_threads)} if inter_op_threads else {}


def call_isolated(target: str, listener: Listener, stop: threading.Event, /, *args: Any,
                  child_env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Call ``kvt_models.train.training.train`` / ``resume`` or ``summary.describe_models`` in a child process.

    ``listener`` gets every event on the calling thread; ``stop`` is relayed to
    the child, which stops at the next batch and saves. The child's return
    value comes back; a ``KvtError`` raised in the child is raised here
    unchanged, anything else as a ``RuntimeError``. A child that dies without
    a result raises :class:`ChildDied` (after a ``TrainFailed`` event).

    A target that streams no events (``describe_models``) has nothing to save:
    ``stop`` ends its child at once, and the call returns None. ``child_env``
    is set in the child's environment before it imports anything
    (:func:`thread_env`).
    """
    if target not in _TARGETS:
        raise ValueError(f"Unknown target. Received: target={target!r}")
    streams = _TARGETS[target][2]
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked UI threads, no inherited TF state
    events_in, events_out = ctx.Pipe(duplex=False)  # child -> parent: events, then the result
    control_in, control_out = ctx.Pipe(duplex=False)  # parent -> child: the stop request
    proc = ctx.Process(target=_child, args=(target, args, kwargs, events_out, control_in, child_env or {}), name=f"kvt-{target}", daemon=True)
    with _std_streams_on_fds():
        proc.start()
    # Only the child holds these ends now: EOF on events_in then means the
    # child is gone, and EOF on control_in tells the child that we are.
    events_out.close()
    control_in.close()
    relay = _Relay(target, listener, events_in, proc)
    stop_sent = False
    try:
        with _waker(stop) as wake:
            while not relay.over:
                if stop.is_set() and not stop_sent:
                    stop_sent = True
                    if not streams:
                        proc.terminate()  # nothing to save: its default SIGTERM action ends it at once
                        return None
                    with contextlib.suppress(OSError):  # the child is already gone; the relay will see it
                        control_out.send(_STOP)
                sources: list[Any] = [events_in, proc.sentinel]
                if wake is not None and not stop_sent:
                    sources.append(wake)
                timeout = _PLAIN_EVENT_CHECK_S if wake is None and not stop_sent else None
                ready = wait(sources, timeout)
                if events_in in ready:
                    relay.receive()
                elif proc.sentinel in ready:
                    relay.child_exited()
    finally:
        if not relay.done and proc.is_alive() and streams:
            # We are leaving early (the listener raised, Ctrl-C in the parent):
            # the child stops at its next batch and saves.
            with contextlib.suppress(OSError):
                control_out.send(_STOP)
        proc.join(timeout=60)
        if proc.is_alive():  # pragma: no cover - a child that ignores its stop request
            proc.kill()
            proc.join()
        control_out.close()
        events_in.close()
    return relay.outcome()


class _Relay:
    """The parent's side of one child: events to the listener, then a result, an error or a death."""

    def __init__(self, target: str, listener: Listener, conn: Connection, proc: Any):
        self.target = target
        self.listener = listener
        self.conn = conn
        self.proc = proc
        self.over = False
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.run_dir = ""
        self.epochs_done = 0

    def receive(self) -> None:
        """Handle one message; EOF (or a message torn by a kill) means the child is gone."""
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            self.over = True
            return
        if kind == "event":
            if isinstance(payload, TrainStarted):
                self.run_dir, self.epochs_done = payload.run_dir, payload.initial_epoch
            elif isinstance(payload, EpochEnded):
                self.epochs_done = payload.epoch
            self.listener(payload)
        elif kind in ("result", "error"):
            self.done = self.over = True
            if kind == "result":
                self.result = payload
            else:
                self.error = payload

    def child_exited(self) -> None:
        """The child is gone: relay what it sent before it died, then stop."""
        while not self.over and self._readable():
            self.receive()
        self.over = True

    def _readable(self) -> bool:
        try:
            return self.conn.poll(0)
        except (EOFError, OSError):
            return False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        if self.done:
            return self.result
        self.proc.join(timeout=5)  # the sentinel may fire a moment after the pipe's EOF
        message = f"the {_TARGETS[self.target][3]} process {_how_it_ended(self.proc.exitcode)}"
        if self.run_dir:
            message += (f" after {self.epochs_done} finished epoch{'s' if self.epochs_done != 1 else ''}; "
                        f"resume it with: kvt-train --resume {self.run_dir}")
            _mark_failed(Path(self.run_dir), message)
        if _TARGETS[self.target][2]:
            self.listener(TrainFailed(message=message, run_id=Path(self.run_dir).name if self.run_dir else "",
                                      run_dir=self.run_dir, user_error=False))
        raise ChildDied(message, self.run_dir)


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"ended without a result (exit code {exitcode}); see the log"


def _mark_failed(run_dir: Path, message: str) -> None:
    """Say in the run's own folder why it ended: its child could not."""
    from kvt_models.store.runs import RunWriter

    try:
        RunWriter(run_dir, run_dir.name).set_status("failed", message)
    except KvtError:
        pass  # the disk is what failed; the TrainFailed event still tells the user


@contextlib.contextmanager
def _waker(stop: threading.Event) -> Iterator[Connection | None]:
    """A connection readable once ``stop`` is set, or None for a plain Event (checked on a timer)."""
    if isinstance(stop, StopRequest):
        with stop.waker() as conn:
            yield conn
    else:
        yield None


def train_isolated(
    config: RunConfig,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    runs_dir: str | Path | None = None,
    batch_interval: float = 0.2,
    inter_op_threads: int | None = None,
) -> TrainResult:
    """:func:`kvt_models.train.training.train`, in a child process: the same arguments, events and result.

    A comparison queue passes this as its ``train_fn``: each queued run then
    starts from a fresh interpreter (~5 s of TensorFlow import, against
    minutes of training) and gives all of its memory back when it ends.
    ``inter_op_threads`` is for runs that share the machine (:func:`thread_env`).
    """
    return call_isolated(
        "train", listener, stop or StopRequest(), config, runs_dir=runs_dir, batch_interval=batch_interval,
        child_env=thread_env(inter_op_threads),
    )


def resume_isolated(
    run_dir: str | Path,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    batch_interval: float = 0.2,
) -> TrainResult:
    """:func:`kvt_models.train.training.resume`, in a child process: the same arguments, events and result."""
    return call_isolated("resume", listener, stop or StopRequest(), run_dir, batch_interval=batch_interval)


def describe_isolated(
    variants: Sequence[tuple[str, str]], stop: threading.Event | None = None
) -> list[ModelSummary] | None:
    """:func:`kvt_models.model.summary.describe_models` in a child process; None if ``stop`` came first.

    Describing a model means building it, which imports TensorFlow (~5 s,
    ~600 MB). The app asks for every variant at once, here, so that it never
    holds TensorFlow itself.
    """
    return call_isolated("describe_models", ignore, stop or StopRequest(), list(variants))


@contextlib.contextmanager
def _std_streams_on_fds() -> Iterator[None]:
    """Let multiprocessing see real file descriptors while it starts a child.

    It hands ``sys.stderr.fileno()`` to its helper processes; a Textual app
    replaces ``sys.stdout``/``sys.stderr`` with capture objects whose
    ``fileno()`` is -1, and the start then fails with "bad value(s) in
    fds_to_keep". Plain streams on fds 1 and 2 (the log file, in the app) fix
    that for the moment of the start.
    """
    saved = sys.stdout, sys.stderr
    out = open(1, "w", closefd=False)
    err = open(2, "w", closefd=False)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        for stream in (out, err):
            try:
                stream.flush()
            except OSError:
                pass  # nothing was written through them; a closed fd is no loss


def _child(target: str, args: tuple, kwargs: dict, conn: Connection, control: Connection, env: dict[str, str]) -> None:
    os.environ.update(env)  # before the runtime is imported: its thread pools read it once
    stop = threading.Event()
    module_name, function_name, streams, _ = _TARGETS[target]
    # Ctrl-C in the terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if streams:
        # A hangup (the SSH session dropped) or a TERM aimed at the group: stop
        # at the next batch and save, as the parent would ask anyway. Anything
        # else (describing models) has nothing to save and ends at once, so that
        # quitting the app never waits for it.
        for name in ("SIGHUP", "SIGTERM"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda signum, frame: stop.set())

    def send(event: Any) -> None:
        try:
            conn.send(("event", event))
        except OSError:
            # The parent is gone (killed): nobody is listening, so stop and save.
            stop.set()

    def relay_stop() -> None:
        # Blocks until the parent asks for a stop, or until its end closes
        # (EOF): then the parent is gone, and the run stops and saves too.
        with contextlib.suppress(EOFError, OSError):
            control.recv()
        stop.set()

    threading.Thread(target=relay_stop, name="stop-relay", daemon=True).start()
    fn = getattr(importlib.import_module(module_name), function_name)
    try:
        result = fn(*args, listener=send, stop=stop, **kwargs) if streams else fn(*args, **kwargs)
    except KvtError as exc:
        _reply(conn, ("error", exc))
    except BaseException as exc:  # noqa: BLE001 - everything else is reported to the parent, one line
        _reply(conn, ("error", RuntimeError(one_line(exc, with_type=True))))
    else:
        _reply(conn, ("result", result))
    finally:
        conn.close()
    from kvt_models.backend.runtime import exit_without_teardown

    # The result (or the error) is sent and the run is on disk: the parent waits for this
    # process to end, and the runtime's native teardown would only make it wait longer.
    exit_without_teardown(0)


def _reply(conn: Any, message: tuple) -> None:
    try:
        conn.send(message)
    except OSError:
        pass  # the parent is gone; the run folder on disk already says how it ended
