"""Memory over many short runs in one process: does RSS stay flat?

    python bench/endurance.py --runs 20            # the engine's train(), in this one process (compare gives each run a child)
    python bench/endurance.py --runs 20 --app      # the same through the Textual app, headless

Each run trains 1 epoch on a small slice of the bundled sample. Prints the
resident set size after the first run and after the last, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine(runs: int, runs_dir: str) -> list[float]:
    from kvt_models.settings.config import RunConfig
    from kvt_models.train.training import train

    sizes = []
    for i in range(runs):
        framework, activation = (("keras", "relu"), ("tensorflow", "crelu"))[i % 2]
        train(RunConfig(framework=framework, activation=activation, data="sample", train_limit=200,
                        test_limit=100, epochs=1, seed=i), runs_dir=runs_dir)
        sizes.append(rss_mb())
        print(f"run {i + 1:2d}: RSS {sizes[-1]:7.1f} MB", flush=True)
    return sizes


async def app(runs: int, runs_dir: str) -> list[float]:
    from kvt_tui.cli import create_app

    sizes = []
    application = create_app(data="sample", runs_dir=runs_dir, epochs=1, train_limit=200, test_limit=100)
    async with application.run_test(size=(100, 30)) as pilot:
        for i in range(runs):
            start = time.perf_counter()
            await pilot.press("t")
            await pilot.pause()
            await application.workers.wait_for_complete()
            await pilot.pause()
            sizes.append(rss_mb())
            print(f"run {i + 1:2d}: RSS {sizes[-1]:7.1f} MB ({time.perf_counter() - start:.1f} s)", flush=True)
    return sizes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--app", action="store_true", help="drive the Textual app instead of the engine")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        sizes = asyncio.run(app(args.runs, runs_dir)) if args.app else engine(args.runs, runs_dir)
    print(f"RSS after run 1: {sizes[0]:.1f} MB, after run {len(sizes)}: {sizes[-1]:.1f} MB, "
          f"growth {sizes[-1] - sizes[0]:+.1f} MB ({sizes[-1] / sizes[0]:.2f}x)")


if __name__ == "__main__":
    main()
