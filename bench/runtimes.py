"""The same net on each installed runtime, alternating in one sequence: img/s and the ratio to the default.

Each run is an ordinary kvt run in a child process of its own (a process
holds one Keras backend), so what is timed is kvt's own training path:
Keras 3 on TensorFlow (the default), on JAX, on PyTorch, and Keras 2
(tf_keras). The runtimes alternate (tensorflow, jax, ..., tensorflow, jax,
...) so that drift on a noisy machine hits them all. img/s is measured on
the epochs after the first (the first one traces or compiles the step), on
the training part of each epoch (history.csv's train_seconds).

    python bench/runtimes.py --data sample --train-limit 2000 --repeats 2

Run it alone: other work on the machine changes the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's kvt, also in the children

from kvt_models.backend import runtime
from kvt_models.settings.config import RunConfig
from kvt_models.train.isolated import train_isolated
from kvt_models.variants import BACKENDS


def steady_img_per_s(result) -> float:
    """Training images per second over the epochs after the first (all of them for a 1-epoch run)."""
    from kvt_models.store.runs import read_run_info

    rows = result.history[1:] or result.history
    return read_run_info(result.run_dir).train_samples * len(rows) / sum(row["train_seconds"] for row in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="sample")
    p.add_argument("--framework", default="keras")
    p.add_argument("--activation", default="relu")
    p.add_argument("--train-limit", type=int, default=2000)
    p.add_argument("--test-limit", type=int, default=200)
    p.add_argument("--epochs", type=int, default=2, help="at least 2: the first epoch compiles and is not counted")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--backends", default=",".join(runtime.installed()),
                   help=f"comma-separated, of {', '.join(BACKENDS)} (default: the installed ones)")
    args = p.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        runtime.require(backend)
    speeds: dict[str, list[float]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory() as runs_dir:
        for repeat in range(1, args.repeats + 1):
            for backend in backends:
                cfg = RunConfig(framework=args.framework, activation=args.activation, backend=backend, data=args.data,
                                epochs=args.epochs, batch_size=args.batch_size, seed=repeat,
                                train_limit=args.train_limit, test_limit=args.test_limit)
                result = train_isolated(cfg, runs_dir=runs_dir)
                speed = steady_img_per_s(result)
                speeds[backend].append(speed)
                accuracy = result.history[-1]["val_accuracy"] * 100
                print(f"repeat {repeat}  {backend:<10} {speed:7.1f} img/s   (test accuracy {accuracy:.1f}%)", flush=True)
    base = statistics.median(speeds[backends[0]])
    print(f"\n{args.framework}+{args.activation}, {args.train_limit} images of {args.data}, batch {args.batch_size}, "
          f"epochs 2..{args.epochs}, median of {args.repeats}:\n")
    print(f"| runtime | img/s | ratio to {backends[0]} |")
    print("|---|---|---|")
    for backend in backends:
        median = statistics.median(speeds[backend])
        print(f"| {backend} ({BACKENDS[backend]}) | {median:.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
