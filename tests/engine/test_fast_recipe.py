"""The fast recipe's promise, on the full CIFAR-10: 75% test accuracy in 5 epochs, under 1.5 GB.

Slow (about 5-10 minutes on 2 cores): run with ``python -m pytest -m slow tests/test_fast_recipe.py``.
It runs the very command of issue 10 and reads what it printed and wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fast_recipe_reaches_75_percent_in_5_epochs_under_1_5_gb(tmp_path: Path) -> None:
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
        [sys.executable, "-c", code, "--recipe", "fast", "--data", str(ARCHIVE), "--epochs", "5", "--seed", "1",
         "--runs-dir", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (report,) = tmp_path.glob("*/report.json")
    accuracy = json.loads(report.read_text())["report"]["accuracy"]
    peak = int(re.search(r"peak-rss-mb (\d+)", done.stdout).group(1))
    assert accuracy >= 0.75, f"test accuracy {accuracy:.4f} after 5 epochs"
    assert peak <= 1536, f"peak RSS {peak} MB"
