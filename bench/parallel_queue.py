"""A local comparison queue with 1 and with 2 runs at once: images per second of the whole queue.

    python bench/parallel_queue.py --data sample --epochs 2 --seeds 2 --repeats 2

Each measurement is one ``kvt-train compare`` of the same variants and seeds
in a fresh runs dir (nothing reused), timed end to end: every child's
TensorFlow import, training, test-set evaluation and files. Images per
second = the queue's training images (runs x epochs x train images) over
that wall time. The settings alternate (1, 2, 2, 1, ...) so that a change in
the machine's other load hits both. With ``--parallel 2`` each run runs one
TensorFlow op at a time (kvt_models.compare.placement.LocalRuns). The load average
before each measurement is printed beside it: on a shared box it says how
much the numbers can be trusted. The same seeds trained 1 and 2 at a time
are also compared: the final test accuracies must match.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def finals(runs_dir: Path) -> dict[tuple[str, int], float]:
    """(variant, seed) -> final test accuracy of every run in ``runs_dir``."""
    out = {}
    for config_file in runs_dir.glob("*/config.json"):
        record = json.loads(config_file.read_text())
        cfg = record["config"]
        rows = (config_file.parent / "history.csv").read_text().strip().splitlines()
        header, last = rows[0].split(","), rows[-1].split(",")
        out[(f"{cfg['framework']}:{cfg['activation']}", cfg["seed"])] = float(last[header.index("val_accuracy")])
    return out


def measure(parallel: int, args: argparse.Namespace) -> tuple[float, float, str, dict]:
    with tempfile.TemporaryDirectory(prefix="kvt-parallel-") as tmp:
        cmd = [sys.executable, "-m", "kvt_models.cli", "compare", *args.variants, "--seeds", str(args.seeds),
               "--data", args.data, "--epochs", str(args.epochs), "--runs-dir", tmp, "--parallel", str(parallel)]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"--parallel {parallel} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        record = json.loads(next(Path(tmp).glob("*/config.json")).read_text())
        images = record["train_samples"] * args.epochs * len(args.variants) * args.seeds
        return wall, images / wall, load, finals(Path(tmp))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", default=["keras:relu", "keras:elu"])
    p.add_argument("--data", default="sample")
    p.add_argument("--train-limit", type=int)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2, help="measurements of each setting (alternating)")
    args = p.parse_args()
    order = [1, 2, 2, 1] * ((args.repeats + 1) // 2)
    order = order[: 2 * args.repeats]
    results: dict[int, list[float]] = {1: [], 2: []}
    accuracies: dict[int, dict] = {}
    print(f"cores: {os.cpu_count()}; queue: {' '.join(args.variants)} x {args.seeds} seeds, {args.epochs} epochs, "
          f"data {args.data}" + (f", {args.train_limit} train images" if args.train_limit else ""), flush=True)
    for parallel in order:
        wall, rate, load, accs = measure(parallel, args)
        results[parallel].append(rate)
        accuracies.setdefault(parallel, accs)
        print(f"--parallel {parallel}: {wall:6.1f} s, {rate:6.0f} img/s of the whole queue (load average before: "
              f"{load})", flush=True)
    same = accuracies[1] == accuracies[2]
    print(f"same final accuracies 1 vs 2 at once: {same}" + ("" if same else f" ({accuracies[1]} vs {accuracies[2]})"))
    m1, m2 = statistics.median(results[1]), statistics.median(results[2])
    print(f"median img/s: 1 at once {m1:.0f}, 2 at once {m2:.0f}: ratio {m2 / m1:.2f}")


if __name__ == "__main__":
    main()
