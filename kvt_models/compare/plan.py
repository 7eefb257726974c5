"""A comparison's plan: every variant x seed, each matched to a finished run that can stand in for it.

A seed makes a run repeatable, so a finished run with the same settings,
seed and backend is reused instead of trained again: an interrupted
comparison goes on where it stopped, and the same command again reproduces
the numbers without training.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from kvt_models.backend import runtime
from kvt_models.errors import ConfigError
from kvt_models.settings.config import RunConfig
from kvt_models.settings.options import SEEDS, VARIANT
from kvt_models.settings.precision import LEGACY as LEGACY_PRECISION
from kvt_models.settings.precision import resolve as resolve_precision
from kvt_models.settings.recipes import get_recipe
from kvt_models.store.runs import PRECISION_ASKED, RECIPE_FINGERPRINT, RunStore
from kvt_models.variants import BACKEND_DEFAULT, Variant

# Settings that must match for a finished run to stand in for a new one (and the precision: _same_precision).
_MATCH_KEYS = ("framework", "activation", "backend", "data", "recipe", "epochs", "batch_size", "lr", "seed",
               "train_limit", "test_limit")
# What a run made before a setting existed trained with: runs older than the backend axis ran on TensorFlow.
_MATCH_DEFAULTS = {"backend": BACKEND_DEFAULT}
# Settings a comparison's variants differ in: not shared settings, but part of each variant's name.
VARIANT_KEYS = ("framework", "activation", "backend", "seed")


def parse_variant(text: str) -> Variant:
    """``"tensorflow:crelu@keras2"`` -> ``Variant("tensorflow", "crelu", "keras2")``; one-line ConfigError (options.VARIANT)."""
    return VARIANT.parse(text)


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> seeds 1..3; ``"1,5,9"`` -> those seeds (rule: options.SEEDS)."""
    return SEEDS.parse(text, SEEDS.flag)


def resolve_variants(variants: Sequence[Variant | tuple[str, ...]], backend: str) -> list[Variant]:
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


def plan(variants: Sequence[Variant | tuple[str, ...]], seeds: Sequence[int], base: RunConfig, store: RunStore) -> list[PlannedRun]:
    """Every variant x seed, each matched to a finished run in the store if one exists.

    A variant without a backend runs on ``base.backend``. Every runtime the
    queue needs must be installed: a missing one is refused here, in one
    line naming its pip command, before anything trains.
    """
    resolved = resolve_variants(variants, base.backend)
    if len(set(resolved)) < len(resolved):
        raise ConfigError("each variant may appear only once")
    finished: dict[tuple, list[tuple[dict[str, Any], Path]]] = {}
    for info in store.list_runs():  # newest first: the newest match stands in
        if info.status == "finished" and info.epochs_done >= info.epochs_total > 0:
            finished.setdefault(_key(info.config), []).append((info.config, info.path))
    planned = []
    for variant in resolved:
        for seed in seeds:
            cfg = replace(base, framework=variant.framework, activation=variant.activation, backend=variant.backend or base.backend,
                          seed=seed).resolved()
            existing = next((path for config, path in finished.get(_key(cfg.to_dict()), [])
                             if _same_precision(cfg, config) and _same_recipe(cfg, config)), None)
            planned.append(PlannedRun(variant.name, seed, cfg, existing))
    for backend in dict.fromkeys(item.config.backend for item in planned if item.existing is None):
        runtime.require(backend)
    return planned


def _key(config: dict[str, Any]) -> tuple:
    return tuple(config.get(k, _MATCH_DEFAULTS.get(k)) for k in _MATCH_KEYS)


def _same_recipe(cfg: RunConfig, run: dict[str, Any]) -> bool:
    """Whether a finished run trained with today's version of its recipe (a run without a fingerprint: no)."""
    return run.get(RECIPE_FINGERPRINT) == get_recipe(cfg.recipe).fingerprint()


def _same_precision(cfg: RunConfig, run: dict[str, Any]) -> bool:
    """Whether a finished run (its config.json's settings) computed in the precision ``cfg`` asks for.

    A run records the precision it trained in, resolved where it trained
    (``auto`` may be bfloat16 on one machine and float32 on another), and what
    was asked. ``auto`` is then met by a run that was asked ``auto`` too, or by
    one in the precision ``auto`` gives here; an explicit precision by a run
    that computed in it.
    """
    recorded = run.get("precision", LEGACY_PRECISION)
    if recorded == cfg.precision:
        return True
    return cfg.precision == "auto" and (
        run.get(PRECISION_ASKED) == "auto" or recorded == resolve_precision("auto", cfg.backend))


