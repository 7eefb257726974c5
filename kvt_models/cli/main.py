"""``kvt-train``: headless training for nohup, tmux and CI, printing like the 2018 scripts.

Exit codes: 0 done; 1 a crash inside kvt or the training diverged; 2 bad
input (one line on stderr, no traceback); 128+N when stopped by signal N
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), after saving the run.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from kvt_models.cli.notify import RunOutcome, outcome_env, run_notify_command
from kvt_models.cli.parsers import build_compare_parser, build_parser, config_from_args
from kvt_models.cli.printers import ComparePrinter, ConsolePrinter, say
from kvt_models.cli.signals import SignalStop
from kvt_models.errors import EXIT_CRASH, EXIT_OK, EXIT_USAGE, ConfigError, KvtError, is_user_error
from kvt_models.events import Listener
from kvt_models.settings.config import RunConfig
from kvt_models.timefmt import format_duration
from kvt_models.train.stopping import StopRequest


def _guarded(err: TextIO, job: Callable[[], Any], errors: list[str] | None = None) -> tuple[Any, int]:
    """Run ``job``; a user's mistake (exit 2) or a diverged run (exit 1) becomes one line (kept in ``errors``)."""
    try:
        return job(), EXIT_OK
    except KvtError as exc:
        say(err, f"kvt-train: error: {exc}")
        if errors is not None:
            errors.append(str(exc))
        return None, EXIT_USAGE if is_user_error(exc) else EXIT_CRASH


def main(argv: Sequence[str] | None = None) -> int:
    """``kvt-train``'s exit status; run as the program (no ``argv``), it leaves as soon as all is saved and said."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        from kvt_models.backend.runtime import exit_without_teardown

        # The run is on disk and every line is out: the runtime's native teardown would only delay
        # the exit (and a stop) by seconds.
        exit_without_teardown(code)
    return code


def _main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    if argv[:1] in (["runs"], ["show"]):
        from kvt_models.cli.finding import runs_main, show_main

        return (runs_main if argv[0] == "runs" else show_main)(argv[1:])
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.resume:
            # The run's own settings: the flags beside --resume are checked against them, not made a config.
            from kvt_models.cli.resuming import check_resume_flags, given_flags

            ignoring = check_resume_flags(given_flags(build_parser(), argv), Path(args.resume).expanduser())
            if ignoring:
                say(out, ignoring)
        else:
            config = config_from_args(args)
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE

    from kvt_models.store.notes import tagging

    outcome = RunOutcome(ConsolePrinter(out, err))
    started = time.perf_counter()
    code = EXIT_CRASH  # unless _train returns: a crash inside kvt, with its traceback
    try:
        code = _train(args, None if args.resume else config, tagging(outcome, args.note, args.tags), out, err, started)
        return code
    finally:
        if args.notify_command:
            # Last, once the run is saved and every line is out; whatever the command does, `code` stands.
            run_notify_command(args.notify_command, outcome_env("run", code, time.perf_counter() - started,
                                                                outcome.values), err)


def _train(args: Any, config: RunConfig | None, printer: Listener, out: TextIO, err: TextIO, started: float) -> int:
    """A new run (``config``) or ``--resume``, then the report and the files written; the exit status."""
    from kvt_models.store.runs import CURVES_FILE
    from kvt_models.train.training import resume, train

    stop = StopRequest()
    with SignalStop(stop, err) as signals:
        if config is None:
            result, code = _guarded(err, lambda: resume(Path(args.resume).expanduser(), printer, stop=stop,
                                                          tensorboard=None if args.tensorboard else False))
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
            say(err, f"kvt-train: warning: could not write --plot {args.plot}: {exc.strerror or exc}")
    if result.evaluation is not None:
        # Made with the epoch, from its own test predictions: the report of what model.keras holds.
        say(out, f"[INFO] evaluating network... (epoch {result.report_epoch}, the model saved)\n" + result.evaluation.text)
    lines = [f"[INFO] {result.status} in {format_duration(time.perf_counter() - started)}; wrote:"]
    lines += [f"  {name:<10} {path}" for name, path in result.files.items()]
    say(out, "\n".join(lines))
    if signals.signum is not None:
        return 128 + int(signals.signum)
    return EXIT_OK


def compare_main(argv: Sequence[str]) -> int:
    from kvt_models.compare.sequential import Design
    from kvt_models.settings.options import AUTO_SEEDS, MAX_SEEDS

    out, err = sys.stdout, sys.stderr
    try:
        args = build_compare_parser().parse_args(argv)
        # The parser read them with options.VARIANT, options.SEEDS, MAX_SEEDS and MIN_EFFECT.
        variants, seeds = args.variants, args.seeds
        if seeds == AUTO_SEEDS:
            max_seeds = args.max_seeds or MAX_SEEDS.default
            design = Design(max_seeds=max_seeds, min_effect=args.min_effect / 100)
            seeds = list(range(1, max_seeds + 1))
        elif args.max_seeds is not None:
            raise ConfigError("--max-seeds applies only with --seeds auto: add --seeds auto, or leave --max-seeds out")
        else:
            design = Design.fixed(len(seeds), args.min_effect / 100)
        base = RunConfig(backend=args.backend, data=args.data, recipe=args.recipe, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=0, train_limit=args.train_limit,
                         test_limit=args.test_limit, precision=args.precision, tensorboard=args.tensorboard)
        base.resolved()  # validate before any training
        if args.ray is None:
            for flag, value in (("--cpus-per-run", args.cpus_per_run), ("--gpus-per-run", args.gpus_per_run)):
                if value is not None:
                    raise ConfigError(f"{flag} applies only to runs on Ray: add --ray [ADDRESS], or leave {flag} out")
        elif args.parallel is not None:
            raise ConfigError("--parallel applies only to a local queue (on Ray, --cpus-per-run sets how many "
                              "runs a node takes at once): leave --parallel out")
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE
    started = time.perf_counter()
    values = {"STATUS": "failed", "MESSAGE": ""}  # until the queue says otherwise
    code = EXIT_CRASH  # unless _queue returns: a crash inside kvt, with its traceback
    try:
        code = _queue(args, argv, variants, seeds, base, design, out, err, values)
        return code
    finally:
        if args.notify_command:
            run_notify_command(args.notify_command, outcome_env("comparison", code, time.perf_counter() - started,
                                                                values), err)


def _queue(args: Any, argv: Sequence[str], variants: list[Any], seeds: list[int], base: RunConfig, design: Any,
           out: TextIO, err: TextIO, values: dict[str, str]) -> int:
    """Train the comparison's queue, then print its table and verdict; the exit status. ``values``: its outcome."""
    from kvt_models.compare.placement import where_runs_train
    from kvt_models.compare.queue import run_comparison
    from kvt_models.compare.verdict import format_table
    from kvt_models.settings.options import PARALLEL
    from kvt_models.store.notes import tagging

    stop = StopRequest()

    def queue() -> Any:
        where = where_runs_train(args.ray, cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                                 say=lambda text: say(out, text), parallel=args.parallel or PARALLEL.default)
        with where as train_fn:
            return run_comparison(variants, seeds, base, tagging(ComparePrinter(out, err), args.note, args.tags), stop=stop,
                                  runs_dir=args.runs_dir, train_fn=train_fn, design=design)

    errors: list[str] = []
    with SignalStop(stop, err) as signals:
        result, code = _guarded(err, queue, errors)
    if result is None:
        values["MESSAGE"] = errors[-1] if errors else ""
        return code
    values.update(RUNS_TRAINED=str(result.trained), RUNS_REUSED=str(result.reused),
                  RUNS_UNFINISHED=str(len(result.unfinished)))
    if result.stopped:
        values.update(STATUS="stopped", MESSAGE="stopped by a signal")
        say(out, f"[INFO] comparison stopped: {result.trained} run(s) trained and kept, {result.reused} reused; "
                  "run the same command again to continue")
        return 128 + int(signals.signum) if signals.signum is not None else EXIT_CRASH
    values.update(STATUS="finished" if not result.unfinished else "incomplete",
                  COMPARISON_DIR=str(result.folder or ""),
                  VERDICT=result.comparison.verdict if result.comparison is not None else "")
    if result.unfinished:
        values["MESSAGE"] = f"{len(result.unfinished)} run(s) did not finish"
    say(out, f"[INFO] {result.trained} run(s) trained, {result.reused} reused\n")
    if result.comparison is not None:
        say(out, format_table(result.comparison))
        say(out, "\n" + result.comparison.verdict + "\n")
        say(out, "[INFO] wrote:\n" + "\n".join(f"  {k:<10} {v}" for k, v in result.files.items()))
        if args.export:
            from kvt_models.compare.bundle import export_bundle

            files, code = _guarded(err, lambda: export_bundle(result.comparison, args.export,
                                                              command=["kvt-train", "compare", *argv]))
            if files is None:
                return code
            say(out, "[INFO] evidence bundle:\n" + "\n".join(f"  {k:<10} {v}" for k, v in files.items()))
    if result.unfinished:
        lines = [f"[INFO] {len(result.unfinished)} run(s) did not finish"
                 + ("" if result.comparison is not None else ", so a variant has no run to compare") + ":"]
        lines += [f"  {u.variant} seed {u.seed}: {u.reason}" for u in result.unfinished]
        say(err, "\n".join(lines))
        return EXIT_CRASH
    return EXIT_OK
