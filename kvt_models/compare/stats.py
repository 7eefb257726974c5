"""The statistics of a comparison: mean ± sd of a variant's runs, and Welch's t-test between two variants.

Scipy does the test and its confidence interval; this module only handles
the small-sample edges (one seed, identical results), the one format of
``mean ± sd`` that the CLI's table and the app's share, and the one way a
margin in points is put in words.
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass
from typing import Sequence


@dataclass
class Stat:
    values: list[float]
    mean: float
    std: float  # sample standard deviation (n-1); NaN for n < 2
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        vals = [float(v) for v in values]
        n = len(vals)
        mean = statistics.fmean(vals) if vals else math.nan
        std = statistics.stdev(vals) if n >= 2 else math.nan
        return cls(vals, mean, std, n)


def welch(a: Stat, b: Stat) -> tuple[float, tuple[float, float], float]:
    """Difference of means (b - a), its 95% CI and p-value, both from scipy's Welch t-test."""
    diff = b.mean - a.mean
    if a.n < 2 or b.n < 2:
        return diff, (math.nan, math.nan), math.nan
    if a.std == 0 and b.std == 0:
        # Identical, noise-free results: any difference is exact (scipy would say NaN).
        return diff, (diff, diff), (1.0 if diff == 0 else 0.0)
    from scipy import stats

    with warnings.catch_warnings():
        # Near-identical accuracies trip scipy's "precision loss" warning; the
        # p-value it returns is still the right answer (close to 1).
        warnings.simplefilter("ignore", RuntimeWarning)
        test = stats.ttest_ind(b.values, a.values, equal_var=False)
        ci = test.confidence_interval(0.95)
    return diff, (float(ci.low), float(ci.high)), float(test.pvalue)


def mean_std(stat: Stat, *, aligned: bool = False) -> str:
    """``41.20 ± 1.35`` in accuracy points; ``± n/a`` for a single value, ``-`` for none.

    ``aligned`` pads both numbers to fixed widths, so that the ± signs line up
    in a plain-text column (the CLI's table); the app's table aligns by itself.
    """
    if math.isnan(stat.mean):
        return "-"
    mean_width, std_width = (6, 5) if aligned else (0, 0)
    std = "n/a".rjust(std_width) if math.isnan(stat.std) else f"{stat.std * 100:{std_width}.2f}"
    return f"{stat.mean * 100:{mean_width}.2f} ± {std}"


def points(value: float) -> str:
    """A margin in percentage points, in words: ``1 point``, ``2.5 points``."""
    return f"{value:g} point{'' if value == 1 else 's'}"
