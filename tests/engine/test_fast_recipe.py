"""The fast recipe on the full CIFAR-10: 77.5% test accuracy in its 4 epochs, no stalled epoch, bounded memory.

Seed 1 of the recipe (batch 32, linear decay to zero) reaches 78.03% in bfloat16 (docs/recipes.md, "fast
per seed"; seeds 1-5 in the table there); issue 19 asks for 77% on every seed and 78% on average. The test
guards what is reached, less half a point for another CPU's arithmetic, so that a change that loses it fails.

Slow (about 4 minutes on a 2-core box with AVX-512 BF16; v2 took 11 in float32 without it): run with
``python -m pytest -m slow tests/engine/test_fast_recipe.py``.
It runs the very command of issue 19 (seed 1) and reads what it printed and wrote.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fast_recipe_reaches_77_5_percent_in_4_epochs_without_a_stalled_epoch(tmp_path: Path) -> None:
    if not ARCHIVE.is_file():
        pytest.skip(f"needs the full CIFAR-10 archive at {ARCHIVE}")
    code = (
        "import resource, sys\n"
        "from kvt_models.cli.main import main\n"
        "rc = main(sys.argv[1:])\n"
        "print('peak-rss-mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--recipe", "fast", "--data", str(ARCHIVE), "--seed", "1",
         "--runs-dir", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (report,) = tmp_path.glob("*/report.json")
    accuracy = json.loads(report.read_text())["report"]["accuracy"]
    with open(report.parent / "history.csv", newline="") as fh:
        seconds = [float(row["seconds"]) for row in csv.DictReader(fh)]
    peak = int(re.search(r"peak-rss-mb (\d+)", done.stdout).group(1))
    assert len(seconds) == 4, seconds  # the recipe's own epochs
    assert accuracy >= 0.775, f"test accuracy {accuracy:.4f} after 4 epochs"
    # No stall: the slowest epoch within 15% of the median one (issue 19; a stall added ~30 s to a ~50-s epoch).
    assert max(seconds) <= 1.15 * statistics.median(seconds), seconds
    assert peak <= 1229, f"peak RSS {peak} MiB"  # 1.2 GiB: what the index-gather pipeline gave (docs/performance.md)
