"""Comparisons that add seeds until the answer is in: looks, alpha spending, and the decision of each pair.

``kvt-train compare A B --seeds auto`` trains in rounds, one seed of every
variant per round, and looks at the accuracies after each round from the
third on, up to ``--max-seeds K``. At each look every pair still open
against the baseline becomes **better** or **worse** (the difference is
real), **equivalent** (it is smaller than ``--min-effect D``), or stays open;
at K an open pair is **undecided**, reported with its estimate and interval.

Why this method, at the sample sizes kvt has (3 to 8 seeds per variant):

- **Error control over repeated looks by alpha spending.** Look k, at n_k
  seeds, spends ``alpha_k = f(n_k / K) - f(n_{k-1} / K)`` of a spending
  function f with f(1) = alpha: Kim & DeMets' power family
  ``f(t) = alpha * t**rho`` (rho 3 by default; rho 2 spends earlier) or Lan &
  DeMets' O'Brien-Fleming-type ``f(t) = 2 - 2 * Phi(z_{alpha/2} / sqrt(t))``.
  Each look's test runs at its own ``alpha_k``, so by Bonferroni's inequality
  the chance of any false "better"/"worse" over all looks is at most
  ``sum(alpha_k) = alpha``, whatever the correlation between the looks. That
  bound needs only that each look's test is valid at its level, which the
  exact Welch t-test is at any n >= 2 (for normal noise; the simulations in
  tests/engine/test_sequential.py check heavy tails too). The classical
  group-sequential boundaries (Lan & DeMets 1983) are computed from the
  joint normal law of the looks' z-statistics, which assumes a known
  variance or large samples: with 3-8 seeds and an estimated variance they
  are not exact, and the looks' t-statistics have no such joint law to
  compute from. Anytime-valid confidence sequences hold at every n but are
  so wide at n <= 8 that they never reject at effect sizes seen here. The
  price of Bonferroni is conservatism (the simulated false-positive rate is
  about half of alpha), bought back by spending little at the first looks.
- **The test of each look** is Welch's t-test (unequal variances) on the
  pair's final test accuracies, two-sided; the distributions come from
  scipy. With several variants, each look Holm-corrects the open pairs
  against the baseline (one family per kind of claim: better/worse, and
  equivalent), so the family-wise rate of each kind stays at alpha.
- **Equivalence** is Schuirmann's two one-sided tests (TOST, 1987) at the
  same look's ``alpha_k``: "equivalent" when the ``1 - 2 * alpha_k`` Welch
  confidence interval of B - A lies inside (-D, +D). A pair whose interval
  is inside (-D, +D) is called equivalent even when the interval also
  excludes 0: the difference may be real, but it is smaller than the one
  the user said matters (the verdict says both).
- **Paired or not.** The same seed gives every variant the same data order,
  augmentation and initial weights where shapes match, so per-seed
  differences could be paired; measured on real runs, the per-seed
  accuracies of different variants did not correlate enough for a paired
  test to win (docs/sequential.md), so the unpaired Welch test is used.

A fixed-seed comparison (``--seeds K``) is the same machinery with one look
at K seeds spending all of alpha: its decision, and the seeds per variant a
fixed-n Welch test would need to detect D with 80% power at the noise seen
(:func:`seeds_needed`, from scipy's noncentral t, as statsmodels'
``TTestIndPower`` computes it).

References: K. Kim and D. L. DeMets (1987), "Design and analysis of group
sequential tests based on the type I error spending rate function",
Biometrika 74(1). K. K. G. Lan and D. L. DeMets (1983), "Discrete sequential
boundaries for clinical trials", Biometrika 70(3). D. J. Schuirmann (1987),
"A comparison of the two one-sided tests procedure and the power approach
for assessing the equivalence of average bioavailability", J. Pharmacokinet.
Biopharm. 15(6). S. Holm (1979), "A simple sequentially rejective multiple
test procedure", Scand. J. Statist. 6(2).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from kvt_models.compare.stats import points
from kvt_models.events import LookTaken, PairLook
from kvt_models.settings.options import FIRST_LOOK

ALPHA = 0.05
SPENDING = {
    "power3": "Kim-DeMets power family, rho 3",
    "power2": "Kim-DeMets power family, rho 2",
    "obf": "Lan-DeMets O'Brien-Fleming type",
}
DEFAULT_SPENDING = "power3"  # highest power at 2 sd of the three (docs/sequential.md)
POWER = 0.8  # what seeds_needed aims for

# The outcomes of a pair; OPEN only while seeds may still be added.
BETTER, WORSE, EQUIVALENT, UNDECIDED, OPEN = "better", "worse", "equivalent", "undecided", "open"
_CODES = {0: OPEN, 1: BETTER, 2: WORSE, 3: EQUIVALENT}


def spent(t: Any, alpha: float = ALPHA, spending: str = DEFAULT_SPENDING) -> np.ndarray:
    """The alpha spent up to information fraction ``t`` (seeds so far over the most seeds), f(0) = 0, f(1) = alpha."""
    from scipy import stats

    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "obf":
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(t)), 0.0)
    if spending.startswith("power") and spending in SPENDING:
        return alpha * t ** float(spending[len("power"):])
    raise ValueError(f"Unknown spending function. Received: spending={spending!r}")


@dataclass(frozen=True)
class Design:
    """When to look and at what level: looks at ``first_look``..``max_seeds`` seeds per variant.

    ``min_effect`` (D) is in accuracy units (0.01 is one point). A fixed-seed
    comparison is :meth:`fixed`: one look, spending all of alpha.
    """

    max_seeds: int = 8
    min_effect: float = 0.01
    first_look: int = FIRST_LOOK
    alpha: float = ALPHA
    spending: str = DEFAULT_SPENDING

    @classmethod
    def fixed(cls, seeds: int, min_effect: float = 0.01) -> Design:
        return cls(max_seeds=seeds, min_effect=min_effect, first_look=seeds)

    @property
    def sequential(self) -> bool:
        return self.first_look < self.max_seeds

    @property
    def looks(self) -> tuple[int, ...]:
        """The seeds per variant at each look."""
        return tuple(range(min(self.first_look, self.max_seeds), self.max_seeds + 1))

    def alphas(self) -> np.ndarray:
        """Each look's level: the alpha spent between the previous look and it (the first takes all before it)."""
        cumulative = spent(np.array(self.looks) / self.max_seeds, self.alpha, self.spending)
        return np.diff(np.concatenate([[0.0], cumulative]))

    def method(self, pairs: int = 1) -> str:
        """What decided, in words, for comparison.json and the verdict."""
        holm = f"; Holm over {pairs} pairs at each look" if pairs > 1 else ""
        margin_text = f"±{points(self.min_effect * 100)}"
        tost = f"TOST (equivalent: the {1 - 2 * self.alpha:.0%} CI inside {margin_text})"
        if not self.sequential:
            seeds = f"{self.max_seeds} seed{'s' if self.max_seeds != 1 else ''}"
            return (f"Welch's unpaired t-test at alpha {self.alpha:g} after {seeds}; "
                    f"{tost}{holm.replace(' at each look', '')}")
        tost = f"TOST at each look's alpha (equivalent: its 1 - 2 alpha CI inside {margin_text})"
        return (f"sequential: Welch's unpaired t-test after {self.first_look}..{self.max_seeds} seeds, alpha "
                f"{self.alpha:g} spent over the looks by the {SPENDING[self.spending]} (Bonferroni); {tost}{holm}")


# -- one look, vectorized: leading axes are simulations or pairs -----------------------------
def welch_parts(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """B - A, its standard error and Welch-Satterthwaite degrees of freedom, over the last axis (seeds).

    The same numbers as ``scipy.stats.ttest_ind(b, a, equal_var=False)``
    (checked in the tests), in parts, so that one look can give both the
    two-sided test and the TOST of any level without recomputing. se 0 (both
    sides noise-free) leaves df NaN: the difference is then exact.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = a.shape[-1], b.shape[-1]
    va, vb = a.var(axis=-1, ddof=1) / na, b.var(axis=-1, ddof=1) / nb
    se = np.sqrt(va + vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return b.mean(axis=-1) - a.mean(axis=-1), se, df


def holm_adjusted(p: Any, axis: int = -1) -> np.ndarray:
    """Holm's step-down adjusted p-values along ``axis``; NaN (a pair not in the family) stays NaN.

    scipy has Benjamini-Hochberg (``false_discovery_control``) but not Holm,
    which controls the family-wise error rate that "B beats A" claims need
    (statsmodels' ``multipletests`` has it, at the cost of pandas in the app).
    """
    p = np.moveaxis(np.asarray(p, dtype=float), axis, -1)
    missing = np.isnan(p)
    m = (~missing).sum(axis=-1, keepdims=True)
    order = np.argsort(np.where(missing, np.inf, p), axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1)
    scaled = np.minimum(1.0, (m - np.arange(p.shape[-1])) * ranked)
    scaled = np.maximum.accumulate(np.where(np.isnan(scaled), -np.inf, scaled), axis=-1)
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, scaled, axis=-1)
    return np.moveaxis(np.where(missing, np.nan, adjusted), -1, axis)


@dataclass
class LookResult:
    """One look at every pair (arrays, pairs on the last axis): the statistics and what they decided."""

    diff: np.ndarray
    ci: tuple[np.ndarray, np.ndarray]  # the 1 - alpha_k two-sided CI: better/worse when it excludes 0
    ci_equivalence: tuple[np.ndarray, np.ndarray]  # the 1 - 2 alpha_k CI: equivalent when inside (-D, D)
    p: np.ndarray  # Welch, two-sided
    p_holm: np.ndarray
    p_equivalence: np.ndarray  # TOST, Holm-adjusted
    codes: np.ndarray  # 0 open, 1 better, 2 worse, 3 equivalent


def look(diff: Any, se: Any, df: Any, alpha_k: float, min_effect: float, open_: Any = True) -> LookResult:
    """Decide the open pairs at one look, at level ``alpha_k``; pairs on the last axis, Holm across them."""
    from scipy import stats

    diff, se, df = (np.asarray(x, dtype=float) for x in (diff, se, df))
    open_ = np.broadcast_to(np.asarray(open_, dtype=bool), diff.shape) & ~np.isnan(diff) & ~np.isnan(se)
    exact = se == 0  # noise-free on both sides: the difference is what it is
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = np.abs(diff) / se
        p = np.where(exact, (diff == 0).astype(float), 2 * stats.t.sf(t, df))
        p_eq = np.where(exact, (np.abs(diff) >= min_effect).astype(float),
                        np.maximum(stats.t.sf((diff + min_effect) / se, df), stats.t.cdf((diff - min_effect) / se, df)))
        half = np.where(exact, 0.0, stats.t.isf(alpha_k / 2, df) * se)
        half_eq = np.where(exact, 0.0, stats.t.isf(alpha_k, df) * se)
    p_holm = holm_adjusted(np.where(open_, p, np.nan))
    p_eq_holm = holm_adjusted(np.where(open_, p_eq, np.nan))
    codes = np.zeros(diff.shape, dtype=int)
    significant = open_ & (p_holm < alpha_k)
    codes[significant & (diff > 0)] = 1
    codes[significant & (diff < 0)] = 2
    # Equivalence wins over significance: a real difference smaller than D is one that does not matter.
    codes[open_ & (p_eq_holm < alpha_k)] = 3
    return LookResult(diff, (diff - half, diff + half), (diff - half_eq, diff + half_eq), p, p_holm, p_eq_holm, codes)


def simulate(a: Any, b: Any, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Every look of ``design`` on simulated seeds: ``a``, ``b`` of shape (..., pairs, max_seeds).

    Returns the outcome codes (0 undecided, 1 better, 2 worse, 3 equivalent)
    and the seeds per variant used, each of shape (..., pairs). The same
    :func:`look` as a real comparison, so the simulations test what runs.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    codes = np.zeros(shape, dtype=int)
    seeds = np.full(shape, design.max_seeds)
    for n, alpha_k in zip(design.looks, design.alphas()):
        still = codes == 0
        if not still.any():
            break
        result = look(*welch_parts(a[..., :n], b[..., :n]), alpha_k, design.min_effect, still)
        newly = still & (result.codes > 0)
        codes[newly], seeds[newly] = result.codes[newly], n
    return codes, seeds


# -- a real comparison ---------------------------------------------------------------------------
@dataclass
class Decision:
    """A pair's decision: ``outcome``, the seeds per variant it took, the method and every look."""

    outcome: str
    seeds: int
    method: str
    looks: list[PairLook] = field(default_factory=list)
    sequential: bool = False  # decided by looks after each round (--seeds auto), not once at the end

    @property
    def last(self) -> PairLook | None:
        return self.looks[-1] if self.looks else None


def decide(baseline: Sequence[float], others: Sequence[Sequence[float]], design: Design) -> list[Decision]:
    """Each of ``others`` against ``baseline``: the looks of ``design`` over the values in seed order.

    A sequential design looks at the first n values of every variant, for
    each n of its looks that all variants have reached; a pair still open
    after the last look is ``open`` if more seeds may come, else
    ``undecided``. A fixed design looks once at all the values (the sides
    may then have different counts, as with runs marked in the runs view).
    """
    pairs = len(others)
    method = design.method(pairs)
    decisions = [Decision(OPEN, 0, method, sequential=design.sequential) for _ in others]
    if design.sequential:
        have = min([len(baseline), *(len(o) for o in others)])
        schedule = [(n, alpha_k) for n, alpha_k in zip(design.looks, design.alphas()) if n <= have]
    else:
        schedule = [(design.max_seeds, float(design.alphas()[-1]))]
    for n, alpha_k in schedule:
        still = [d.outcome == OPEN for d in decisions]
        if not any(still):
            break
        parts = [_parts(baseline, other, n if design.sequential else None) for other in others]
        diff, se, df = (np.array([part[i] for part in parts]) for i in range(3))
        result = look(diff, se, df, float(alpha_k), design.min_effect, still)
        for i, decision in enumerate(decisions):
            if not still[i] or math.isnan(parts[i][1]):
                continue  # decided at an earlier look, or no test yet (fewer than 2 seeds a side)
            n_a, n_b = (n, n) if design.sequential else (len(baseline), len(others[i]))
            outcome = _CODES[int(result.codes[i])]
            decision.looks.append(PairLook(
                seeds=min(n_a, n_b), n_a=n_a, n_b=n_b, alpha=float(alpha_k), diff=float(result.diff[i]),
                ci_low=float(result.ci[0][i]), ci_high=float(result.ci[1][i]),
                eq_low=float(result.ci_equivalence[0][i]), eq_high=float(result.ci_equivalence[1][i]),
                p_value=float(result.p[i]), p_holm=float(result.p_holm[i]), outcome=outcome,
                min_effect=design.min_effect, p_equivalence=float(result.p_equivalence[i]),
            ))
            decision.outcome, decision.seeds = outcome, min(n_a, n_b)
    reached = max((d.seeds for d in decisions), default=0)
    for decision, other in zip(decisions, others):
        if decision.outcome == OPEN:
            decision.seeds = decision.seeds or min(len(baseline), len(other))
            more_to_come = design.sequential and reached < design.max_seeds
            decision.outcome = OPEN if more_to_come else UNDECIDED
            if decision.outcome == UNDECIDED and decision.looks:
                # The last look is the one that left it undecided: it says so, not "open".
                decision.looks[-1] = dataclasses.replace(decision.looks[-1], outcome=UNDECIDED)
    return decisions


def _parts(a: Sequence[float], b: Sequence[float], n: int | None) -> tuple[float, float, float]:
    a_, b_ = list(a)[:n] if n else list(a), list(b)[:n] if n else list(b)
    if len(a_) < 2 or len(b_) < 2:
        return math.nan, math.nan, math.nan
    diff, se, df = welch_parts(a_, b_)
    return float(diff), float(se), float(df)


def seeds_needed(sd_a: float, sd_b: float, min_effect: float, *, alpha: float = ALPHA, power: float = POWER,
                 most: int = 10_000) -> int | None:
    """Seeds per variant for a fixed-n two-sided t-test at ``alpha`` to detect ``min_effect`` with ``power``.

    At the noise seen (the two sides' sd, pooled as their root mean square);
    the power of a two-sample t-test with n per side is that of the
    noncentral t with 2n - 2 degrees of freedom and noncentrality
    ``D / (sd * sqrt(2 / n))``, from scipy: the computation of statsmodels'
    ``TTestIndPower`` (checked in the tests), without its pandas import in
    the app. None where the noise is unknown (fewer than 2 seeds a side);
    ``most`` caps the search (a difference far inside the noise).
    """
    from scipy import stats

    if math.isnan(sd_a) or math.isnan(sd_b) or min_effect <= 0:
        return None
    sd = math.sqrt((sd_a**2 + sd_b**2) / 2)
    if sd == 0:
        return 2  # noise-free: any difference shows with the fewest seeds that give a test

    def power_at(n: np.ndarray) -> np.ndarray:
        df = 2 * n - 2
        nc = min_effect / (sd * np.sqrt(2 / n))
        crit = stats.t.isf(alpha / 2, df)
        return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)

    low, high = 2, 2
    while power_at(np.array([high]))[0] < power:
        if high >= most:
            return most
        low, high = high, min(most, high * 2)
    candidates = np.arange(low, high + 1)
    return int(candidates[np.argmax(power_at(candidates) >= power)])


def look_summary(event: LookTaken) -> str:
    """``every pair is decided after 5 seeds per variant``, or how many are undecided at the most seeds."""
    undecided = sum(look.outcome == UNDECIDED for _, _, look in event.pairs)
    if not undecided:
        return f"every pair is decided after {event.round} seeds per variant"
    pairs = len(event.pairs)
    return (f"{pairs - undecided} of {pairs} pair{'s' if pairs != 1 else ''} decided, {undecided} undecided "
            f"at the most seeds, {event.round} per variant")
