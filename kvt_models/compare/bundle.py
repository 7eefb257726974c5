"""An evidence bundle: a comparison as a folder to hand to a colleague or put in a paper.

``DIR/report.md`` (the verdict, the variants table, each pair's difference
with its interval, p and decision, the per-epoch table, the settings the
runs share and those they differ in, the runs, the environment and the
command line), ``DIR/table.tex`` (booktabs tables), the PNGs (overlay and
one difference plot per pair, by :mod:`kvt_models.plots`) and
``DIR/comparison.json``.

Everything is made again from the run folders the comparison names
(:func:`rebuild`), not copied from a comparison.json, so a bundle exported
later from the same runs says the same, and its numbers are those
``kvt-train compare`` prints (``format_table`` of the same comparison).
"""

from __future__ import annotations

import math
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from kvt_models.compare.environment import environment
from kvt_models.compare.files import write_plots
from kvt_models.compare.sequential import Design
from kvt_models.compare.stats import Stat, mean_std
from kvt_models.compare.summary import Comparison, PairSummary, summarize
from kvt_models.compare.verdict import VARIANT_COLUMNS, equivalence_margins, images_per_second
from kvt_models.errors import RunStoreError
from kvt_models.store.atomic import atomic_write_bytes, atomic_write_json
from kvt_models.store.differ import format_value, split_settings
from kvt_models.store.runs import RunRecord, read_run

REPORT = "report.md"
TABLE = "table.tex"
COMPARISON = "comparison.json"


def rebuild(comparison: Comparison) -> tuple[Comparison, dict[str, list[RunRecord]]]:
    """The comparison made again from the run folders it names, with its own settings and decision rule."""
    groups = {v.variant: [read_run(path) for path in v.runs] for v in comparison.variants}
    settings = dict(comparison.settings)
    design = None
    if "min_effect" in settings:  # a queue's: its design, as kvt-train compare made it
        min_effect = float(settings["min_effect"]) / 100
        design = (Design(max_seeds=int(settings["max_seeds"]), min_effect=min_effect) if "max_seeds" in settings
                  else Design.fixed(len(settings.get("seeds") or []) or 1, min_effect))
    return summarize(groups, settings, design), groups


def equivalent_command(comparison: Comparison) -> str:
    """The ``kvt-train compare`` line that makes (or reuses) these runs again."""
    s = comparison.settings
    words = ["kvt-train", "compare", *(v.variant for v in comparison.variants)]
    seeds = s.get("seeds") or []
    if "max_seeds" in s:
        words += ["--seeds", "auto", "--max-seeds", str(s["max_seeds"])]
    elif seeds:
        words += ["--seeds", ",".join(map(str, seeds))]
    for key, flag in (("data", "--data"), ("recipe", "--recipe"), ("epochs", "--epochs"), ("batch_size", "--batch-size"),
                      ("lr", "--lr"), ("train_limit", "--train-limit"), ("test_limit", "--test-limit"),
                      ("min_effect", "--min-effect")):
        value = s.get(key)
        if value is not None and not isinstance(value, list):
            words += [flag, format_value(value)]
    return shlex.join(words)


def export_bundle(comparison: Comparison, dest: Path, *, command: Sequence[str] | None = None) -> dict[str, str]:
    """Write the bundle into ``dest`` (made if needed; its files replaced); name -> path of what was written."""
    dest = Path(dest).expanduser()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunStoreError(f"cannot create the export folder {dest}: {exc.strerror or exc}; pass --export with "
                            "a writable folder") from exc
    fresh, groups = rebuild(comparison)
    runs = [run for name in groups for run in groups[name]]
    shared, differing = split_settings([run.config for run in runs])
    env = environment(run.versions for run in runs)
    created = datetime.now().isoformat(timespec="seconds")
    ran = shlex.join(command) if command else None
    atomic_write_json(dest / COMPARISON, {"created": created, **fresh.to_json(), "environment": env,
                                          "command": ran, "equivalent_command": equivalent_command(fresh)})
    files = {"comparison": str(dest / COMPARISON)}
    files.update(write_plots(fresh, dest))
    atomic_write_bytes(dest / TABLE, latex_tables(fresh).encode())
    files["table"] = str(dest / TABLE)
    report = markdown_report(fresh, runs, shared, differing, env, created, ran, [Path(p).name for p in files.values()])
    atomic_write_bytes(dest / REPORT, report.encode())
    return {"report": str(dest / REPORT), **files}


# -- the numbers, as every table shows them ------------------------------------------------
def _ci(p: PairSummary) -> str:
    return "n/a" if math.isnan(p.ci95[0]) else f"{p.ci95[0] * 100:+.2f} to {p.ci95[1] * 100:+.2f}"


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _decision(p: PairSummary) -> str:
    return f"{p.decision.outcome} after {p.decision.seeds} seeds" if p.decision is not None and p.decision.looks else "-"


def _variant_cells(comparison: Comparison) -> list[list[str]]:
    return [[v.variant, str(v.final_accuracy.n), mean_std(v.final_accuracy), mean_std(v.best_accuracy),
             images_per_second(v), "-" if math.isnan(v.seconds_per_epoch) else f"{v.seconds_per_epoch:.1f}",
             f"{v.params:,}"] for v in comparison.variants]


def _pair_cells(comparison: Comparison) -> list[list[str]]:
    return [[f"{p.b} - {p.a}", f"{p.diff * 100:+.2f}", _ci(p), _p(p.p_value), _p(p.p_holm), _decision(p),
             "-" if p.seeds_needed is None else str(p.seeds_needed)] for p in comparison.pairs]


PAIR_COLUMNS = ("pair (B - A)", "diff (points)", "95% CI (points)", "Welch p", "Holm p", "decision", "seeds needed")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(r) for r in rows)]


def markdown_report(comparison: Comparison, runs: list[RunRecord], shared: dict[str, Any],
                    differing: dict[str, list[Any]], env: dict[str, Any], created: str, ran: str | None,
                    files: list[str]) -> str:
    names = " vs ".join(v.variant for v in comparison.variants)
    out = [f"# {names}", "", f"Exported {created} by kvt {env['kvt']}, from {len(runs)} run folders.", "",
           comparison.verdict, "", "## Variants", "", "Test accuracy in points, mean ± sd over the seeds.", ""]
    out += _md_table(VARIANT_COLUMNS, _variant_cells(comparison))
    if comparison.pairs:
        out += ["", "## Differences", "", "Each variant against the first: final test accuracy, B - A.", ""]
        out += _md_table(PAIR_COLUMNS, _pair_cells(comparison))
    margins = equivalence_margins(comparison.pairs)
    for pair in comparison.per_epoch.pairs:
        out += ["", f"## Per epoch: A = {pair.a}, B = {pair.b}", "", "Test accuracy in points; n = seeds with that epoch.", ""]
        rows = []
        for e in pair.epochs:
            rows.append([str(e.epoch), f"{e.n_a}/{e.n_b}", mean_std(Stat([], e.mean_a, e.sd_a, e.n_a)),
                         mean_std(Stat([], e.mean_b, e.sd_b, e.n_b)),
                         "n/a" if math.isnan(e.diff) else f"{e.diff * 100:+.2f}",
                         "n/a" if not e.has_stats else f"{e.ci_low * 100:+.2f} to {e.ci_high * 100:+.2f}", _p(e.p_value)])
        out += _md_table(("epoch", "n A/B", "A mean ± sd", "B mean ± sd", "B - A", "95% CI", "p"), rows)
        out += ["", pair.line(margins.get((pair.a, pair.b)))]
    out += ["", "## Settings", "", "Shared by every run:", ""]
    out += _md_table(("setting", "value"), [[k, format_value(v)] for k, v in shared.items()])
    out += ["", "Differing between runs (one column per run):", ""]
    labels = [f"{run.run_id}" for run in runs]
    out += _md_table(("setting", *labels), [[k, *map(format_value, v)] for k, v in differing.items()])
    out += ["", "## Runs", ""]
    out += _md_table(("variant", "seed", "run", "status", "epochs"),
                     [[n, str(r.config.get("seed", "?")), r.run_id, r.status, f"{r.epochs_done}/{r.epochs_total}"]
                      for n, v in ((v.variant, v) for v in comparison.variants)
                      for r in runs if str(r.path) in v.runs])
    cpu = env["cpu"]
    out += ["", "## Environment", "",
            f"- CPU (the exporting machine): {cpu['model']}; {cpu['cores']} cores ({cpu['usable']} usable); "
            f"flags: {' '.join(cpu['flags']) or '-'}",
            f"- kvt {env['kvt']}, Python {env['python']}, {env['platform']}"]
    out += ["- runtime: " + ", ".join(f"{k} {v}" for k, v in versions.items()) for versions in env["runtimes"]]
    out += ["", "## Command line", ""]
    if ran:
        out += ["Ran as:", "", "```", ran, "```", ""]
    out += ["The same runs again (finished runs are reused, so this only reads them):", "", "```",
            equivalent_command(comparison), "```", "", "## Files", ""]
    out += [f"- `{name}`" for name in ["report.md", *files]]
    return "\n".join(out) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _pm(stat: Stat) -> str:
    if math.isnan(stat.mean):
        return "--"
    return f"${stat.mean * 100:.2f}$" if math.isnan(stat.std) else f"${stat.mean * 100:.2f} \\pm {stat.std * 100:.2f}$"


def latex_tables(comparison: Comparison) -> str:
    """Two booktabs tables (``\\usepackage{booktabs}``): the variants, then each pair's difference."""
    s = comparison.settings
    seeds = s.get("seeds") or []
    lines = ["% Made by kvt from the run folders (kvt_models.compare.bundle); needs \\usepackage{booktabs}.",
             "\\begin{table}[t]", "\\centering",
             f"\\caption{{MiniVGGNet on {tex(str(s.get('data', '?')))}, {tex(str(s.get('epochs', '?')))} "
             f"epoch{'' if s.get('epochs') == 1 else 's'}, "
             f"{len(seeds)} seeds per variant: test accuracy (\\%), mean $\\pm$ sd.}}",
             "\\begin{tabular}{lrrrrr}", "\\toprule",
             "Variant & $n$ & Final acc.\\ (\\%) & Best acc.\\ (\\%) & img/s & Params \\\\", "\\midrule"]
    for v in comparison.variants:
        lines.append(f"\\texttt{{{tex(v.variant)}}} & {v.final_accuracy.n} & {_pm(v.final_accuracy)} & "
                     f"{_pm(v.best_accuracy)} & {images_per_second(v)} & {v.params:,} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if comparison.pairs:
        lines += ["", "\\vspace{1em}", "\\begin{tabular}{lrrrl}", "\\toprule",
                  "B $-$ A & Diff.\\ (points) & 95\\% CI & $p$ & Decision \\\\", "\\midrule"]
        for p in comparison.pairs:
            ci = "n/a" if math.isnan(p.ci95[0]) else f"$[{p.ci95[0] * 100:+.2f}, {p.ci95[1] * 100:+.2f}]$"
            pv = _p(p.p_holm if not math.isnan(p.p_holm) else p.p_value)
            lines.append(f"\\texttt{{{tex(p.b)}}} $-$ \\texttt{{{tex(p.a)}}} & ${p.diff * 100:+.2f}$ & {ci} & "
                         f"{pv} & {tex(_decision(p))} \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
    lines += ["\\end{table}"]
    return "\n".join(lines) + "\n"
