"""The difference epoch by epoch: Welch CIs per epoch, when it settles, when the lead changed."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from kvt_models.compare.settling import format_trajectories, rows_to_show, trajectories


def _runs(*curves):
    """Histories from per-run val_accuracy curves."""
    return [[{"epoch": i + 1, "val_accuracy": v} for i, v in enumerate(curve)] for curve in curves]


# CReLU trails at epochs 1-2, then leads clearly: the 2018 trap.
RELU = _runs([0.40, 0.50, 0.55, 0.58, 0.60], [0.41, 0.51, 0.56, 0.57, 0.61], [0.39, 0.49, 0.54, 0.59, 0.59])
CRELU = _runs([0.35, 0.47, 0.58, 0.62, 0.64], [0.36, 0.46, 0.59, 0.63, 0.65], [0.34, 0.48, 0.57, 0.61, 0.63])


def test_each_epoch_gets_the_welch_ci_and_p_of_scipy():
    [pair] = trajectories({"keras:relu": RELU, "tensorflow:crelu": CRELU}).pairs
    assert (pair.a, pair.b) == ("keras:relu", "tensorflow:crelu") and len(pair.epochs) == 5
    for e in pair.epochs:
        a = [run[e.epoch - 1]["val_accuracy"] for run in RELU]
        b = [run[e.epoch - 1]["val_accuracy"] for run in CRELU]
        test = stats.ttest_ind(b, a, equal_var=False)
        ci = test.confidence_interval(0.95)
        assert (e.n_a, e.n_b) == (3, 3)
        assert e.diff == pytest.approx(sum(b) / 3 - sum(a) / 3)
        assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high))
        assert e.p_value == pytest.approx(test.pvalue)


def test_it_settles_from_the_first_epoch_of_the_last_stretch_that_excludes_zero_and_warns_of_the_crossing():
    [pair] = trajectories({"keras:relu": RELU, "tensorflow:crelu": CRELU}).pairs
    signs = [e.excludes_zero for e in pair.epochs]
    assert signs[0] == -1 and signs[-1] == 1  # relu ahead at epoch 1, crelu at the end
    first_positive_stretch = max(i for i, s in enumerate(signs) if s != 1) + 2
    assert pair.settled_from == first_positive_stretch and pair.settled_sign == 1
    assert pair.lead_changed_at == 3
    line = pair.line()
    assert line.startswith(f"settled from epoch {first_positive_stretch}: tensorflow:crelu is better than keras:relu")
    assert "the lead changed at epoch 3: longer training may change the answer" in line


def test_noise_is_not_settled():
    a = _runs([0.50, 0.52], [0.53, 0.49], [0.51, 0.50])
    b = _runs([0.52, 0.50], [0.49, 0.53], [0.50, 0.51])
    [pair] = trajectories({"a": a, "b": b}).pairs
    assert pair.settled_from is None and pair.line().startswith("not settled: b - a = ")


def test_unequal_runs_get_statistics_only_where_two_seeds_of_each_side_have_the_epoch():
    a = _runs([0.5, 0.6, 0.7], [0.52, 0.61], [0.51])  # a stopped and a resumed-short run
    b = _runs([0.6, 0.7, 0.8], [0.61, 0.72, 0.79])
    [pair] = trajectories({"a": a, "b": b}).pairs
    assert [(e.epoch, e.n_a, e.n_b, e.has_stats) for e in pair.epochs] == [
        (1, 3, 2, True), (2, 2, 2, True), (3, 1, 2, False)]
    assert math.isnan(pair.epochs[2].ci_low) and pair.last.epoch == 2
    table = format_trajectories(trajectories({"a": a, "b": b}))
    assert " 1/2 " in table and "n/a" in table


def test_more_variants_are_each_compared_with_the_first_with_holm():
    c = _runs([0.40, 0.50, 0.56], [0.41, 0.50, 0.55], [0.40, 0.51, 0.56])
    groups = {"keras:relu": RELU, "tensorflow:crelu": CRELU, "keras:gelu": c}
    pairs = trajectories(groups).pairs
    assert [(p.a, p.b) for p in pairs] == [("keras:relu", "tensorflow:crelu"), ("keras:relu", "keras:gelu")]
    ps = sorted(p.last.p_value for p in pairs)
    holm = sorted(p.holm_p for p in pairs)
    assert holm[0] == pytest.approx(min(1, 2 * ps[0]))
    assert holm[1] == pytest.approx(max(holm[0], min(1, ps[1])))


def test_a_long_table_shows_the_changes_and_the_last_epoch():
    a = _runs(*[[0.5 + 0.001 * i + 0.01 * s for i in range(30)] for s in range(3)])
    b = _runs(*[[0.5 + (0.003 * i - 0.03) + 0.01 * s for i in range(30)] for s in range(3)])
    [pair] = trajectories({"a": a, "b": b}).pairs
    shown = rows_to_show(pair.epochs)
    assert shown[0].epoch == 1 and shown[-1].epoch == 30 and len(shown) < 30
    for before, after in zip(shown, shown[1:]):
        assert after.epoch > before.epoch
    text = format_trajectories(trajectories({"a": a, "b": b}))
    assert "of 30)" in text
    assert text.splitlines()[-1].startswith(("settled from epoch", "not settled:"))


def test_it_is_written_as_json_without_nan(tmp_path):
    import json
    from dataclasses import asdict

    from kvt_models.store.atomic import atomic_write_json

    a = _runs([0.5, 0.6], [0.52])
    b = _runs([0.6, 0.7], [0.61, 0.72])
    atomic_write_json(tmp_path / "t.json", asdict(trajectories({"a": a, "b": b})))
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["pairs"][0]["epochs"][1]["ci_low"] is None and data["pairs"][0]["epochs"][0]["n_b"] == 2
