"""A comparison's numbers: per variant mean +- sd and speed, per pair Welch's difference, per epoch the settling.

The 2018 post found CReLU one point better than ReLU and admitted it might
be the random initialisation. A summary answers that: mean +- std of the
final and best test accuracy per variant, its training speed (img/s), and,
for each variant against the first (the baseline), the difference in means
with a 95% confidence interval and Welch's t-test (Holm-corrected with three
or more variants), its decision (better, worse, equivalent or undecided:
:mod:`kvt_models.compare.sequential`) and the seeds per variant needed to
detect the min effect with 80% power at the noise seen. So one comparison
across runtimes answers both "which is faster here" and "does the accuracy
differ".
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from kvt_models.compare.sequential import Decision, Design, decide, seeds_needed
from kvt_models.compare.settling import Trajectories, holm, trajectories
from kvt_models.compare.stats import Stat, welch
from kvt_models.compare.verdict import verdict
from kvt_models.store.atomic import json_safe
from kvt_models.store.runs import RunRecord


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
    decision: Decision | None = None  # better, worse, equivalent or undecided, with its looks
    seeds_needed: int | None = None  # per variant, for a fixed-n Welch test to detect the min effect (80% power)


@dataclass
class Comparison:
    variants: list[VariantSummary]
    pairs: list[PairSummary]  # each variant after the first against the first (the baseline)
    verdict: str
    settings: dict[str, Any]
    per_epoch: Trajectories = field(default_factory=Trajectories)  # B - A epoch by epoch, for each pair

    def to_json(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def final_accuracies(runs: list[RunRecord]) -> list[float]:
    """Each run's last test accuracy, in the runs' order (a sequential design's looks take them in seed order)."""
    return [r.history[-1]["val_accuracy"] for r in runs if r.history]


def summarize(groups: dict[str, list[RunRecord]], settings: dict[str, Any], design: Design | None = None) -> Comparison:
    """The comparison of ``groups`` (variant -> its runs, the baseline first); ``design`` decides the pairs
    (default: one look after all the seeds, with a 1-point min effect)."""
    variants = []
    for name, runs in groups.items():
        finals = final_accuracies(runs)
        bests = [max(h["val_accuracy"] for h in r.history) for r in runs if r.history]
        seconds = [h["seconds"] for r in runs for h in r.history]
        train_seconds = sum(h.get("train_seconds", h["seconds"]) for r in runs for h in r.history if r.train_samples)
        images = sum(r.train_samples * len(r.history) for r in runs)
        curves: dict[str, list[float]] = {}
        depth = min((len(r.history) for r in runs), default=0)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            by_epoch = [Stat.of([r.history[i][key] for r in runs]) for i in range(depth)]
            curves[f"{key}_mean"] = [s.mean for s in by_epoch]
            curves[f"{key}_std"] = [0.0 if math.isnan(s.std) else s.std for s in by_epoch]
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
    if design is None:
        design = Design.fixed(max(1, min((v.final_accuracy.n for v in variants), default=1)))
    decisions = decide(variants[0].final_accuracy.values if variants else [],
                       [v.final_accuracy.values for v in variants[1:]], design)
    for pair, vb, decision in zip(pairs, variants[1:], decisions):
        pair.decision = decision
        pair.seeds_needed = seeds_needed(variants[0].final_accuracy.std, vb.final_accuracy.std, design.min_effect)
    per_epoch = trajectories({name: [r.history for r in runs] for name, runs in groups.items()})
    return Comparison(variants, pairs, verdict(variants, pairs, per_epoch), settings, per_epoch)
