"""Seeded, repeatable comparisons of variants, with statistics.

The 2018 post found CReLU one point better than ReLU and admitted it might
be the random initialisation. A comparison answers that: every variant
(``framework:activation``, on a runtime of its own with ``@backend``:
``keras:relu@jax``) runs once per seed on the same data and recipe,
each as an ordinary run in the runs dir, then we report mean +- std of the
final and best test accuracy per variant, its training speed (img/s), and,
for each pair, the difference in means with a 95% confidence interval and
Welch's t-test. So one comparison across runtimes answers both "which is
faster here" and "does the accuracy differ".

Finished runs with the same settings and seed are reused, so an interrupted
comparison picks up where it stopped, and re-running it reproduces the same
numbers without training again.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import ACTIVATIONS, FRAMEWORKS, RunConfig
from .atomic import atomic_write_json, json_safe
from .errors import ConfigError, KvtError, TrainingDiverged
from .events import Listener, QueueProgress, ignore
from .options import BACKEND_DEFAULT, BACKENDS, SEEDS, TF_BACKENDS, VARIANT, Variant
from .runs import RunRecord, RunStore, read_run
from .settling import Trajectories, holm, trajectories
from .precision import LEGACY as LEGACY_PRECISION
from .stats import Stat, mean_std, welch  # noqa: F401  (mean_std: re-exported, its old home)
from .verdict import format_table, images_per_second, verdict  # noqa: F401  (re-exported, their old home)

COMPARISONS_DIR = "comparisons"
# Settings that must match for a finished run to stand in for a new one.
_MATCH_KEYS = ("framework", "activation", "backend", "data", "recipe", "epochs", "batch_size", "lr", "seed",
               "train_limit", "test_limit", "precision")
# What a run made before a setting existed trained with: runs older than the backend axis ran on TensorFlow.
_MATCH_DEFAULTS = {"backend": BACKEND_DEFAULT, "precision": LEGACY_PRECISION}
# Settings a comparison's variants differ in: not shared settings, but part of each variant's name.
_VARIANT_KEYS = ("framework", "activation", "backend", "seed")


def parse_variant(text: str) -> Variant:
    """``"tensorflow:crelu@keras2"`` -> ``Variant("tensorflow", "crelu", "keras2")``; one-line ConfigError (options.VARIANT)."""
    return VARIANT.parse(text)


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> seeds 1..3; ``"1,5,9"`` -> those seeds (rule: options.SEEDS)."""
    return SEEDS.parse(text, SEEDS.flag)


def variant_name(framework: str, activation: str, backend: str | None = None) -> str:
    """``keras:relu``, ``keras:relu@jax``: the default backend is not written."""
    return Variant(framework, activation, backend).name


def all_variants() -> list[Variant]:
    """Every variant that can run, runtime by runtime (the default first), then framework, then activation.

    The order comparisons list variants in. The tensorflow framework runs only
    where TensorFlow executes the ops.
    """
    return [Variant(framework, activation, backend) for backend in BACKENDS for framework in FRAMEWORKS
            if framework != "tensorflow" or backend in TF_BACKENDS for activation in ACTIVATIONS]


def resolve_variants(variants: Sequence[tuple[str, ...]], backend: str) -> list[Variant]:
    """Variants as given (``Variant`` or ``(framework, activation[, backend])``), those without a backend on ``backend``."""
    resolved = []
    for v in variants:
        variant = Variant(*v)
        resolved.append(variant._replace(backend=variant.backend or backend))
    return resolved


@dataclass(frozen=True)
class PlannedRun:
    variant: str
    seed: int
    config: RunConfig
    existing: Path | None  # a finished run with these exact settings, reused as is


def plan(variants: Sequence[tuple[str, ...]], seeds: Sequence[int], base: RunConfig, store: RunStore) -> list[PlannedRun]:
    """Every variant x seed, each matched to a finished run in the store if one exists.

    A variant without a backend runs on ``base.backend``. Every runtime the
    queue needs must be installed: a missing one is refused here, in one
    line naming its pip command, before anything trains.
    """
    from . import runtime

    variants = resolve_variants(variants, base.backend)
    if len(set(variants)) < len(variants):
        raise ConfigError("each variant may appear only once")
    finished: dict[tuple, Path] = {}
    for info in store.list_runs():
        if info.status == "finished" and info.epochs_done >= info.epochs_total > 0:
            finished.setdefault(_key(info.config), info.path)
    planned = []
    for variant in variants:
        for seed in seeds:
            cfg = replace(base, framework=variant.framework, activation=variant.activation, backend=variant.backend,
                          seed=seed).resolved()
            planned.append(PlannedRun(variant.name, seed, cfg, finished.get(_key(cfg.to_dict()))))
    for backend in dict.fromkeys(item.config.backend for item in planned if item.existing is None):
        runtime.require(backend)
    return planned


def _key(config: dict[str, Any]) -> tuple:
    return tuple(config.get(k, _MATCH_DEFAULTS.get(k)) for k in _MATCH_KEYS)


# -- statistics -------------------------------------------------------------
@dataclass
class VariantSummary:
    variant: str
    final_accuracy: Stat
    best_accuracy: Stat
    seconds_per_epoch: float
    params: int
    runs: list[str]
    seeds: list[int]
    # Training speed: the images of every epoch of every run over the time spent
    # training them (the first epoch's graph tracing or compilation included).
    images_per_second: float = math.nan
    curves: dict[str, list[float]] = field(default_factory=dict)  # mean/std per epoch, for the overlay


@dataclass
class PairSummary:
    a: str
    b: str
    diff: float  # mean final accuracy of b minus a, in [0, 1] units
    ci95: tuple[float, float]
    p_value: float
    significant: bool  # at 5%, after the Holm correction when there are several pairs
    p_holm: float = math.nan  # with 3+ variants: p corrected (Holm) over the comparisons with the baseline


@dataclass
class Comparison:
    variants: list[VariantSummary]
    pairs: list[PairSummary]  # each variant after the first against the first (the baseline)
    verdict: str
    settings: dict[str, Any]
    per_epoch: Trajectories = field(default_factory=Trajectories)  # B - A epoch by epoch, for each pair

    def to_json(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def summarize(groups: dict[str, list[RunRecord]], settings: dict[str, Any]) -> Comparison:
    variants = []
    for name, runs in groups.items():
        finals = [r.history[-1]["val_accuracy"] for r in runs if r.history]
        bests = [max(h["val_accuracy"] for h in r.history) for r in runs if r.history]
        seconds = [h["seconds"] for r in runs for h in r.history]
        train_seconds = sum(h.get("train_seconds", h["seconds"]) for r in runs for h in r.history if r.train_samples)
        images = sum(r.train_samples * len(r.history) for r in runs)
        curves: dict[str, list[float]] = {}
        depth = min((len(r.history) for r in runs), default=0)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            per_epoch = [Stat.of([r.history[i][key] for r in runs]) for i in range(depth)]
            curves[f"{key}_mean"] = [s.mean for s in per_epoch]
            curves[f"{key}_std"] = [0.0 if math.isnan(s.std) else s.std for s in per_epoch]
        variants.append(
            VariantSummary(
                variant=name,
                final_accuracy=Stat.of(finals),
                best_accuracy=Stat.of(bests),
                seconds_per_epoch=statistics.fmean(seconds) if seconds else math.nan,
                params=runs[0].params if runs else 0,
                runs=[str(r.path) for r in runs],
                seeds=[int(r.config.get("seed", -1)) for r in runs],
                curves=curves,
                images_per_second=images / train_seconds if images and train_seconds > 0 else math.nan,
            )
        )
    # Each variant against the first (the baseline); with several such pairs
    # the verdict's significance is Holm-corrected, as chance alone makes one
    # of many comparisons look "significant".
    pairs = []
    for vb in variants[1:]:
        diff, ci, p = welch(variants[0].final_accuracy, vb.final_accuracy)
        pairs.append(PairSummary(variants[0].variant, vb.variant, diff, ci, p, False))
    if len(pairs) > 1:
        for pair, corrected in zip(pairs, holm([pair.p_value for pair in pairs])):
            pair.p_holm = corrected
    for pair in pairs:
        decisive = pair.p_holm if len(pairs) > 1 else pair.p_value
        pair.significant = bool(decisive < 0.05) if not math.isnan(decisive) else False
    per_epoch = trajectories({name: [r.history for r in runs] for name, runs in groups.items()})
    return Comparison(variants, pairs, verdict(variants, pairs, per_epoch), settings, per_epoch)


# -- running ----------------------------------------------------------------
@dataclass
class UnfinishedRun:
    """A queued run that ended without finishing, though nobody asked it to stop."""

    variant: str
    seed: int
    run_dir: str  # "" when it died before making its folder
    reason: str


@dataclass
class CompareResult:
    comparison: Comparison | None
    folder: Path | None
    files: dict[str, str]
    trained: int
    reused: int
    stopped: bool
    unfinished: list[UnfinishedRun] = field(default_factory=list)


def run_comparison(
    variants: Sequence[tuple[str, ...]],
    seeds: Sequence[int],
    base: RunConfig,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    runs_dir: str | Path | None = None,
    batch_interval: float = 0.2,
    train_fn: Callable[..., Any] | None = None,
    concurrency: int | None = None,
) -> CompareResult:
    """Train what is missing, reuse what is finished, then summarise and write the files.

    ``train_fn`` trains one queued run, with :func:`kvt_models.training.train`'s
    signature; the default is that function, in this process. The app and
    ``kvt-train compare`` pass :func:`kvt_models.isolated.train_isolated`, so
    that a long queue does not keep TensorFlow's memory from every run.

    ``concurrency`` runs train at once (default: ``train_fn.concurrency``, else
    1): a Ray cluster's :class:`~kvt_models.cluster.driver.RayTrainer` says how
    many runs its nodes take. With several at once, a listener with a
    ``for_run(label)`` method gets one listener per run from it (the CLI
    prefixes each run's lines), and every listener hears one event at a time.

    A run that dies (its process killed, out of memory) or diverges does not
    end the queue: the others still train, and the result lists it in
    ``unfinished`` (it can be resumed later). A stop request ends the queue.
    """
    if train_fn is None:
        from .training import train as train_fn
    from .isolated import ChildDied

    stop = stop or threading.Event()
    concurrency = max(1, int(concurrency or getattr(train_fn, "concurrency", 1)))
    store = RunStore(runs_dir)
    store.ensure()
    planned = plan(variants, seeds, base, store)
    total = len(planned)
    concurrency = min(concurrency, sum(item.existing is None for item in planned))  # 1 or 0 to train: one line each
    groups: dict[str, list[RunRecord]] = {item.variant: [] for item in planned}
    tell, listener_for = listener, lambda item: listener
    if concurrency > 1:
        from .parallel import serialized

        lock = threading.Lock()
        per_run = getattr(listener, "for_run", None)
        tell = serialized(listener, lock)

        def listener_for(item: PlannedRun) -> Listener:
            return serialized(per_run(f"{item.variant} seed {item.seed}") if per_run else listener, lock)

    def run(numbered: tuple[int, PlannedRun]) -> Any:
        """One queued run: a RunRecord, an UnfinishedRun, or None when the queue was stopped."""
        index, item = numbered
        if stop.is_set():
            return None
        tell(QueueProgress(index, total, item.variant, item.seed, item.existing is not None, str(item.existing or "")))
        if item.existing is not None:
            return read_run(item.existing)
        try:
            result = train_fn(item.config, listener_for(item), stop=stop, runs_dir=store.root, batch_interval=batch_interval)
        except ChildDied as exc:
            return None if stop.is_set() else UnfinishedRun(item.variant, item.seed, exc.run_dir, str(exc))
        except TrainingDiverged as exc:
            return UnfinishedRun(item.variant, item.seed, "", str(exc))
        if result.status != "finished":
            if stop.is_set():
                return None
            reason = f"{result.message or 'ended ' + result.status}; resume it with: kvt-train --resume {result.run_dir}"
            return UnfinishedRun(item.variant, item.seed, str(result.run_dir), reason)
        return read_run(result.run_dir)

    numbered = list(enumerate(planned, start=1))
    if concurrency > 1:
        from .parallel import run_all

        outcomes = run_all(numbered, run, concurrency)
    else:
        outcomes = []
        for pair in numbered:  # one at a time: a stop ends the queue at once
            outcomes.append(run(pair))
            if outcomes[-1] is None:
                break
    trained = sum(isinstance(o, RunRecord) and item.existing is None for o, (_, item) in zip(outcomes, numbered))
    reused = sum(isinstance(o, RunRecord) and item.existing is not None for o, (_, item) in zip(outcomes, numbered))
    unfinished = [o for o in outcomes if isinstance(o, UnfinishedRun)]
    if any(o is None for o in outcomes):
        return CompareResult(None, None, {}, trained, reused, stopped=True, unfinished=unfinished)
    for outcome, (_, item) in zip(outcomes, numbered):
        if isinstance(outcome, RunRecord):
            groups[item.variant].append(outcome)

    if any(not runs for runs in groups.values()):
        # A variant with no finished run has nothing to compare.
        return CompareResult(None, None, {}, trained, reused, stopped=False, unfinished=unfinished)
    settings = {k: v for k, v in planned[0].config.to_dict().items() if k not in _VARIANT_KEYS}
    settings["seeds"] = list(seeds)
    comparison = summarize(groups, settings)
    folder, files = write_comparison(comparison, store.root)
    return CompareResult(comparison, folder, files, trained, reused, stopped=False, unfinished=unfinished)


def write_comparison(comparison: Comparison, runs_root: Path) -> tuple[Path, dict[str, str]]:
    """comparison.json and overlay.png in ``<runs dir>/comparisons/<id>/``; same inputs, same folder."""
    from .plots import save_difference, save_overlay

    names = "-vs-".join(v.variant.replace(":", "-") for v in comparison.variants)
    digest = hashlib.sha1(repr(sorted(comparison.settings.items())).encode()).hexdigest()[:6]
    folder = runs_root / COMPARISONS_DIR / f"{names}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    data = {"created": datetime.now().isoformat(timespec="seconds"), **comparison.to_json()}
    atomic_write_json(folder / "comparison.json", data)
    overlay = save_overlay(
        {v.variant: v.curves for v in comparison.variants}, folder / "overlay.png",
        title=f"Mean test accuracy and loss over {comparison.settings.get('seeds') and len(comparison.settings['seeds'])} seeds (± std)",
    )
    files = {"comparison": str(folder / "comparison.json"), "overlay": str(overlay)}
    several = len(comparison.per_epoch.pairs) > 1
    for index, pair in enumerate(comparison.per_epoch.pairs, start=1):
        name = f"diff-{pair.a.replace(':', '-')}-vs-{pair.b.replace(':', '-')}.png"
        files[f"diff {index}" if several else "diff"] = str(save_difference(pair, folder / name))
    return folder, files


# -- comparing finished runs --------------------------------------------------
def group_runs(paths: Sequence[str | Path]) -> tuple[dict[str, list[RunRecord]], dict[str, Any]]:
    """Runs made earlier (any settings, any seeds) as a comparison's variant groups and settings.

    Groups are keyed ``framework:activation[@backend]`` in the canonical order of
    :func:`all_variants` (not the order of ``paths``), so pairs always read
    "b - a" the same way. In the settings, a setting the runs share is one
    value and one they differ in is the list of its values: differences are
    shown, not hidden. ``seeds`` lists the runs' seeds.
    Raises a one-line :class:`KvtError` for a folder that is not a run or a
    run with no finished epoch (it has no accuracy to compare).
    """
    groups: dict[str, list[RunRecord]] = {}
    seeds: set[int] = set()
    values: dict[str, list[Any]] = {}
    for path in paths:
        record = read_run(path)
        if not record.history:
            raise KvtError(f"run {record.run_id} has no finished epoch: unmark it, or resume it first (c)")
        cfg = record.config
        groups.setdefault(variant_name(cfg.get("framework", "?"), cfg.get("activation", "?"), record.backend),
                          []).append(record)
        if isinstance(cfg.get("seed"), int):
            seeds.add(cfg["seed"])
        for key, value in cfg.items():
            if key in _VARIANT_KEYS:
                continue
            known = values.setdefault(key, [])
            if value not in known:
                known.append(value)
    order = {v.name: i for i, v in enumerate(all_variants())}
    groups = dict(sorted(groups.items(), key=lambda item: order.get(item[0], len(order))))
    settings: dict[str, Any] = {k: (v[0] if len(v) == 1 else v) for k, v in values.items()}
    settings["seeds"] = sorted(seeds)
    return groups, settings


def compare_runs(paths: Sequence[str | Path], runs_dir: str | Path) -> tuple[Comparison, Path]:
    """Summarise finished runs (see :func:`group_runs`); comparison.json and overlay.png go under ``runs_dir``."""
    groups, settings = group_runs(paths)
    comparison = summarize(groups, settings)
    folder, _ = write_comparison(comparison, Path(runs_dir))
    return comparison, folder
