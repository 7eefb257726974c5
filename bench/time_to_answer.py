"""How long until kvt answers the 2018 post's question on this box: keras:relu against tensorflow:crelu.

    python bench/time_to_answer.py --data ../shared/data/cifar10-jpeg.tar.gz
    python bench/time_to_answer.py --data sample --recipe seed-2018 --epochs 2 --max-seeds 6   # a quick rehearsal

Runs ``kvt-train compare keras:relu tensorflow:crelu --seeds auto`` (the
fast recipe by default) in a fresh runs dir, so that nothing is reused, and
times it end to end: every run's process start, TensorFlow import, training
and evaluation, every look, and the files. The comparison adds a seed of
each variant per round until the pair is decided -- better, worse or
equivalent within ``--min-effect`` -- or ``--max-seeds``. Its lines are
shown as they come; the last line is::

    time to answer: M min (<outcome> after N seeds per variant)

Options after ``--`` go to ``kvt-train compare`` as they are (``--parallel 2``,
``--train-limit 5000``...). On the full CIFAR-10 a fast-recipe run took
13-14 minutes on this project's 2-core box with three runs sharing it
(docs/performance.md), so an answer of up to 8 rounds takes hours;
docs/sequential.md has the results, and says on what data they were
measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Anything after -- goes to kvt-train compare as is, e.g. -- --parallel 2 --train-limit 5000.",
    )
    p.add_argument("--data", default="cifar10", help="as kvt-train's --data (default cifar10: Keras's download)")
    p.add_argument("--recipe", default="fast", help="default fast (5 epochs, ~75%% on CIFAR-10)")
    p.add_argument("--epochs", type=int, help="default: the recipe's")
    p.add_argument("--max-seeds", type=int, default=8, help="the most seeds per variant (default 8)")
    p.add_argument("--min-effect", type=float, default=1.0, help="the difference that matters, points (default 1.0)")
    p.add_argument("--runs-dir", help="default: a fresh temporary folder, so that every run trains")
    p.add_argument("extra", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    with tempfile.TemporaryDirectory(prefix="kvt-answer-") as tmp:
        runs_dir = args.runs_dir or tmp
        cmd = [sys.executable, "-m", "kvt_models.cli", "compare", "keras:relu", "tensorflow:crelu", "--seeds", "auto",
               "--max-seeds", str(args.max_seeds), "--min-effect", str(args.min_effect), "--recipe", args.recipe,
               "--data", args.data, "--runs-dir", runs_dir, *(["--epochs", str(args.epochs)] if args.epochs else []),
               *extra]
        print("# kvt-train " + " ".join(cmd[3:]), flush=True)
        started = time.perf_counter()
        folder = None
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                if line.strip().startswith("comparison ") and line.strip().endswith("comparison.json"):
                    folder = Path(line.split(None, 1)[1].strip()).parent
        minutes = (time.perf_counter() - started) / 60
        if proc.returncode != 0 or folder is None:
            sys.exit(f"kvt-train compare ended with status {proc.returncode} after {minutes:.1f} min, without an answer")
        [pair] = json.loads((folder / "comparison.json").read_text())["pairs"]
        decision = pair["decision"]
        shown = f"{minutes:.0f}" if minutes >= 10 else f"{minutes:.1f}"
        print(f"time to answer: {shown} min ({decision['outcome']} after {decision['seeds']} seeds per variant)")


if __name__ == "__main__":
    main()
