"""The evidence bundle: `kvt-train compare ... --export DIR` writes report.md, table.tex, the PNGs and
comparison.json, made from the run folders, with the very numbers the printed table shows."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from runfactory import history_rows, write_run

from kvt_models.cli.main import main
from kvt_models.compare.bundle import export_bundle
from kvt_models.compare.files import compare_runs
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import PRECISION_ASKED

# Final test accuracy per (activation, seed): relu and elu differ by about two points.
FINALS = {("relu", 1): 0.412, ("relu", 2): 0.431, ("elu", 1): 0.447, ("elu", 2): 0.452}


def _finished_runs(root: Path) -> None:
    """The four runs `compare keras:relu keras:elu --seeds 2 --data sample --epochs 1` would train, finished:
    the same resolved settings, so the queue reuses them instead of training."""
    for (activation, seed), final in FINALS.items():
        config = RunConfig(activation=activation, data="sample", epochs=1, seed=seed).resolved().to_dict()
        write_run(root, {**config, PRECISION_ASKED: "auto"}, history_rows([final]), train_samples=5000,
                  params=2_171_178, versions={"backend": "tensorflow", "keras": "3.15.1", "tensorflow": "2.21.0"})


def _points(text: str) -> float:
    return math.nan if text == "n/a" else float(text)


def test_compare_export_writes_the_bundle_with_the_printed_numbers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, dest = tmp_path / "runs", tmp_path / "bundle"
    _finished_runs(root)
    code = main(["compare", "keras:relu", "keras:elu", "--seeds", "2", "--data", "sample", "--epochs", "1",
                 "--runs-dir", str(root), "--export", str(dest)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "0 run(s) trained, 4 reused" in printed
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["comparison.json", "diff-keras-relu-vs-keras-elu.png", "overlay.png", "report.md", "table.tex"]
    assert all((dest / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names if n.endswith(".png"))

    saved = json.loads((dest / "comparison.json").read_text())
    rows = re.findall(r"^(keras:\w+)\s+(\d+)\s+([\d.]+) ±\s+([\d.]+)\s+([\d.]+) ±\s+([\d.]+)\s+(\S+)\s+([\d.]+)",
                      printed, re.M)
    assert [r[0] for r in rows] == [v["variant"] for v in saved["variants"]] == ["keras:relu", "keras:elu"]
    for row, variant in zip(rows, saved["variants"]):
        final, best = variant["final_accuracy"], variant["best_accuracy"]
        assert int(row[1]) == final["n"] == 2
        assert (float(row[2]), float(row[3])) == (round(final["mean"] * 100, 2), round(final["std"] * 100, 2))
        assert (float(row[4]), float(row[5])) == (round(best["mean"] * 100, 2), round(best["std"] * 100, 2))
        assert row[6] == f"{variant['images_per_second']:,.0f}"
    (pair_line,) = re.findall(r"^keras:elu - keras:relu: ([+-][\d.]+) points, 95% CI \[([+-][\d.]+), ([+-][\d.]+)\], "
                              r"Welch p = ([\d.]+)", printed, re.M)
    (pair,) = saved["pairs"]
    assert float(pair_line[0]) == round(pair["diff"] * 100, 2)
    assert (float(pair_line[1]), float(pair_line[2])) == tuple(round(x * 100, 2) for x in pair["ci95"])
    assert float(pair_line[3]) == round(pair["p_value"], 3)
    assert pair["diff"] == pytest.approx((FINALS[("elu", 1)] + FINALS[("elu", 2)] - FINALS[("relu", 1)]
                                          - FINALS[("relu", 2)]) / 2)

    report = (dest / "report.md").read_text()
    for row in rows:
        assert f"| {row[0]} | 2 | {row[2]} ± {row[3]} | {row[4]} ± {row[5]} |" in report
    assert f"| keras:elu - keras:relu | {pair_line[0]} | {pair_line[1]} to {pair_line[2]} | {pair_line[3]} |" in report
    decision = pair["decision"]["outcome"]
    assert f"{decision} after 2 seeds" in report and "## Per epoch: A = keras:relu, B = keras:elu" in report
    assert "| activation | relu | relu | elu | elu |" in report and "| data | sample |" in report  # differ, shared
    assert "cores" in report and "keras 3.15.1" in report and "--export" in report  # environment, command line
    tex = (dest / "table.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert f"${rows[0][2]} \\pm {rows[0][3]}$" in tex and f"${pair_line[0]}$" in tex


def test_a_bundle_is_made_again_from_the_run_folders(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _finished_runs(root)
    comparison, _ = compare_runs(sorted(p for p in root.iterdir() if p.name != "comparisons"), root)
    first = export_bundle(comparison, tmp_path / "one")
    again = export_bundle(comparison, tmp_path / "two")
    strip = [json.loads(Path(f["comparison"]).read_text()) for f in (first, again)]
    for data in strip:
        data.pop("created")
    assert strip[0] == strip[1]
    # A run folder that is gone: one line, not a traceback.
    victim = Path(comparison.variants[0].runs[0])
    for file in victim.iterdir():
        file.unlink()
    victim.rmdir()
    from kvt_models.errors import KvtError

    with pytest.raises(KvtError, match="not a kvt run folder"):
        export_bundle(comparison, tmp_path / "three")
