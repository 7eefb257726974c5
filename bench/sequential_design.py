"""The operating characteristics of ``--seeds auto``, simulated: error rates, power and seeds used.

    python bench/sequential_design.py --sims 20000

Runs :func:`kvt_models.compare.sequential.simulate` -- the same looks that
decide a real comparison -- on simulated final accuracies, for each spending
function, with the default design (first look at 3 seeds, at most 8, alpha
0.05), and prints one table row per scenario: the share of comparisons
called better, worse, equivalent and undecided, and the mean seeds per
variant used. Noise has sd 1, so differences and D are in sd units. Beside
it, the naive method (a fixed-n Welch test at 0.05 re-run after every seed
from the third on), whose A/A false-positive rate is what the spending
avoids. docs/sequential.md has the table.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats

from kvt_models.compare.sequential import SPENDING, Design, simulate

# name -> (noise of a, noise of b (its sd), true difference b - a in sd, D in sd)
SCENARIOS = {
    "A/A, normal": ("normal", 1.0, 0.0, 0.01),
    "A/A, t with 3 df": ("t3", 1.0, 0.0, 0.01),
    "A/A, sd 1 vs 3": ("normal", 3.0, 0.0, 0.01),
    "2 sd better": ("normal", 1.0, 2.0, 0.01),
    "1 sd better": ("normal", 1.0, 1.0, 0.01),
    "1.4 sd, D = 3 sd": ("normal", 1.0, 1.4, 3.0),
    "0 sd, D = 3 sd": ("normal", 1.0, 0.0, 3.0),
}


def noise(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_t(3, shape) / math.sqrt(3) if kind == "t3" else rng.standard_normal(shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sims", type=int, default=20_000)
    p.add_argument("--max-seeds", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    k = args.max_seeds
    print(f"{args.sims:,} simulated comparisons per row; looks at 3..{k} seeds per variant; alpha 0.05")
    print(f"{'spending':8}  {'scenario':18}  better   worse   equiv.  undec.  mean seeds")
    for spending in SPENDING:
        rng = np.random.default_rng(args.seed)
        for name, (kind, sd_b, diff, d) in SCENARIOS.items():
            a = noise(kind, rng, (args.sims, 1, k))
            b = sd_b * noise(kind, rng, (args.sims, 1, k)) + diff
            codes, seeds = simulate(a, b, Design(max_seeds=k, min_effect=d, spending=spending))
            shares = [float((codes == c).mean()) for c in (1, 2, 3, 0)]
            print(f"{spending:8}  {name:18}  " + "  ".join(f"{s:6.4f}" for s in shares) + f"  {seeds.mean():6.2f}")
    rng = np.random.default_rng(args.seed)
    a, b = rng.standard_normal((args.sims, k)), rng.standard_normal((args.sims, k))
    rejected = np.zeros(args.sims, dtype=bool)
    for n in range(3, k + 1):
        rejected |= stats.ttest_ind(b[:, :n], a[:, :n], axis=-1, equal_var=False).pvalue < 0.05
    print(f"naive (fixed-n Welch at 0.05 after every seed from 3 to {k}), A/A normal: better or worse "
          f"{rejected.mean():.4f}")


if __name__ == "__main__":
    main()
