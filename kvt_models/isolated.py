"""Run training in a child process and relay its events: memory that cannot leak.

TensorFlow and Keras keep memory from every ``model.fit`` in a process, and
``keras.backend.clear_session()`` does not give it back (keras-team/keras
#17458, tensorflow/tensorflow #61791; measured here: about +25 MB per short run,
+500 MB over twenty). A long-lived front end such as the app therefore runs
each training in a fresh ``spawn``-ed interpreter: the events travel back over
a pipe as the same plain dataclasses, the stop request travels down as a
``multiprocessing.Event``, and when the child exits its memory is gone.

A crash inside TensorFlow (a segfault, an out-of-memory kill) ends the child,
not the app: it comes back as an error with the child's exit code.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import KvtError
from .events import Listener, ignore

if TYPE_CHECKING:
    from .config import RunConfig
    from .summary import ModelSummary
    from .training import TrainResult

# What a child can run: name -> (module in kvt_models, function, whether it
# streams events, i.e. takes listener= and stop=).
_TARGETS: dict[str, tuple[str, str, bool]] = {
    "train": ("training", "train", True),
    "resume": ("training", "resume", True),
    "describe_models": ("summary", "describe_models", False),
}


class ChildDied(RuntimeError):
    """The child process ended without a result (killed, or crashed below Python)."""


def call_isolated(target: str, listener: Listener, stop: threading.Event, /, *args: Any, **kwargs: Any) -> Any:
    """Call ``kvt_models.training.train`` / ``resume`` or ``summary.describe_models`` in a child process.

    ``listener`` gets every event on the calling thread; ``stop`` is relayed to
    the child. The child's return value comes back; a ``KvtError`` raised in
    the child is raised here unchanged, anything else as a ``RuntimeError``.

    A target that streams no events (``describe_models``) has nothing to save:
    ``stop`` ends its child at once, and the call returns None.
    """
    if target not in _TARGETS:
        raise ValueError(f"Unknown target. Received: target={target!r}")
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked UI threads, no inherited TF state
    receiver, sender = ctx.Pipe(duplex=False)
    with _std_streams_on_fds():  # the Event's semaphore starts multiprocessing's resource tracker
        child_stop = ctx.Event()
        proc = ctx.Process(target=_child, args=(target, args, kwargs, sender, child_stop), name=f"kvt-{target}", daemon=True)
        proc.start()
    sender.close()  # only the child writes; EOF then means the child is gone
    result: Any = None
    error: BaseException | None = None
    done = False
    streams = _TARGETS[target][2]
    try:
        while True:
            if stop.is_set() and not child_stop.is_set():
                child_stop.set()
                if not streams:
                    proc.terminate()  # its default SIGTERM action: gone at once
                    return None
            if not receiver.poll(0.1):
                continue
            try:
                kind, payload = receiver.recv()
            except EOFError:
                break
            if kind == "event":
                listener(payload)
            elif kind == "result":
                result, done = payload, True
            elif kind == "error":
                error, done = payload, True
    finally:
        if not done:
            child_stop.set()
        proc.join(timeout=60)
        if proc.is_alive():  # pragma: no cover - a child that ignores its stop request
            proc.kill()
            proc.join()
        receiver.close()
    if error is not None:
        raise error
    if not done:
        raise ChildDied(f"the {target} process ended without a result (exit code {proc.exitcode}); see the log")
    return result


def train_isolated(
    config: RunConfig,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    runs_dir: str | Path | None = None,
    batch_interval: float = 0.2,
) -> TrainResult:
    """:func:`kvt_models.training.train`, in a child process: the same arguments, events and result.

    A comparison queue passes this as its ``train_fn``: each queued run then
    starts from a fresh interpreter (~5 s of TensorFlow import, against
    minutes of training) and gives all of its memory back when it ends.
    """
    return call_isolated(
        "train", listener, stop or threading.Event(), config, runs_dir=runs_dir, batch_interval=batch_interval
    )


def resume_isolated(
    run_dir: str | Path,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    batch_interval: float = 0.2,
) -> TrainResult:
    """:func:`kvt_models.training.resume`, in a child process: the same arguments, events and result."""
    return call_isolated("resume", listener, stop or threading.Event(), run_dir, batch_interval=batch_interval)


def describe_isolated(
    variants: Sequence[tuple[str, str]], stop: threading.Event | None = None
) -> list[ModelSummary] | None:
    """:func:`kvt_models.summary.describe_models` in a child process; None if ``stop`` came first.

    Describing a model means building it, which imports TensorFlow (~5 s,
    ~600 MB). The app asks for every variant at once, here, so that it never
    holds TensorFlow itself.
    """
    return call_isolated("describe_models", ignore, stop or threading.Event(), list(variants))


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


def _child(target: str, args: tuple, kwargs: dict, conn: Any, stop_flag: Any) -> None:
    stop = threading.Event()
    module_name, function_name, streams = _TARGETS[target]
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
        stop_flag.wait()
        stop.set()

    threading.Thread(target=relay_stop, name="stop-relay", daemon=True).start()
    fn = getattr(importlib.import_module(f"{__package__}.{module_name}"), function_name)
    try:
        result = fn(*args, listener=send, stop=stop, **kwargs) if streams else fn(*args, **kwargs)
    except KvtError as exc:
        _reply(conn, ("error", exc))
    except BaseException as exc:  # noqa: BLE001 - everything else is reported to the parent, one line
        _reply(conn, ("error", RuntimeError(f"{type(exc).__name__}: {exc}".splitlines()[0])))
    else:
        _reply(conn, ("result", result))
    finally:
        conn.close()


def _reply(conn: Any, message: tuple) -> None:
    try:
        conn.send(message)
    except OSError:
        pass  # the parent is gone; the run folder on disk already says how it ended
