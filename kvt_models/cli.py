"""``kvt-train``: headless training for nohup, tmux and CI, printing like the 2018 scripts.

Output is plain and log-friendly: one line per epoch, then the classification
report and the paths written. A live progress line (with ``\\r``) is drawn only
when stdout is a terminal, so ``nohup kvt-train ... > train.log`` stays free of
control characters.

Exit codes: 0 done; 1 a crash inside kvt or the training diverged; 2 bad
input (one line on stderr, no traceback); 128+N when stopped by signal N
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), after saving the run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from . import __version__, options
from .config import PRESETS, RunConfig
from .errors import ConfigError, KvtError, is_user_error
from .events import (
    BatchEnded, EpochEnded, Event, QueueProgress, RunPlaced, StageChanged, TrainEnded, TrainFailed, TrainStarted,
)
from .options import add_flag, flag_type
from .stopping import StopRequest
from .timefmt import epoch_seconds_left, format_duration

EXIT_OK, EXIT_CRASH, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage and exiting, so main() owns the exit."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        try:
            return super().parse_known_args(args, namespace)
        except options.FlagError as exc:
            # An option's own message already says what to type: no "see --help".
            raise ConfigError(str(exc)) from None

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"{message} (see kvt-train --help)")


def _add_training_flags(p: argparse.ArgumentParser, *, variant_flags: bool = True) -> None:
    # Each flag's rule, help and default come from its declaration in options.py,
    # shared with the app's form and RunConfig.validate.
    if variant_flags:
        add_flag(p, options.PRESET)
        # No default here: an unset --framework / --activation leaves the preset's.
        add_flag(p, options.FRAMEWORK, default=None)
        add_flag(p, options.ACTIVATION, default=None)
    add_flag(p, options.BACKEND)
    add_flag(p, options.DATA)
    add_flag(p, options.RECIPE)
    add_flag(p, options.EPOCHS)
    add_flag(p, options.BATCH_SIZE)
    add_flag(p, options.LR)
    if variant_flags:
        add_flag(p, options.SEED)
    add_flag(p, options.TRAIN_LIMIT)
    add_flag(p, options.TEST_LIMIT)
    add_flag(p, options.PRECISION)
    add_flag(p, options.RUNS_DIR)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="kvt-train",
        description="Train MiniVGGNet on CIFAR-10 the Keras way or the TensorFlow way (headless).",
        epilog="Presets from the 2018 post: --preset keras (keras + relu), --preset tensorflow (tensorflow + crelu). "
        "Runtimes: --backend tensorflow (Keras 3 on TF, default), jax, torch, keras2 (tf_keras). "
        "Compare variants over several seeds: kvt-train compare keras:relu tensorflow:crelu --seeds 3 (see kvt-train compare --help).",
    )
    _add_training_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run from its last finished epoch (its own settings are used)")
    p.add_argument("--plot", help="also copy the loss/accuracy plot to this PNG path, as in the 2018 scripts")
    p.add_argument("--version", action="version", version=f"kvt {__version__}")
    return p


def build_compare_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="kvt-train compare",
        description="Run each variant once per seed on the same data and recipe, then compare test accuracy "
        "(mean ± std, difference with 95% CI, Welch's t-test). Finished runs are reused.",
    )
    p.add_argument("variants", nargs="+", type=flag_type(options.VARIANT), metavar=options.VARIANT.metavar,
                   help=options.VARIANT.help)
    add_flag(p, options.SEEDS)
    _add_training_flags(p, variant_flags=False)
    # --ray alone: a local Ray instance; no --ray: a child process per run here, as before.
    add_flag(p, options.RAY, nargs="?", const=options.RAY_LOCAL, default=None)
    # None when not given, so that they can be refused without --ray.
    add_flag(p, options.CPUS_PER_RUN, default=None)
    add_flag(p, options.GPUS_PER_RUN, default=None)
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    framework, activation = PRESETS.get(args.preset, (options.FRAMEWORK.default, options.ACTIVATION.default))
    return RunConfig(
        framework=args.framework or framework,
        activation=args.activation or activation,
        backend=args.backend,
        data=args.data,
        recipe=args.recipe,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        train_limit=args.train_limit,
        test_limit=args.test_limit,
        precision=args.precision,
    ).resolved()


class ConsolePrinter:
    """Turns events into the lines a 2018 Keras script would print."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out = out
        self.err = err
        self.live = out.isatty()
        self.epochs = 0
        self._line_open = False
        self.gone = False

    def _print(self, text: str) -> None:
        if self._line_open:
            self.out.write("\r\x1b[K")
            self._line_open = False
        print(text, file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        if self.gone:
            return
        try:
            self._show(event)
        except (OSError, ValueError):
            # The terminal went away (SSH dropped): keep training, stop printing.
            self.gone = True

    def _show(self, event: Event) -> None:
        if isinstance(event, StageChanged):
            self._print(f"[INFO] {event.stage}: {event.detail}" if event.detail else f"[INFO] {event.stage}")
        elif isinstance(event, TrainStarted):
            self.epochs = event.epochs
            self._print(
                f"[INFO] training {event.framework} + {event.activation} ({event.runtime or 'Keras'}): {event.params:,} params, "
                f"{event.train_samples:,} train / {event.test_samples:,} test images, "
                f"{event.epochs} epoch{'s' if event.epochs != 1 else ''} x {event.steps_per_epoch} steps of {event.batch_size}"
            )
            self._print(f"[INFO] run folder: {event.run_dir}")
            if event.initial_epoch:
                self._print(f"[INFO] resuming after epoch {event.initial_epoch}")
        elif isinstance(event, BatchEnded) and self.live:
            width = 24
            done = int(width * event.step / max(1, event.steps))
            bar = "=" * done + ">" + "." * (width - done)
            self.out.write(
                f"\rEpoch {event.epoch}/{self.epochs} [{bar[:width]}] {event.step}/{event.steps} "
                f"loss {event.logs.get('loss', float('nan')):.4f} acc {event.logs.get('accuracy', float('nan')):.4f} "
                f"{event.images_per_second:,.0f} img/s ETA {format_duration(epoch_seconds_left(event))}\x1b[K"
            )
            self.out.flush()
            self._line_open = True
        elif isinstance(event, EpochEnded):
            self._print(
                f"Epoch {event.epoch}/{event.epochs} - {event.seconds:.1f}s - loss: {event.loss:.4f} - "
                f"accuracy: {event.accuracy:.4f} - val_loss: {event.val_loss:.4f} - "
                f"val_accuracy: {event.val_accuracy:.4f} - lr: {event.lr:.6g}"
            )
        elif isinstance(event, TrainEnded):
            self._print(f"[INFO] {event.status} after {event.epochs_done} epoch(s)")
        elif isinstance(event, TrainFailed):
            if self._line_open:
                self._print("")


class _SignalStop:
    """Turn SIGINT/SIGTERM/SIGHUP into a graceful stop at the next batch end."""

    SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)

    def __init__(self, stop: threading.Event, err: TextIO):
        self.stop = stop
        self.err = err
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> "_SignalStop":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    # Under nohup SIGHUP is ignored on purpose: keep it that way.
                    continue
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            # A second signal means "now": leave as Python would.
            raise KeyboardInterrupt
        self.signum = signum
        self.stop.set()
        try:
            print(f"[INFO] got {signal.Signals(signum).name}: stopping at the next batch and saving the run",
                  file=self.err, flush=True)
        except (OSError, ValueError):
            pass  # the terminal is gone (SIGHUP): the run still saves


def _say(stream: TextIO, text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): the run is on disk either way."""
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):
        pass


def _guarded(err: TextIO, job: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``job``; a user's mistake (exit 2) or a diverged run (exit 1) becomes one line."""
    try:
        return job(), EXIT_OK
    except KvtError as exc:
        _say(err, f"kvt-train: error: {exc}")
        return None, EXIT_USAGE if is_user_error(exc) else EXIT_CRASH


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
        config = config_from_args(args)
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE

    from .runs import CURVES_FILE
    from .training import resume, train

    printer = ConsolePrinter(out, err)
    stop = StopRequest()
    started = time.perf_counter()
    with _SignalStop(stop, err) as signals:
        if args.resume:
            result, code = _guarded(err, lambda: resume(Path(args.resume).expanduser(), printer, stop=stop))
        else:
            result, code = _guarded(err, lambda: train(config, printer, stop=stop, runs_dir=args.runs_dir))
    if result is None:
        return code

    if args.plot and (result.run_dir / CURVES_FILE).exists():
        try:
            Path(args.plot).expanduser().parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result.run_dir / CURVES_FILE, Path(args.plot).expanduser())
            result.files["plot"] = str(args.plot)
        except OSError as exc:
            _say(err, f"kvt-train: warning: could not write --plot {args.plot}: {exc.strerror or exc}")
    if result.evaluation is not None:
        _say(out, "[INFO] evaluating network...\n" + result.evaluation.text)
    lines = [f"[INFO] {result.status} in {format_duration(time.perf_counter() - started)}; wrote:"]
    lines += [f"  {name:<10} {path}" for name, path in result.files.items()]
    _say(out, "\n".join(lines))
    if signals.signum is not None:
        return 128 + int(signals.signum)
    return EXIT_OK


class ComparePrinter(ConsolePrinter):
    """Adds a line per queued run to the usual training lines."""

    prefix = ""

    def _print(self, text: str) -> None:
        super()._print(self.prefix + text if self.prefix else text)

    def for_run(self, label: str) -> Callable[[Event], None]:
        """The listener of one of several runs training at once: its lines start with ``[label]``.

        run_comparison calls it (and them) one event at a time. A live
        progress line cannot follow several runs, so batch ends are not shown.
        """

        def listen(event: Event) -> None:
            if isinstance(event, BatchEnded):
                return
            self.prefix = f"[{label}] "
            try:
                self(event)
            finally:
                self.prefix = ""

        return listen

    def _show(self, event: Event) -> None:
        if isinstance(event, QueueProgress):
            what = f"reusing finished run {event.run_dir}" if event.reused else "training"
            self._print(f"[INFO] run {event.index}/{event.total}: {event.variant} seed {event.seed}: {what}")
        elif isinstance(event, (StageChanged, TrainStarted)):
            if isinstance(event, TrainStarted):
                self.epochs = event.epochs
                self._print(f"[INFO] run folder: {event.run_dir}")
                if event.initial_epoch:
                    self._print(f"[INFO] resuming after epoch {event.initial_epoch}")
        elif isinstance(event, RunPlaced):
            retry = f" (retry {event.attempt - 1}: its last worker died)" if event.attempt > 1 else ""
            self._print(f"[INFO] on Ray node {event.node} ({event.node_id[:8]}), worker pid {event.pid}{retry}")
        elif isinstance(event, TrainFailed) and not event.user_error:
            # One run of the queue died or diverged; the queue goes on without it.
            super()._show(event)
            self._print(f"[WARN] this run did not finish: {event.message}; the queue goes on")
        else:
            super()._show(event)


def _where_runs_train(args: argparse.Namespace, out: TextIO) -> Any:
    """A context manager yielding the queue's ``train_fn``: a child process per run here, or a Ray task."""
    import contextlib

    if args.ray is None:
        from .isolated import train_isolated

        # Each run in a child process: TensorFlow keeps memory from every fit
        # (~25 MB a run here), and a queue can be dozens of runs long.
        return contextlib.nullcontext(train_isolated)
    from .cluster import ray_queue

    return ray_queue(args.ray, cpus_per_run=args.cpus_per_run or options.CPUS_PER_RUN.default,
                     gpus_per_run=args.gpus_per_run or 0, say=lambda text: _say(out, text))


def compare_main(argv: Sequence[str]) -> int:
    from .compare import format_table, run_comparison

    out, err = sys.stdout, sys.stderr
    try:
        args = build_compare_parser().parse_args(argv)
        # The parser read them with options.VARIANT and options.SEEDS.
        variants, seeds = args.variants, args.seeds
        base = RunConfig(backend=args.backend, data=args.data, recipe=args.recipe, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=0, train_limit=args.train_limit,
                         test_limit=args.test_limit, precision=args.precision)
        base.resolved()  # validate before any training
        if args.ray is None:
            for flag, value in (("--cpus-per-run", args.cpus_per_run), ("--gpus-per-run", args.gpus_per_run)):
                if value is not None:
                    raise ConfigError(f"{flag} applies only to runs on Ray: add --ray [ADDRESS], or leave {flag} out")
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE
    stop = StopRequest()

    def queue() -> Any:
        with _where_runs_train(args, out) as train_fn:
            return run_comparison(variants, seeds, base, ComparePrinter(out, err), stop=stop,
                                  runs_dir=args.runs_dir, train_fn=train_fn)

    with _SignalStop(stop, err) as signals:
        result, code = _guarded(err, queue)
    if result is None:
        return code
    if result.stopped:
        _say(out, f"[INFO] comparison stopped: {result.trained} run(s) trained and kept, {result.reused} reused; "
                  "run the same command again to continue")
        return 128 + int(signals.signum) if signals.signum is not None else EXIT_CRASH
    _say(out, f"[INFO] {result.trained} run(s) trained, {result.reused} reused\n")
    if result.comparison is not None:
        _say(out, format_table(result.comparison))
        _say(out, "\n" + result.comparison.verdict + "\n")
        _say(out, "[INFO] wrote:\n" + "\n".join(f"  {k:<10} {v}" for k, v in result.files.items()))
    if result.unfinished:
        lines = [f"[INFO] {len(result.unfinished)} run(s) did not finish"
                 + ("" if result.comparison is not None else ", so a variant has no run to compare") + ":"]
        lines += [f"  {u.variant} seed {u.seed}: {u.reason}" for u in result.unfinished]
        _say(err, "\n".join(lines))
        return EXIT_CRASH
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
