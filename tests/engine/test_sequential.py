"""`--seeds auto`: the sequential method is honest (simulated), its parts match scipy, and the queue uses it.

The simulations run the very :func:`~kvt_models.compare.sequential.look`
that decides a real comparison, vectorized over 20,000 simulated
comparisons at the sizes kvt uses (3 to 8 seeds per variant). Each rate is
held to its bound plus three Monte Carlo standard errors; the naive method
(a fixed-n t-test at 0.05 re-run after every seed) is run on the same draws
and must fail the bound, so the A/A checks can tell an honest method from a
dishonest one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from runfactory import InstantEngine
from scipy import stats

from kvt_models.compare.queue import run_comparison
from kvt_models.compare.sequential import (
    ALPHA,
    Design,
    decide,
    holm_adjusted,
    look,
    look_summary,
    seeds_needed,
    simulate,
    spent,
    welch_parts,
)
from kvt_models.compare.settling import holm
from kvt_models.compare.verdict import format_table
from kvt_models.events import LookTaken, QueueProgress
from kvt_models.settings.config import RunConfig

SIMS = 20_000
MC_SE = math.sqrt(ALPHA * (1 - ALPHA) / SIMS)  # of a rate near alpha
BOUND = ALPHA + 3 * MC_SE


def _noise(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-sd noise: normal, or Student's t with 3 df (heavy tails: sd sqrt(3), scaled to 1)."""
    if kind == "t3":
        return rng.standard_t(3, shape) / math.sqrt(3)
    return rng.standard_normal(shape)


def _naive_rate(a: np.ndarray, b: np.ndarray, looks: tuple[int, ...]) -> float:
    """A fixed-n Welch test at 0.05 after every seed from the first look on: "better"/"worse" at the first p < 0.05."""
    rejected = np.zeros(a.shape[:-1], dtype=bool)
    for n in looks:
        rejected |= stats.ttest_ind(b[..., :n], a[..., :n], axis=-1, equal_var=False).pvalue < ALPHA
    return float(rejected.mean())


@pytest.mark.parametrize("noise, sd_b, max_seeds", [
    ("normal", 1.0, 8), ("t3", 1.0, 8), ("normal", 3.0, 8),  # equal, heavy-tailed, unequal variances
    ("normal", 1.0, 4), ("t3", 3.0, 6),  # other --max-seeds
])
def test_a_a_comparisons_are_called_better_or_worse_at_most_alpha_of_the_time(noise: str, sd_b: float, max_seeds: int) -> None:
    rng = np.random.default_rng([20, max_seeds, int(sd_b), noise == "t3"])
    a = _noise(noise, rng, (SIMS, 1, max_seeds))
    b = sd_b * _noise(noise, rng, (SIMS, 1, max_seeds))
    # A min effect far below the noise: equivalence cannot end a comparison before a false "better" could.
    design = Design(max_seeds=max_seeds, min_effect=0.01)
    codes, _ = simulate(a, b, design)
    false_positive = float(np.isin(codes, (1, 2)).mean())
    assert false_positive <= BOUND, f"{noise}, sd_b {sd_b}: {false_positive:.4f} > {BOUND:.4f}"
    # The test has teeth: the naive method on the same draws breaks the bound.
    naive = _naive_rate(a, b, design.looks)
    assert naive > BOUND, f"the naive re-test should inflate false positives, got {naive:.4f}"


def test_with_three_variants_holm_keeps_the_family_wise_rate() -> None:
    rng = np.random.default_rng(21)
    baseline = rng.standard_normal((SIMS, 1, 8))
    others = rng.standard_normal((SIMS, 2, 8)) * np.array([1.0, 2.0])[:, None]
    codes, _ = simulate(baseline, others, Design(min_effect=0.01))
    any_false = float(np.isin(codes, (1, 2)).any(axis=-1).mean())
    assert any_false <= BOUND


@pytest.mark.parametrize("spending", ["power3", "power2", "obf"])
def test_a_difference_of_2_sd_is_found_better_in_80_percent_within_8_seeds(spending: str) -> None:
    rng = np.random.default_rng(22)
    a, b = rng.standard_normal((SIMS, 1, 8)), rng.standard_normal((SIMS, 1, 8)) + 2.0
    codes, seeds = simulate(a, b, Design(min_effect=0.01, spending=spending))
    better = float((codes == 1).mean())
    assert better >= 0.80, f"{spending}: {better:.3f}"
    assert (codes == 2).sum() == 0
    # Mean seeds per variant used (docs/sequential.md has the table): it stops early when it can.
    assert 5.0 < float(seeds.mean()) < 7.0


def test_a_difference_below_half_the_min_effect_is_mostly_equivalent_and_never_worse() -> None:
    rng = np.random.default_rng(23)
    a, b = rng.standard_normal((SIMS, 1, 8)), rng.standard_normal((SIMS, 1, 8)) + 1.4
    codes, seeds = simulate(a, b, Design(min_effect=3.0))  # D = 3 sd, the difference 1.4 sd < D/2
    assert float((codes == 3).mean()) > 0.5
    assert (codes == 2).sum() == 0
    # And no difference at all: equivalent nearly always, sooner.
    codes, seeds_aa = simulate(a, rng.standard_normal((SIMS, 1, 8)), Design(min_effect=3.0))
    assert float((codes == 3).mean()) > 0.95 and seeds_aa.mean() < seeds.mean()


def test_spending_adds_up_to_alpha_and_spends_little_early() -> None:
    for spending in ("power3", "power2", "obf"):
        design = Design(max_seeds=8, spending=spending)
        alphas = design.alphas()
        assert design.looks == (3, 4, 5, 6, 7, 8) and alphas.sum() == pytest.approx(ALPHA)
        assert (alphas > 0).all() and alphas[0] < ALPHA / 6  # less than an even share at the first look
    assert spent(1.0) == pytest.approx(ALPHA) and spent(0.0) == 0.0
    assert Design(max_seeds=8, spending="power2").alphas()[0] == pytest.approx(ALPHA * (3 / 8) ** 2)
    assert Design.fixed(5).looks == (5,) and Design.fixed(5).alphas() == pytest.approx([ALPHA])


def test_a_look_is_scipy_s_welch_test_and_its_intervals() -> None:
    rng = np.random.default_rng(24)
    a, b = rng.normal(0.5, 0.02, (50, 5)), rng.normal(0.51, 0.04, (50, 5))
    diff, se, df = welch_parts(a, b)
    reference = stats.ttest_ind(b, a, axis=-1, equal_var=False)
    assert df == pytest.approx(reference.df) and diff / se == pytest.approx(reference.statistic)
    alpha_k = 0.01
    result = look(diff[:, None], se[:, None], df[:, None], alpha_k, 0.02)
    assert result.p[:, 0] == pytest.approx(reference.pvalue)
    ci = reference.confidence_interval(1 - alpha_k)
    assert result.ci[0][:, 0] == pytest.approx(ci.low) and result.ci[1][:, 0] == pytest.approx(ci.high)
    # TOST: equivalent exactly when the 1 - 2 alpha interval lies inside (-D, D) (Schuirmann).
    tost = reference.confidence_interval(1 - 2 * alpha_k)
    inside = (tost.low > -0.02) & (tost.high < 0.02)
    significant = reference.pvalue < alpha_k
    assert ((result.codes[:, 0] == 3) == inside).all()
    assert ((result.codes[:, 0] == 1) == (significant & ~inside & (diff > 0))).all()


def test_holm_matches_the_scalar_version_and_skips_closed_pairs() -> None:
    p = [0.01, 0.04, 0.03]
    assert holm_adjusted(p) == pytest.approx(holm(p))
    assert np.isnan(holm_adjusted([0.01, math.nan, 0.04])[1])
    assert holm_adjusted([0.01, math.nan, 0.04])[[0, 2]] == pytest.approx(holm([0.01, 0.04]))


def test_seeds_needed_is_what_statsmodels_ttestindpower_says() -> None:
    power = pytest.importorskip("statsmodels.stats.power")
    for effect in (0.3, 0.5, 1.0, 2.0, 3.0):
        expected = math.ceil(power.TTestIndPower().solve_power(effect_size=effect, alpha=0.05, power=0.8))
        assert seeds_needed(0.01, 0.01, effect * 0.01) == max(2, expected)
    assert seeds_needed(0.01, 0.03, 0.02) == seeds_needed(math.sqrt(0.0005), math.sqrt(0.0005), 0.02)  # pooled rms
    assert seeds_needed(math.nan, 0.01, 0.01) is None and seeds_needed(0.0, 0.0, 0.01) == 2


def test_decide_replays_the_looks_and_stops_at_the_first_decision() -> None:
    baseline = [0.50, 0.52, 0.51, 0.49, 0.50, 0.51]
    [better, same] = decide(baseline, [[0.60, 0.61, 0.62, 0.60, 0.61, 0.6], [0.50, 0.51, 0.50, 0.52, 0.5, 0.5]],
                            Design(max_seeds=8, min_effect=0.05))
    assert (better.outcome, better.seeds, [lk.seeds for lk in better.looks]) == ("better", 3, [3])
    assert (same.outcome, same.seeds, [lk.seeds for lk in same.looks]) == ("equivalent", 4, [3, 4])
    assert same.looks[0].outcome == "open" and same.looks[-1].eq_high < 0.05
    assert "Holm over 2 pairs" in better.method and "power family, rho 3" in better.method
    [open_] = decide(baseline[:4], [[0.5, 0.6, 0.4, 0.55]], Design(max_seeds=8, min_effect=0.01))
    assert open_.outcome == "open"  # 4 of 8 seeds: more may come
    [undecided] = decide(baseline[:4], [[0.5, 0.6, 0.4, 0.55]], Design.fixed(4, 0.01))
    assert undecided.outcome == "undecided" and len(undecided.looks) == 1
    [one_seed] = decide([0.5], [[0.6]], Design.fixed(1))
    assert one_seed.outcome == "undecided" and one_seed.looks == []


def test_an_auto_queue_trains_in_rounds_stops_when_decided_and_decides_again_without_training(tmp_path: Path) -> None:
    noise = [0.0, 0.02, -0.01, 0.015, -0.02, 0.01, 0.005, -0.005]
    b_noise = [0.01, -0.015, 0.02, 0.0, -0.01, 0.012, -0.004, 0.003]
    engine = InstantEngine(lambda cfg: 0.5 + (noise if cfg.framework == "keras" else b_noise)[cfg.seed - 1])
    design = Design(max_seeds=8, min_effect=0.05)
    base = RunConfig(data="sample", epochs=1, seed=0)
    heard: list = []
    first = run_comparison([("keras", "relu"), ("tensorflow", "relu")], list(range(1, 9)), base, heard.append,
                           runs_dir=tmp_path, train_fn=engine, design=design)
    runs = [(e.variant, e.seed) for e in heard if isinstance(e, QueueProgress)]
    [pair] = first.comparison.pairs
    n = pair.decision.seeds
    assert pair.decision.outcome == "equivalent" and 3 <= n < 8
    # Rounds: one seed of every variant each, alternating, up to the round that decided.
    assert runs == [(v, s) for s in range(1, n + 1) for v in ("keras:relu", "tensorflow:relu")]
    assert all(e.at_most and e.total == 16 for e in heard if isinstance(e, QueueProgress))
    looks = [e for e in heard if isinstance(e, LookTaken)]
    assert [e.round for e in looks] == list(range(3, n + 1)) and looks[-1].decided and not looks[0].decided
    saved = json.loads((first.folder / "comparison.json").read_text())
    decision = saved["pairs"][0]["decision"]
    assert (decision["outcome"], decision["seeds"]) == ("equivalent", n)
    assert [lk["seeds"] for lk in decision["looks"]] == list(range(3, n + 1)) and "sequential" in decision["method"]
    assert isinstance(saved["pairs"][0]["seeds_needed"], int)
    assert saved["settings"]["seeds"] == list(range(1, n + 1)) and saved["settings"]["max_seeds"] == 8
    assert "per_epoch" in saved and first.comparison.verdict.startswith("keras:relu and tensorflow:relu are equivalent")
    assert "run more seeds" not in first.comparison.verdict  # decided: more seeds would not change what matters
    # Nor does the printout's per-epoch line, whose CI holds 0: no difference, and an equivalence.
    printed = format_table(first.comparison)
    assert "run more seeds" not in printed
    assert "holds 0; no difference either way, and none of 5 points or more: equivalent within ±5" in printed

    again = run_comparison([("keras", "relu"), ("tensorflow", "relu")], list(range(1, 9)), base,
                           runs_dir=tmp_path, train_fn=engine, design=design)
    assert (again.trained, again.reused, again.folder) == (0, 2 * n, first.folder)
    assert json.loads((again.folder / "comparison.json").read_text())["pairs"] == saved["pairs"]
    assert len(engine.calls) == 2 * n


def test_an_auto_queue_that_cannot_decide_ends_undecided_at_max_seeds(tmp_path: Path) -> None:
    noise = [0.0, 0.03, -0.02, 0.025, -0.03, 0.01]
    engine = InstantEngine(lambda cfg: 0.5 + noise[cfg.seed - 1] * (1 if cfg.framework == "keras" else -1))
    heard: list = []
    result = run_comparison([("keras", "relu"), ("tensorflow", "relu")], list(range(1, 7)),
                            RunConfig(data="sample", epochs=1, seed=0), heard.append, runs_dir=tmp_path,
                            train_fn=engine, design=Design(max_seeds=6, min_effect=0.01))
    [pair] = result.comparison.pairs
    assert (pair.decision.outcome, pair.decision.seeds, result.trained) == ("undecided", 6, 12)
    assert [lk.outcome for lk in pair.decision.looks] == ["open"] * 3 + ["undecided"]
    last = [e for e in heard if isinstance(e, LookTaken)][-1]
    assert last.decided and look_summary(last) == "0 of 1 pair decided, 1 undecided at the most seeds, 6 per variant"
    assert "undecided after 6 seeds per variant" in result.comparison.verdict
    assert f"needs {pair.seeds_needed} seeds per variant" in result.comparison.verdict


def test_a_look_line_gives_each_open_pair_s_intervals_and_a_decided_pair_its_decision() -> None:
    from kvt_models.cli.printers import look_lines
    from kvt_models.events import PairLook

    def pair_look(seeds: int, outcome: str) -> PairLook:
        return PairLook(seeds, seeds, seeds, 0.01, 0.002, -0.03, 0.034, -0.02, 0.024, 0.8, 0.8, outcome, 0.05, 0.001)

    event = LookTaken(4, 8, [("keras:relu", "tensorflow:relu", pair_look(3, "equivalent")),
                             ("keras:relu", "keras:elu", pair_look(4, "open"))], decided=False)
    first, second = look_lines(event)
    assert first == "[LOOK] 4 of at most 8 seeds: tensorflow:relu - keras:relu: equivalent after 3 seeds"
    assert second == ("[LOOK] 4 of at most 8 seeds: keras:elu - keras:relu = +0.20 points; 99% CI [-3.00, +3.40] vs 0, "
                      "98% CI [-2.00, +2.40] vs ±5: open")
