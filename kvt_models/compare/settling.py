"""When does the answer settle? The difference between variants, epoch by epoch.

A comparison judged only at its last epoch hides a trap: with the 2018
recipe CReLU trails ReLU for the first epochs and leads from epoch 5 on, so a
short budget gives the opposite answer. This module computes, for every
epoch, each variant's mean +- sd test accuracy over its seeds, and for each
variant against the first one (the baseline) the difference of means (B - A),
its Welch 95% confidence interval and p-value, all from scipy.

From that table it finds, per pair:

- **settled from epoch K**: the 95% CI excludes 0, on the side of the last
  epoch's sign, at every epoch from K to the last one with statistics;
- **where the lead changed**: the last epoch at which the sign of B - A
  flipped, a warning that longer training may change the answer.

Runs of unequal length (stopped or resumed ones) are handled: an epoch gets
statistics only where at least 2 seeds of each side have it, and every row
says how many seeds it has. With more than two variants the last epoch's
p-values are Holm-corrected for the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from kvt_models.compare.stats import Stat, mean_std, points, welch

MIN_SEEDS = 2  # a standard deviation, and so a CI, needs at least two values
METRIC = "val_accuracy"


@dataclass
class EpochDiff:
    """B - A at one epoch; NaN statistics where a side has fewer than 2 seeds."""

    epoch: int
    n_a: int
    n_b: int
    mean_a: float
    sd_a: float
    mean_b: float
    sd_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def has_stats(self) -> bool:
        return self.n_a >= MIN_SEEDS and self.n_b >= MIN_SEEDS and not math.isnan(self.ci_low)

    @property
    def excludes_zero(self) -> int:
        """+1 when the CI lies above 0, -1 below, 0 when it holds 0 (or there is no CI)."""
        if not self.has_stats:
            return 0
        if self.ci_low > 0:
            return 1
        if self.ci_high < 0:
            return -1
        return 0


@dataclass
class PairTrajectory:
    """One pair (``b`` against the baseline ``a``) over all epochs."""

    a: str
    b: str
    epochs: list[EpochDiff]
    settled_from: int | None  # the first epoch K of the settled stretch, or None
    settled_sign: int  # +1: b better, -1: a better, 0: not settled
    lead_changed_at: int | None  # the last epoch where the sign of b - a flipped
    holm_p: float = math.nan  # the last epoch's p-value, Holm-corrected over all pairs

    @property
    def last(self) -> EpochDiff | None:
        with_stats = [e for e in self.epochs if e.has_stats]
        return with_stats[-1] if with_stats else None

    def line(self, equivalent_within: float | None = None) -> str:
        """``settled from epoch K: ...`` or ``not settled: ...``, then the crossing warning if any.

        ``equivalent_within``: the margin, in points, within which the pair's
        decision found the two equivalent. Its CI holding 0 then asks for no
        more seeds: the answer that matters is in.
        """
        last = self.last
        if last is None:
            text = (f"not settled: {self.b} vs {self.a} has no epoch with {MIN_SEEDS} or more seeds on each side; "
                    "run more seeds")
        elif self.settled_from is not None:
            better, worse = (self.b, self.a) if self.settled_sign > 0 else (self.a, self.b)
            text = (f"settled from epoch {self.settled_from}: {better} is better than {worse} "
                    f"(B - A = {last.diff * 100:+.2f} points at epoch {last.epoch}, "
                    f"95% CI {last.ci_low * 100:+.2f} to {last.ci_high * 100:+.2f}; the CI excludes 0 "
                    f"from epoch {self.settled_from} on)")
        else:
            margin = equivalent_within
            advice = ("run more seeds or more epochs" if margin is None else
                      f"no difference either way, and none of {points(margin)} "
                      f"or more: equivalent within ±{margin:g}")
            text = (f"not settled: {self.b} - {self.a} = {last.diff * 100:+.2f} points at epoch {last.epoch}, "
                    f"95% CI {last.ci_low * 100:+.2f} to {last.ci_high * 100:+.2f} holds 0; {advice}")
        if self.lead_changed_at is not None:
            text += f"; the lead changed at epoch {self.lead_changed_at}: longer training may change the answer"
        return text


@dataclass
class Trajectories:
    pairs: list[PairTrajectory] = field(default_factory=list)


def epoch_values(histories: Sequence[Sequence[dict[str, float]]], metric: str = METRIC) -> list[list[float]]:
    """Per epoch (index 0 = epoch 1), the metric of every run that has that epoch."""
    depth = max((len(h) for h in histories), default=0)
    return [[float(h[i][metric]) for h in histories if len(h) > i] for i in range(depth)]


def trajectories(groups: dict[str, Sequence[Sequence[dict[str, float]]]], metric: str = METRIC) -> Trajectories:
    """Each variant after the first against the first, epoch by epoch. ``groups``: variant -> its runs' histories."""
    names = list(groups)
    if len(names) < 2:
        return Trajectories([])
    base = names[0]
    base_values = epoch_values(groups[base], metric)
    pairs = []
    for other in names[1:]:
        values = epoch_values(groups[other], metric)
        depth = max(len(base_values), len(values))
        epochs = [
            _epoch_diff(i + 1, base_values[i] if i < len(base_values) else [], values[i] if i < len(values) else [])
            for i in range(depth)
        ]
        settled_from, sign = _settled(epochs)
        pairs.append(PairTrajectory(base, other, epochs, settled_from, sign, _lead_changed_at(epochs)))
    _holm([p for p in pairs if p.last is not None])
    return Trajectories(pairs)


def _epoch_diff(epoch: int, a: list[float], b: list[float]) -> EpochDiff:
    sa, sb = Stat.of(a), Stat.of(b)
    if sa.n < MIN_SEEDS or sb.n < MIN_SEEDS:
        diff = sb.mean - sa.mean if sa.n and sb.n else math.nan
        return EpochDiff(epoch, sa.n, sb.n, sa.mean, sa.std, sb.mean, sb.std, diff, math.nan, math.nan, math.nan)
    diff, (low, high), p = welch(sa, sb)
    return EpochDiff(epoch, sa.n, sb.n, sa.mean, sa.std, sb.mean, sb.std, diff, low, high, p)


def _settled(epochs: list[EpochDiff]) -> tuple[int | None, int]:
    """The first epoch from which every later epoch with statistics excludes 0 on the same side."""
    with_stats = [e for e in epochs if e.has_stats]
    if not with_stats:
        return None, 0
    sign = with_stats[-1].excludes_zero
    if sign == 0:
        return None, 0
    start = with_stats[-1].epoch
    for e in reversed(with_stats):
        if e.excludes_zero != sign:
            break
        start = e.epoch
    return start, sign


def _lead_changed_at(epochs: list[EpochDiff]) -> int | None:
    """The last epoch at which the sign of the mean difference flipped (ties don't count as a lead)."""
    last_sign, changed = 0, None
    for e in epochs:
        if math.isnan(e.diff) or e.diff == 0:
            continue
        sign = 1 if e.diff > 0 else -1
        if last_sign and sign != last_sign:
            changed = e.epoch
        last_sign = sign
    return changed


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down correction of ``p_values`` (NaN stays NaN), in their order.

    scipy has Benjamini-Hochberg (``false_discovery_control``) but not Holm,
    which controls the family-wise error rate that "B beats A" verdicts need.
    """
    ranked = sorted((i for i, p in enumerate(p_values) if not math.isnan(p)), key=lambda i: p_values[i])
    corrected = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - rank) * p_values[i]))
        corrected[i] = running
    return corrected


def _holm(pairs: list[PairTrajectory]) -> None:
    """The last epoch's p-values of ``pairs``, Holm-corrected, into ``holm_p`` (in place)."""
    for pair, corrected in zip(pairs, holm([p.last.p_value for p in pairs if p.last is not None])):
        pair.holm_p = corrected


def rows_to_show(epochs: list[EpochDiff], *, all_up_to: int = 10) -> list[EpochDiff]:
    """Every epoch of a short run; for a long one the first with statistics, each change of sign or
    significance, and the last."""
    if len(epochs) <= all_up_to:
        return list(epochs)
    keep: list[EpochDiff] = []
    previous: tuple[int, int] | None = None
    for e in epochs:
        state = (0 if math.isnan(e.diff) else (1 if e.diff > 0 else -1), e.excludes_zero)
        if previous is None or state != previous:
            keep.append(e)
        previous = state
    if keep[-1] is not epochs[-1]:
        keep.append(epochs[-1])
    return keep


def format_trajectories(trajectories: Trajectories, equivalent: dict[tuple[str, str], float] | None = None) -> str:
    """The compact per-epoch table ``kvt-train compare`` prints, then one settled / not settled line per pair.

    ``equivalent``: (A, B) -> the margin in points of each pair decided equivalent (see :meth:`PairTrajectory.line`).
    """
    out: list[str] = []
    for pair in trajectories.pairs:
        out.append(f"B - A per epoch, A = {pair.a}, B = {pair.b} (test accuracy, points; n = seeds with that epoch)")
        rows = [("epoch", "n A/B", "A mean ± sd", "B mean ± sd", "B - A", "95% CI", "p")]
        for e in rows_to_show(pair.epochs):
            ci = "n/a" if not e.has_stats else f"[{e.ci_low * 100:+.2f}, {e.ci_high * 100:+.2f}]"
            p = "n/a" if math.isnan(e.p_value) else f"{e.p_value:.3f}"
            diff = "n/a" if math.isnan(e.diff) else f"{e.diff * 100:+.2f}"
            rows.append((str(e.epoch), f"{e.n_a}/{e.n_b}", mean_std(Stat([], e.mean_a, e.sd_a, e.n_a)),
                         mean_std(Stat([], e.mean_b, e.sd_b, e.n_b)), diff, ci, p))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if len(rows) - 1 < len(pair.epochs):
            lines.append(f"(epochs where the sign or the significance changes, and the last, of {len(pair.epochs)})")
        out.extend(lines)
        out.append("")
    for pair in trajectories.pairs:
        out.append(pair.line((equivalent or {}).get((pair.a, pair.b))))
    return "\n".join(out)
