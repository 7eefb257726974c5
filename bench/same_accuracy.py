"""Do the speed-ups keep the math? The same seeded runs before and after, side by side.

    python bench/same_accuracy.py --data sample --recipe fast --epochs 5 --seeds 3

*Before*: Keras's own (unfused) batch norm and float32 -- kvt as it was.
*After*: kvt's defaults (the fused batch-norm kernel, ``--precision auto``).
Each side is a ``kvt-train compare`` of the same variants and seeds, in a
runs dir of its own. The script prints each side's final test accuracy per
seed, the mean ± sd, and Welch's test of after - before: a speed-up keeps the
math when the difference is within seed noise (a p-value well above 0.05 and a
confidence interval that holds 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kvt_models.compare.stats import Stat, welch

SIDES = {
    "before": ({"KVT_FUSED_BATCH_NORM": "0"}, ["--precision", "float32"]),
    "after": ({}, []),
}


def run_side(name: str, args: argparse.Namespace, runs_dir: Path) -> dict[str, dict[int, float]]:
    env_extra, flags = SIDES[name]
    cmd = [sys.executable, "-m", "kvt_models.cli", "compare", *args.variants, "--seeds", str(args.seeds),
           "--data", args.data, "--recipe", args.recipe, "--epochs", str(args.epochs), "--runs-dir", str(runs_dir),
           *flags]
    if args.train_limit:
        cmd += ["--train-limit", str(args.train_limit)]
    if args.test_limit:
        cmd += ["--test-limit", str(args.test_limit)]
    print(f"# {name}: {' '.join(cmd[3:])}" + (f"  ({env_extra})" if env_extra else ""), flush=True)
    done = subprocess.run(cmd, env={**os.environ, **env_extra}, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    results: dict[str, dict[int, float]] = {}
    for report in sorted(runs_dir.glob("*/report.json")):
        config = json.loads((report.parent / "config.json").read_text())["config"]
        variant = f"{config['framework']}:{config['activation']}"
        accuracy = json.loads(report.read_text())["report"]["accuracy"]
        results.setdefault(variant, {})[config["seed"]] = 100 * accuracy
        print(f"  {name:6} {variant:16} seed {config['seed']}: {100 * accuracy:.2f}%  ({config['precision']})",
              flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", default=["keras:relu", "tensorflow:crelu"])
    p.add_argument("--data", default="sample")
    p.add_argument("--recipe", default="fast")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--train-limit", type=int)
    p.add_argument("--test-limit", type=int)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides = {name: run_side(name, args, Path(tmp) / name) for name in SIDES}
    for variant in args.variants:
        before = Stat.of(list(sides["before"].get(variant, {}).values()))
        after = Stat.of(list(sides["after"].get(variant, {}).values()))
        diff, (low, high), p_value = welch(before, after)
        print(f"{variant}: before {before.mean:.2f} ± {before.std:.2f}, after {after.mean:.2f} ± {after.std:.2f}; "
              f"after - before {diff:+.2f} points, 95% CI [{low:+.2f}, {high:+.2f}], p = {p_value:.2f}")


if __name__ == "__main__":
    main()
