"""A comparison in words and in a plain-text table: the verdict sentence and what ``kvt-train compare`` prints.

Plain strings only (no Rich): the engine prints them, the app shows the
verdict as is and builds its own tables from the same numbers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kvt_models.compare.settling import format_trajectories
from kvt_models.compare.stats import Stat, mean_std, points

if TYPE_CHECKING:
    from kvt_models.compare.settling import Trajectories
    from kvt_models.compare.summary import Comparison, PairSummary, VariantSummary

# The headers of a comparison's table of variants: kvt-train compare's (format_table) and the app's.
VARIANT_COLUMNS: tuple[str, ...] = ("variant", "n", "final acc %", "best acc %", "img/s", "s/epoch", "params")


def verdict(variants: list[VariantSummary], pairs: list[PairSummary], per_epoch: Trajectories | None = None) -> str:
    """Plain sentences about the best-separated pair (or the only one), and whether its lead ever changed."""
    if not pairs:
        return "Only one variant: nothing to compare."
    several = len(pairs) > 1

    def decisive(p: PairSummary) -> float:
        return p.p_holm if several else p.p_value

    pair = min(pairs, key=lambda p: (math.isnan(decisive(p)), decisive(p)))
    n = min(v.final_accuracy.n for v in variants if v.variant in (pair.a, pair.b))
    better, worse = (pair.b, pair.a) if pair.diff >= 0 else (pair.a, pair.b)
    lead = abs(pair.diff) * 100
    if math.isnan(pair.p_value):
        text = (f"{better} is {lead:.1f} points better than {worse} on one seed each; "
                "that says nothing about noise: run at least 2 seeds (3 or more is better).")
    else:
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        ci = f"95% CI {pair.ci95[0] * 100:+.1f} to {pair.ci95[1] * 100:+.1f} points for {pair.b} - {pair.a}"
        p_text = (f"Holm-corrected p={decisive(pair):.3f} over {len(pairs)} comparisons with {pair.a}"
                  if several else f"p={pair.p_value:.3f}")
        if lead < 0.05:
            text = f"{pair.a} and {pair.b} score the same on average over {seeds} ({p_text}; {ci})."
        elif pair.significant:
            text = f"{better} is {lead:.1f} points better than {worse}, and with {seeds} that is significant ({p_text}; {ci})."
        else:
            # An equivalent pair is decided: more seeds would not change what matters.
            advice = ("" if pair.decision is not None and pair.decision.outcome == "equivalent"
                      else "; run more seeds")
            text = (f"{better} is {lead:.1f} points better than {worse}, but with {seeds} that is not significant "
                    f"({p_text}; {ci}){advice}.")
    trajectory = next((t for t in (per_epoch.pairs if per_epoch else []) if (t.a, t.b) == (pair.a, pair.b)), None)
    if trajectory is not None and trajectory.lead_changed_at is not None:
        text += (f" The lead changed at epoch {trajectory.lead_changed_at} of {len(trajectory.epochs)}; "
                 "longer training may change the answer.")
    # Only where a test could run (2+ seeds a side): with one seed the sentence above says what to do.
    decided = [decision_sentence(p) for p in pairs if p.decision is not None and p.decision.looks]
    if decided:
        method = next(p.decision.method for p in pairs if p.decision is not None)
        decided.append(f"Method: {method}.")
        sequential = any(p.decision.sequential for p in pairs if p.decision is not None)
        # A sequential comparison is about its decisions: they come first.
        text = " ".join(decided) + " " + text if sequential else text + " " + " ".join(decided)
    return text


def _level(alpha: float) -> str:
    """``99.74%`` for 0.0026: enough digits to tell the looks' levels apart."""
    return f"{(1 - alpha) * 100:.4g}%"


def decision_sentence(pair: PairSummary) -> str:
    """One pair's decision, its interval against the boundaries, and the seeds a fixed-n test would need."""
    decision, last = pair.decision, pair.decision.last if pair.decision else None
    assert decision is not None
    n = decision.seeds
    seeds = f"{n} seed{'s' if n != 1 else ''} per variant"
    name = f"{pair.b} - {pair.a}"
    if last is None:
        text = f"{pair.b} vs {pair.a}: undecided with {seeds} (a test needs 2 or more)."
    else:
        pts = last.min_effect * 100
        ci = f"{_level(last.alpha)} CI {last.ci_low * 100:+.2f} to {last.ci_high * 100:+.2f}"
        eq = f"{_level(2 * last.alpha)} CI {last.eq_low * 100:+.2f} to {last.eq_high * 100:+.2f}"
        if decision.outcome in ("better", "worse"):
            better, worse = (pair.b, pair.a) if last.diff > 0 else (pair.a, pair.b)
            text = (f"{better} is better than {worse}: {name} = {last.diff * 100:+.2f} points ({ci} excludes 0), "
                    f"decided after {seeds}.")
        elif decision.outcome == "equivalent":
            real = " (the difference is real, its CI excludes 0, but smaller than that)" if (
                last.ci_low > 0 or last.ci_high < 0) else ""
            text = (f"{pair.a} and {pair.b} are equivalent within ±{points(pts)}: {name} = {last.diff * 100:+.2f} "
                    f"({eq} lies inside ±{pts:g}){real}, decided after {seeds}.")
        else:
            state = "still open" if decision.outcome == "open" else "undecided"
            estimate = (f"{pair.diff * 100:+.2f} points, 95% CI {pair.ci95[0] * 100:+.2f} to {pair.ci95[1] * 100:+.2f}"
                        if not math.isnan(pair.ci95[0]) else f"{pair.diff * 100:+.2f} points")
            text = (f"{name}: {state} after {seeds}: {estimate} (the {ci} holds 0 and the {eq} is not "
                    f"within ±{pts:g}).")
        if pair.seeds_needed is not None:
            text += (f" At this noise a fixed comparison needs {pair.seeds_needed} seeds per variant to detect "
                     f"{points(pts)} with 80% power.")
    return text


def decision_cells(p: PairSummary) -> str:
    """``; undecided after 3 seeds; seeds needed for 1 point: 12`` for the CLI's pair lines."""
    if p.decision is None:
        return ""
    text = f"; {p.decision.outcome} after {p.decision.seeds} seeds"
    if p.seeds_needed is not None and p.decision.last is not None:
        text += f"; seeds needed for {points(p.decision.last.min_effect * 100)}: {p.seeds_needed}"
    return text


def equivalence_margins(pairs: list[PairSummary]) -> dict[tuple[str, str], float]:
    """(A, B) -> the margin in points, for each pair whose decision is "equivalent"."""
    return {(p.a, p.b): p.decision.last.min_effect * 100 for p in pairs
            if p.decision is not None and p.decision.outcome == "equivalent" and p.decision.last is not None}


def images_per_second(v: VariantSummary) -> str:
    """``612``: a variant's training speed as the tables show it; ``-`` for runs that did not record it."""
    return "-" if math.isnan(v.images_per_second) else f"{v.images_per_second:,.0f}"


def format_table(comparison: Comparison) -> str:
    """The plain-text table kvt-train prints (no Rich in the engine)."""
    def pm(stat: Stat) -> str:
        return mean_std(stat, aligned=True)

    rows = [VARIANT_COLUMNS]
    for v in comparison.variants:
        rows.append((v.variant, str(v.final_accuracy.n), pm(v.final_accuracy), pm(v.best_accuracy),
                     images_per_second(v), f"{v.seconds_per_epoch:.1f}", f"{v.params:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for p in comparison.pairs:
        ci = "n/a" if math.isnan(p.ci95[0]) else f"[{p.ci95[0] * 100:+.2f}, {p.ci95[1] * 100:+.2f}]"
        pv = "n/a" if math.isnan(p.p_value) else f"{p.p_value:.3f}"
        holm_text = "" if math.isnan(p.p_holm) else f" (Holm-corrected {p.p_holm:.3f})"
        lines.append(f"{p.b} - {p.a}: {p.diff * 100:+.2f} points, 95% CI {ci}, Welch p = {pv}{holm_text}"
                     + decision_cells(p))
    if comparison.per_epoch.pairs:
        lines += ["", format_trajectories(comparison.per_epoch, equivalence_margins(comparison.pairs))]
    return "\n".join(lines)
