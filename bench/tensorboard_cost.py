"""What TensorBoard's event files cost a run: the writer alone, and epochs trained with and without it.

    python bench/tensorboard_cost.py                         # both parts, on the bundled sample
    python bench/tensorboard_cost.py --pairs 3 --epochs 3 --train-limit 2000
    python bench/tensorboard_cost.py --writer-only

Part 1 times :class:`kvt_models.train.tensorboard.BoardWriter` on the events of
one CIFAR-10 epoch as a run sends them (1,563 batches, throttled to one event
per 0.2 s: about 30 for a 6-second epoch, 300 for a 60-second one; here the
worst case, every batch), with its flush at the epoch end, and prints the
microseconds per event and per epoch, and the bytes written.

Part 2 trains ``--pairs`` pairs of runs in child processes (``kvt-train``),
with and without ``--no-tensorboard``, alternating which goes first, on the
same seed, and prints each run's mean ``seconds`` per epoch after the first
(history.csv; the first epoch holds the graph tracing) and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kvt_models.events import BatchEnded, EpochEnded, TrainStarted
from kvt_models.train.tensorboard import BoardWriter, is_event_file


def writer_cost(batches: int = 1563) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="kvt-tb-"))
    board = BoardWriter(lambda event: None)
    board(TrainStarted("r", str(folder), "keras", "relu", 1, batches, 32, 50_000, 10_000, 1, ["a"]))
    start = time.perf_counter()
    for step in range(1, batches + 1):
        board(BatchEnded(1, step, batches, {"loss": 2.0, "accuracy": 0.3}, 1000.0, 0.1))
    board(EpochEnded(1, 1, 2.0, 0.3, 2.1, 0.25, 0.01, 60.0, 55.0))
    seconds = time.perf_counter() - start
    board.close()
    size = sum(p.stat().st_size for p in folder.iterdir() if is_event_file(p.name))
    return {"events": batches + 1, "us_per_event": seconds / (batches + 1) * 1e6, "ms_per_epoch": seconds * 1e3,
            "bytes": size}


def _epoch_seconds(run_dir: Path) -> float:
    with open(run_dir / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    return statistics.fmean(float(r["seconds"]) for r in rows[1:])


def trained_cost(args: argparse.Namespace) -> None:
    results: dict[bool, list[float]] = {True: [], False: []}
    for pair in range(args.pairs):
        for with_board in ((True, False) if pair % 2 == 0 else (False, True)):
            runs = Path(tempfile.mkdtemp(prefix="kvt-tb-runs-"))
            command = [sys.executable, "-m", "kvt_models.cli", "--data", args.data, "--epochs", str(args.epochs),
                       "--train-limit", str(args.train_limit), "--seed", "1", "--runs-dir", str(runs),
                       *([] if with_board else ["--no-tensorboard"])]
            subprocess.run(command, check=True, capture_output=True)
            (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
            seconds = _epoch_seconds(run_dir)
            results[with_board].append(seconds)
            print(f"pair {pair + 1}: {'with' if with_board else 'without'} TensorBoard: {seconds:.2f} s/epoch", flush=True)
    on, off = statistics.fmean(results[True]), statistics.fmean(results[False])
    print(f"mean s/epoch after the first: with {on:.2f}, without {off:.2f}, ratio {on / off:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-limit", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--writer-only", action="store_true")
    args = parser.parse_args()
    cost = writer_cost()
    print(f"writer: {cost['events']} events (every batch of a CIFAR-10 epoch): {cost['us_per_event']:.0f} us per event, "
          f"{cost['ms_per_epoch']:.0f} ms per epoch with its flush, {cost['bytes']:,} bytes")
    if not args.writer_only:
        trained_cost(args)


if __name__ == "__main__":
    main()
