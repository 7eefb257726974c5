"""The app's fixtures: the screen as plain text, a fake engine and a fixed run folder.

Everything in the fixed run is a constant (ids, dates, numbers), so a screen
that shows it renders the same on every machine and every day. The helpers
behind these fixtures are in tui_support.py and ../runfactory.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from runfactory import FakeEngine, write_run
from tui_support import render_screen_text

FIXED_RUN_ID = "20240101-120000-tensorflow-crelu-abcd"
FIXED_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FIXED_CONFIG = {
    "framework": "tensorflow", "activation": "crelu", "backend": "tensorflow", "data": "sample", "recipe": "seed-2018",
    "epochs": 3, "batch_size": 32, "lr": 0.01, "seed": 7, "train_limit": 300, "test_limit": 100,
}
FIXED_VERSIONS = {"backend": "tensorflow", "keras": "3.15.1", "tensorflow": "2.21.0"}
FIXED_HISTORY = [
    {"epoch": 1, "loss": 2.1034, "accuracy": 0.2250, "val_loss": 1.9876, "val_accuracy": 0.2800, "lr": 0.0097, "seconds": 12.5},
    {"epoch": 2, "loss": 1.8120, "accuracy": 0.3410, "val_loss": 1.7702, "val_accuracy": 0.3600, "lr": 0.0094, "seconds": 11.9},
    {"epoch": 3, "loss": 1.6050, "accuracy": 0.4125, "val_loss": 1.6511, "val_accuracy": 0.4000, "lr": 0.0091, "seconds": 12.1},
]


def _fixed_confusion() -> list[list[int]]:
    """10 test images per class: class i gets 2 to 6 right, the rest spread over i+1 and i+3."""
    n = len(FIXED_CLASSES)
    rows = []
    for i in range(n):
        row = [0] * n
        right = 2 + (i * 3) % 5
        row[i] = right
        row[(i + 1) % n] += (10 - right + 1) // 2
        row[(i + 3) % n] += (10 - right) // 2
        rows.append(row)
    return rows


def _report_from_confusion(confusion: list[list[int]], names: list[str]) -> dict:
    """The dict sklearn's classification_report(output_dict=True) would give (no sklearn import)."""
    n = len(names)
    total = sum(map(sum, confusion))
    report: dict = {}
    for i, name in enumerate(names):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(confusion[r][i] for r in range(n))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[name] = {"precision": precision, "recall": recall, "f1-score": f1, "support": float(support)}
    report["accuracy"] = sum(confusion[i][i] for i in range(n)) / total
    for avg in ("macro avg", "weighted avg"):
        weights = [report[name]["support"] / total if avg == "weighted avg" else 1 / n for name in names]
        report[avg] = {
            key: sum(w * report[name][key] for w, name in zip(weights, names))
            for key in ("precision", "recall", "f1-score")
        }
        report[avg]["support"] = float(total)
    return report


def write_fixed_run(runs_dir: Path, run_id: str, created: str, config: dict[str, Any],
                    history: list[dict[str, float]], params: int) -> Path:
    """A finished run with constant contents, the fixed report included."""
    confusion = _fixed_confusion()
    return write_run(
        runs_dir, config, history, run_id=run_id, created=created,
        report=(_report_from_confusion(confusion, FIXED_CLASSES), confusion, FIXED_CLASSES),
        class_names=FIXED_CLASSES, data_source="bundled sample", train_samples=300, test_samples=100, params=params,
        versions=FIXED_VERSIONS,
    )


@pytest.fixture
def fixed_runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runs dir holding one finished run with constant contents, shown as the relative path ``runs``.

    The working directory moves to ``tmp_path`` so that every path the app
    shows is relative and the same length on every machine.
    """
    monkeypatch.chdir(tmp_path)
    write_fixed_run(tmp_path / "runs", FIXED_RUN_ID, "2024-01-01T12:00:00", FIXED_CONFIG, FIXED_HISTORY, 1234567)
    return Path("runs")


@pytest.fixture
def second_fixed_run(fixed_runs_dir: Path) -> Path:
    """Beside the fixed run, the same run as keras + relu, one point worse at the end: a pair to compare."""
    history = [dict(row) for row in FIXED_HISTORY]
    history[1]["val_accuracy"], history[2]["val_accuracy"] = 0.35, 0.39
    config = {**FIXED_CONFIG, "framework": "keras", "activation": "relu", "seed": 8}
    return write_fixed_run(fixed_runs_dir, "20240101-110000-keras-relu-efgh", "2024-01-01T11:00:00", config, history, 1234000)


@pytest.fixture
def screen_text() -> Callable[[Any], str]:
    return render_screen_text


@pytest.fixture
def fake_engine() -> FakeEngine:
    """A stand-in for the engine's train(): it runs until the app stops it (see tui_support.FakeEngine)."""
    return FakeEngine()
