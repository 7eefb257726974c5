"""``kvt-train``'s and ``kvt-train compare``'s flags, and the RunConfig they make.

Each flag's rule, help and default come from its declaration in
:mod:`kvt_models.settings.options`, shared with the app's form and
:meth:`RunConfig.validate <kvt_models.settings.config.RunConfig.validate>`.
"""

from __future__ import annotations

import argparse

from kvt_models import __version__
from kvt_models.errors import ConfigError
from kvt_models.settings import alerts, options, sharing
from kvt_models.settings.config import RunConfig
from kvt_models.settings.options import add_flag, flag_type
from kvt_models.variants import PRESETS


class Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage and exiting, so main() owns the exit."""

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except options.FlagError as exc:
            # An option's own message already says what to type: no "see --help".
            raise ConfigError(str(exc)) from None

    def error(self, message: str):
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
    _add_sharing_flags(p)


def _add_sharing_flags(p: argparse.ArgumentParser) -> None:
    # What is recorded beside the run, not how it trains: a note, tags (kvt_models.store.notes), TensorBoard files.
    add_flag(p, sharing.NOTE)
    p.add_argument(sharing.TAG.flag, dest="tags", action="append", default=[], type=flag_type(sharing.TAG),
                   metavar=sharing.TAG.metavar, help=sharing.TAG.help)
    p.add_argument(sharing.TENSORBOARD.flag, dest="tensorboard", action="store_false", help=sharing.TENSORBOARD.help)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kvt-train",
        description="Train MiniVGGNet on CIFAR-10 the Keras way or the TensorFlow way (headless).",
        epilog="Presets from the 2018 post: --preset keras (keras + relu), --preset tensorflow (tensorflow + crelu). "
        "Runtimes: --backend tensorflow (Keras 3 on TF, default), jax, torch, keras2 (tf_keras). "
        "Compare variants over several seeds: kvt-train compare keras:relu tensorflow:crelu --seeds 3 (see kvt-train compare --help). "
        "Find runs: kvt-train runs [--tag T] [--search TEXT] [--json]; read one or several: kvt-train show RUN [RUN ...].",
    )
    _add_training_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run from its last finished epoch, with its own settings (other training flags are left out, or refused where they say otherwise)")
    p.add_argument("--plot", help="also copy the loss/accuracy plot to this PNG path, as in the 2018 scripts")
    add_flag(p, alerts.NOTIFY_COMMAND)
    p.add_argument("--version", action="version", version=f"kvt {__version__}")
    return p


def build_compare_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kvt-train compare",
        description="Run each variant once per seed on the same data and recipe, then compare test accuracy "
        "(mean ± std, difference with 95% CI, Welch's t-test), and decide each pair against the first variant: "
        "better, worse, equivalent (within ±--min-effect) or undecided. --seeds auto adds a seed to every variant "
        "per round until every pair is decided, with error rates that hold over the repeated looks. "
        "Finished runs are reused.",
    )
    p.add_argument("variants", nargs="+", type=flag_type(options.VARIANT), metavar=options.VARIANT.metavar,
                   help=options.VARIANT.help)
    add_flag(p, options.SEEDS)
    # None when not given, so that it can be refused without --seeds auto.
    add_flag(p, options.MAX_SEEDS, default=None)
    add_flag(p, options.MIN_EFFECT)
    _add_training_flags(p, variant_flags=False)
    # --ray alone: a local Ray instance; no --ray: a child process per run here, as before.
    add_flag(p, options.RAY, nargs="?", const=options.RAY_LOCAL, default=None)
    # None when not given, so that they can be refused without --ray.
    add_flag(p, options.CPUS_PER_RUN, default=None)
    add_flag(p, options.GPUS_PER_RUN, default=None)
    # None when not given, so that it can be refused with --ray.
    add_flag(p, options.PARALLEL, default=None)
    add_flag(p, sharing.EXPORT, default=None)
    add_flag(p, alerts.NOTIFY_COMMAND)
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
        tensorboard=args.tensorboard,
    ).resolved()
