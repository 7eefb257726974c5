"""Every setting a user can type, declared once: name, help, rule (range or choices), default.

``kvt-train``, ``kvt-train compare``, ``kvt-tui``'s flags, the app's form and
:meth:`RunConfig.validate <kvt_models.settings.config.RunConfig.validate>` all read a
value through the same :meth:`Option.parse`, so a value is accepted or
refused the same way everywhere, with the same one-line message::

    epochs must be a whole number from 1 to 10000, got 0

Only the subject differs: the command lines name the flag (``--epochs``),
the form and the engine the setting (``epochs``).

The dataset spec has one reader, :func:`read_dataset_spec`, which the data
loader uses too: ``cifar10`` and ``sample`` in any case and spelling
(``CIFAR-10``, ``cifar_10``), anything else a path.

The app imports this module (through ``config.py``) before its first frame,
so it holds to the standard library plus ``errors`` and ``recipes``: no numpy,
no TensorFlow, no data package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from kvt_models.errors import ConfigError, KvtError
from kvt_models.settings.datasets import missing_dataset_message, no_dataset_message, read_dataset_spec
from kvt_models.settings.recipes import RECIPES
from kvt_models.variants import (
    ACTIVATIONS,
    BACKEND_DEFAULT,
    BACKENDS,
    FRAMEWORKS,
    PRESETS,
    Variant,
    check_runs_on,
)

# The compute precision (kvt_models.settings.precision); "auto" is resolved when a run is configured.
PRECISIONS: dict[str, str] = {
    "auto": "bfloat16 on Keras 3 on TensorFlow where the CPU has native bf16 instructions, else float32",
    "float32": "float32 throughout",
    "bfloat16": "bf16 math, float32 weights and statistics (Keras's mixed_bfloat16)",
}

MAX_EPOCHS = 10_000
MAX_BATCH = 65_536
MAX_SEED = 2**32 - 1  # what keras.utils.set_random_seed (numpy) accepts
SEEDS_LIMIT = 100  # a sanity bound on a comparison: 100 seeds x 10 variants is 1,000 runs
MAX_LR = 10.0


# A rule turns stripped, non-empty text into a value, or raises ConfigError
# with a message about ``name`` (the flag or the field, as the caller says).
Rule = Callable[[str, str], Any]


@dataclass(frozen=True)
class Option:
    """One setting: how it is called, what it means, and the one rule for reading it."""

    key: str  # the RunConfig field or argparse dest: "batch_size"
    name: str  # the form's and the engine's word for it: "batch size"
    flag: str  # the command lines' word for it: "--batch-size"
    help: str
    rule: Rule
    default: Any = None
    empty_means_default: bool = False  # an empty field (or --epochs "") means `default`
    metavar: str | None = None

    def parse(self, text: str, name: str | None = None) -> Any:
        """Typed text -> value; ConfigError, one line about ``name`` (default: ``self.name``)."""
        if not isinstance(text, str):
            raise TypeError(f"{self.key} is parsed from text. Received: text={text!r}")
        text = text.strip()
        if not text and self.empty_means_default:
            return self.default
        return self.rule(text, name or self.name)

    def check(self, value: Any, name: str | None = None) -> Any:
        """A value from code or a config.json -> the canonical value, by the rule typed text obeys.

        The value is judged as the text it prints as, so ``0``, ``True`` or
        ``3.0`` for epochs get the very message ``--epochs 0`` gets.
        """
        if value is None:
            return self.parse("", name)
        return self.parse(value if isinstance(value, str) else str(value), name)


# -- rules --------------------------------------------------------------------------
def whole_number(low: int, high: int | None = None) -> Rule:
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"

    def rule(text: str, name: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number {span}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise ConfigError(f"{name} must be a whole number {span}, got {value}")
        return value

    return rule


def learning_rate(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_LR):
        raise ConfigError(f"{name} must be a number above 0 and at most {MAX_LR:g}, such as 0.01, got {text!r}")
    return value


def one_of(choices: Iterable[str]) -> Rule:
    choices = tuple(choices)

    def rule(text: str, name: str) -> str:
        # Case-insensitive: "Keras" and "GELU" mean what they say.
        if text.lower() in choices:
            return text.lower()
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {text!r}")

    return rule


def dataset(text: str, name: str) -> str:
    if not text:
        raise ConfigError(no_dataset_message(name))
    kind, path = read_dataset_spec(text)
    if path is None:
        return kind
    if not path.exists():
        raise ConfigError(missing_dataset_message(path, name))
    return str(path)


def runs_folder(text: str, name: str) -> Path:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name} {path} is a file, not a folder: pass a folder path")
    return path


AUTO_SEEDS = "auto"  # --seeds auto: add seeds until each pair is decided (kvt_models.compare.sequential)
# The first look of --seeds auto (kvt_models.compare.sequential), and the least --max-seeds: Welch's test
# with 2 seeds a side has 1 to 2 degrees of freedom, and at a spent alpha below 0.01 it is nearly powerless.
FIRST_LOOK = 3


def seed_list(text: str, name: str) -> list[int] | str:
    """Seeds 1..K for a count, the seeds of a list, or ``"auto"`` (AUTO_SEEDS)."""
    if text.lower() == AUTO_SEEDS:
        return AUTO_SEEDS
    message = (f"{name} must be a count from 1 to {SEEDS_LIMIT} (seeds 1..K), a list of distinct seeds "
               f"from 0 to {MAX_SEED} such as 1,2,7, or auto, got {text!r}")
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",") if part.strip()]
        else:
            count = int(text)
            seeds = list(range(1, count + 1)) if 1 <= count <= SEEDS_LIMIT else []
    except ValueError:
        raise ConfigError(message) from None
    if not 1 <= len(seeds) <= SEEDS_LIMIT or len(set(seeds)) != len(seeds) or not all(0 <= s <= MAX_SEED for s in seeds):
        raise ConfigError(message)
    return seeds


# Where a comparison's runs train (kvt_models.cluster): no --ray, this machine, a child process per
# run; --ray alone, a Ray instance kvt starts here; --ray auto, the cluster `ray start` made on this
# machine; --ray HOST:PORT, the head's GCS port of a running cluster.
RAY_LOCAL = "local"
RAY_HINT = "HOST:PORT of a running cluster's head (ray start --head --port PORT), auto, or nothing for a local Ray instance"


def ray_address(text: str, name: str) -> str:
    """``local``, ``auto`` or a canonical ``host:port``; anything else one line saying what to type."""
    lowered = text.lower()
    if lowered in (RAY_LOCAL, "auto"):
        return lowered
    if "://" in text:
        raise ConfigError(f"{name} takes {RAY_HINT}, not a URL such as {text!r} (Ray Client's ray:// is not supported)")
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if sep and host and not any(ch.isspace() for ch in host) and port.isdigit() and 1 <= int(port) <= 65535:
        return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"
    raise ConfigError(f"{name} must be {RAY_HINT}, got {text!r}")


def variant(text: str, name: str) -> Variant:
    body, at, backend = (part.strip().lower() for part in text.partition("@"))
    framework, sep, activation = (part.strip() for part in body.partition(":"))
    if sep and framework in FRAMEWORKS and activation in ACTIVATIONS and (not at or backend in BACKENDS):
        if at:
            check_runs_on(framework, backend, f"{name} {text.strip()!r}: ")
        return Variant(framework, activation, backend if at else None)
    raise ConfigError(
        f"{name} {text!r} must be framework:activation[@backend], with framework one of {', '.join(FRAMEWORKS)}, "
        f"activation one of {', '.join(ACTIVATIONS)} and backend one of {', '.join(BACKENDS)}, "
        "such as keras:relu or keras:relu@jax"
    )


MAX_MIN_EFFECT = 100.0  # points of accuracy: no difference is larger


def points(text: str, name: str) -> float:
    """A difference in accuracy points, above 0 and at most 100 (returned in points, as typed)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_MIN_EFFECT):
        raise ConfigError(f"{name} must be a number of accuracy points above 0 and at most {MAX_MIN_EFFECT:g}, "
                          f"such as 1.0, got {text!r}")
    return value


def _braces(choices: Iterable[str]) -> str:
    return "{" + ",".join(choices) + "}"


# -- the options ------------------------------------------------------------------------
FRAMEWORK = Option(
    "framework", "framework", "--framework", rule=one_of(FRAMEWORKS), default="keras", metavar=_braces(FRAMEWORKS),
    help="keras (import keras) or tensorflow (tf.keras + tf.nn ops); default keras",
)
ACTIVATION = Option(
    "activation", "activation", "--activation", rule=one_of(ACTIVATIONS), default="relu", metavar=_braces(ACTIVATIONS),
    help="activation after each conv/fc layer but the first; default relu",
)
BACKEND = Option(
    "backend", "backend", "--backend", rule=one_of(BACKENDS), default=BACKEND_DEFAULT, metavar=_braces(BACKENDS),
    help="the runtime: Keras 3 on tensorflow (default), jax or torch, or keras2 (tf_keras, Keras 2); "
    "the tensorflow framework needs tensorflow or keras2",
)
PRECISION = Option(
    "precision", "precision", "--precision", rule=one_of(PRECISIONS), default="auto", metavar=_braces(PRECISIONS),
    help="compute precision: float32, bfloat16 (bf16 math over float32 weights), or auto (default: bfloat16 on "
    "the tensorflow runtime where the CPU has native bf16, else float32); config.json records the choice",
)
PRESET = Option(
    "preset", "preset", "--preset", rule=one_of(sorted(PRESETS)), metavar=_braces(sorted(PRESETS)),
    help="the post's two programs: framework and activation at once",
)
DATA = Option(
    "data", "dataset", "--data", rule=dataset, default="cifar10", metavar="DATA",
    help="cifar10 (Keras download, default), sample (bundled subset), or a folder / .tar.gz (CIFAR python batches, "
    "train/ + test/ class folders, or just class folders); names in any case, CIFAR-10 too",
)
RECIPE = Option(
    "recipe", "recipe", "--recipe", rule=one_of(RECIPES), default="seed-2018", metavar=_braces(RECIPES),
    help="training recipe (default seed-2018, the post's)",
)
EPOCHS = Option(
    "epochs", "epochs", "--epochs", rule=whole_number(1, MAX_EPOCHS), empty_means_default=True, metavar="N",
    help=f"number of epochs, 1 to {MAX_EPOCHS} (default: the recipe's)",
)
BATCH_SIZE = Option(
    "batch_size", "batch size", "--batch-size", rule=whole_number(1, MAX_BATCH), empty_means_default=True, metavar="N",
    help=f"batch size, 1 to {MAX_BATCH} (default: the recipe's)",
)
LR = Option(
    "lr", "learning rate", "--lr", rule=learning_rate, empty_means_default=True, metavar="LR",
    help=f"initial learning rate, above 0 and at most {MAX_LR:g} (default: the recipe's)",
)
SEED = Option(
    "seed", "seed", "--seed", rule=whole_number(0, MAX_SEED), empty_means_default=True, metavar="N",
    help="random seed (default: random, recorded in config.json)",
)
TRAIN_LIMIT = Option(
    "train_limit", "train limit", "--train-limit", rule=whole_number(1), empty_means_default=True, metavar="N",
    help="use a stratified subset of N training images (default: all)",
)
TEST_LIMIT = Option(
    "test_limit", "test limit", "--test-limit", rule=whole_number(1), empty_means_default=True, metavar="N",
    help="use a stratified subset of N test images (default: all)",
)
RUNS_DIR = Option(
    "runs_dir", "runs dir", "--runs-dir", rule=runs_folder, empty_means_default=True, metavar="DIR",
    help="where runs are stored (default $KVT_RUNS_DIR or ~/.kvt/runs)",
)
SEEDS = Option(
    "seeds", "seeds", "--seeds", rule=seed_list, default="3", metavar="K|LIST",
    help=f"how many seeds (1..K, K at most {SEEDS_LIMIT}), a list such as 1,2,7, or auto: add a seed to every "
    "variant per round until each pair is decided (better, worse or equivalent) or --max-seeds (default 3)",
)
MAX_SEEDS = Option(
    "max_seeds", "max seeds", "--max-seeds", rule=whole_number(FIRST_LOOK, SEEDS_LIMIT), default=8,
    empty_means_default=True, metavar="K",
    help=f"with --seeds auto: the most seeds per variant, {FIRST_LOOK} to {SEEDS_LIMIT} (default 8); "
    f"the first look comes after {FIRST_LOOK}",
)
MIN_EFFECT = Option(
    "min_effect", "min effect", "--min-effect", rule=points, default=1.0, empty_means_default=True, metavar="D",
    help="the smallest difference in test accuracy that matters, in points (default 1.0): a pair whose "
    "interval lies within ±D is equivalent; each pair also reports the seeds needed to detect D",
)
VARIANT = Option(
    "variants", "variant", "variant", rule=variant, metavar="VARIANT",
    help="framework:activation[@backend], e.g. keras:relu keras:relu@jax tensorflow:crelu@keras2; "
    "without @, the --backend flag's (default tensorflow)",
)

RAY = Option(
    "ray", "Ray cluster", "--ray", rule=ray_address, empty_means_default=True, metavar="ADDRESS",
    help="train each queued run as a task on a Ray cluster: HOST:PORT of its head, auto (the cluster ray start "
    "made on this machine), or nothing to start a local Ray instance; results land in the local runs dir "
    "(needs pip install 'kvt[ray]')",
)
# Two, not one: TensorFlow runs each op of a run on a thread pool as large as the machine's cores,
# so a run is built to use several, and two is what the smallest box kvt targets (the 2-core one it
# is built on) has: there a run gets the whole node rather than sharing two cores with another run.
# A queue on a cluster gets its speed from runs on different nodes at once. (Not measured against 1.)
CPUS_PER_RUN = Option(
    "cpus_per_run", "CPUs per run", "--cpus-per-run", rule=whole_number(1, 1024), default=2,
    empty_means_default=True, metavar="N",
    help="with --ray: CPUs Ray reserves for each run (default 2: what one run keeps busy); "
    "a node runs as many runs at once as it has N CPUs",
)
# Two: one run leaves part of the 2 cores of the box kvt is built on idle, and two at once trained a queue
# faster there in most measurements, with the same numbers (docs/performance.md has them).
PARALLEL = Option(
    "parallel", "parallel runs", "--parallel", rule=whole_number(1, 64), default=2, empty_means_default=True,
    metavar="N",
    help="runs of a local queue that train at once (default 2; 1: one after another); "
    "a queue on Ray runs as many per node as its CPUs allow",
)
GPUS_PER_RUN = Option(
    "gpus_per_run", "GPUs per run", "--gpus-per-run", rule=whole_number(0, 64), default=0,
    empty_means_default=True, metavar="N",
    help="with --ray: GPUs Ray reserves for each run (default 0); refused when no node has that many",
)

# RunConfig's fields, each with its option: what RunConfig.validate checks.
RUN_OPTIONS: dict[str, Option] = {
    o.key: o for o in (FRAMEWORK, ACTIVATION, BACKEND, DATA, RECIPE, EPOCHS, BATCH_SIZE, LR, SEED, TRAIN_LIMIT, TEST_LIMIT,
                       PRECISION)
}
OPTIONS: dict[str, Option] = {
    **RUN_OPTIONS, **{o.key: o for o in (PRESET, RUNS_DIR, SEEDS, MAX_SEEDS, MIN_EFFECT, VARIANT, RAY, CPUS_PER_RUN,
                          GPUS_PER_RUN, PARALLEL)}
}


# -- command lines ---------------------------------------------------------------------
class FlagError(KvtError):
    """A command-line value its option refused; the message names the flag and says what to type.

    Deliberately not a ValueError (as ConfigError is): argparse would catch
    that and print "invalid epochs value" instead. This one passes through
    ``parse_args`` for the front end to print as is, like the form does.
    """


def flag_type(option: Option, name: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads with the option's rule and names the flag in its message."""

    def parse(text: str) -> Any:
        try:
            return option.parse(text, name or option.flag)
        except ConfigError as exc:
            raise FlagError(str(exc)) from None

    parse.__name__ = option.key
    return parse


def add_flag(parser: Any, option: Option, **overrides: Any) -> None:
    """``parser.add_argument`` for ``option``: its flag, rule, metavar, help and default."""
    settings: dict[str, Any] = {"type": flag_type(option), "default": option.default,
                                "metavar": option.metavar, "help": option.help, "dest": option.key}
    parser.add_argument(option.flag, **{**settings, **overrides})
