"""``kvt-train runs`` and ``kvt-train show``: find runs without the app, and read one or several.

``runs`` lists the runs dir newest first (the rows of
:mod:`kvt_models.store.catalog`, filtered by the search rule the app's
filter box uses); on a terminal as an aligned table cut to its width, in a
pipe as tab-separated columns, and as JSON with ``--json``. ``show`` prints
one run's settings, history, report and files; with several runs, the
settings they differ in, then their metrics side by side. Plain text only:
the engine never imports Rich.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO

from kvt_models.cli.parsers import Parser
from kvt_models.cli.printers import say
from kvt_models.errors import EXIT_OK, EXIT_USAGE, KvtError
from kvt_models.paths import default_runs_dir
from kvt_models.settings import options, sharing
from kvt_models.settings.options import add_flag, flag_type
from kvt_models.store.catalog import COLUMNS, DAMAGED, RunRow, list_rows, row_of, select, sort_rows
from kvt_models.store.differ import format_value, split_settings
from kvt_models.store.runs import HISTORY_COLUMNS, REPORT_FILE, read_history, read_json


def build_runs_parser() -> argparse.ArgumentParser:
    p = Parser(prog="kvt-train runs", description="List the runs in the runs dir, newest first.")
    add_flag(p, sharing.RUN_STATE, default=None)
    p.add_argument(sharing.TAG.flag, dest="tags", action="append", default=[], type=flag_type(sharing.TAG),
                   metavar=sharing.TAG.metavar, help="only runs with this tag (repeat: runs with every one)")
    add_flag(p, sharing.SEARCH)
    add_flag(p, sharing.SORT)
    p.add_argument("--json", action="store_true", help="print the runs as a JSON list, for scripts")
    add_flag(p, options.RUNS_DIR)
    return p


def build_show_parser() -> argparse.ArgumentParser:
    p = Parser(prog="kvt-train show", description="Print a run: settings, history, report, files. With several: "
               "the settings they differ in, then their metrics side by side.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="a run folder, or a run's id (or a unique part of it) "
                   "in the runs dir")
    add_flag(p, options.RUNS_DIR)
    return p


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.2f}"


def _speed(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def row_cells(row: RunRow) -> list[str]:
    """A run's cells under :data:`COLUMNS`."""
    return [row.run_id, row.variant, row.backend, row.recipe, row.status, f"{row.epochs_done}/{row.epochs_total}",
            _percent(row.best_accuracy), _percent(row.final_accuracy), _speed(row.images_per_second),
            ",".join(row.tags), row.note]


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool] = ()) -> list[str]:
    """Plain aligned columns, two spaces apart, a rule under the header; ``right`` says which columns are numbers."""
    table = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    flags = list(right) + [False] * (len(header) - len(right))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if flags[i] else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(table[0]), "  ".join("-" * w for w in widths), *(line(r) for r in table[1:])]


def runs_main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_runs_parser().parse_args(list(argv))
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE
    root = Path(args.runs_dir) if args.runs_dir else default_runs_dir()
    rows = sort_rows(select(list_rows(root), status=args.status, tags=args.tags, search=args.search), args.sort)
    if args.json:
        say(out, json.dumps([row.to_json() for row in rows], indent=2, allow_nan=False))
        return EXIT_OK
    cells = [row_cells(row) for row in rows]
    if not out.isatty():
        # A pipe: one run a line, tab-separated, nothing cut, for cut/awk/grep.
        # say: a reader that goes away (| head) ends the output, not with a traceback.
        say(out, "\n".join(["\t".join(COLUMNS), *("\t".join(c.replace("\t", " ") for c in r) for r in cells)]))
        return EXIT_OK
    if not rows:
        say(out, f"no runs in {root}" + (" match" if args.status or args.tags or args.search else ""))
        return EXIT_OK
    width = shutil.get_terminal_size().columns
    right = [False] * 5 + [True] * 4
    lines = [line[:width] for line in aligned(COLUMNS, cells, right=right)]
    lines += [f"{row.run_id}: {row.problem}" for row in rows if row.status == DAMAGED]
    say(out, "\n".join(lines))
    return EXIT_OK


def resolve_run(text: str, root: Path) -> Path:
    """A run folder from a path, a run id in ``root``, or a unique part of one; one-line KvtError if none or several."""
    for candidate in (Path(text).expanduser(), root / text):
        if candidate.is_dir() and row_of(candidate) is not None:
            return candidate
    found = [p for p in (sorted(root.iterdir()) if root.is_dir() else []) if text in p.name and row_of(p) is not None]
    if len(found) == 1:
        return found[0]
    if not found:
        raise KvtError(f"no run {text!r} in {root}: give a run folder or a run id (kvt-train runs lists them)")
    raise KvtError(f"{len(found)} runs in {root} match {text!r} ({', '.join(p.name for p in found[:3])}"
                   f"{', ...' if len(found) > 3 else ''}): give more of the id")


def show_main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_show_parser().parse_args(list(argv))
        root = Path(args.runs_dir) if args.runs_dir else default_runs_dir()
        paths = list(dict.fromkeys(resolve_run(text, root) for text in args.runs))
    except KvtError as exc:
        print(f"kvt-train: error: {exc}", file=err)
        return EXIT_USAGE
    rows = [row_of(path) for path in paths]
    text = show_one(rows[0]) if len(rows) == 1 else show_several([r for r in rows if r is not None])
    say(out, text)
    return EXIT_OK


def _heading(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}"


def show_one(row: RunRow | None) -> str:
    assert row is not None
    lines = [f"run {row.run_id}", f"  path     {row.path}", f"  status   {row.status}"
             + (f" ({row.info.message})" if row.info is not None and row.info.message else ""),
             f"  variant  {row.variant}", f"  created  {row.created or '-'}",
             f"  tags     {', '.join(row.tags) or '-'}", f"  note     {row.note or '-'}"]
    if row.problem:
        lines.append(f"  damaged  {row.problem}")
    if row.info is None:
        return "\n".join(lines)
    lines.append(_heading("settings"))
    settings = {**row.info.config, "params": row.info.params, "train images": row.info.train_samples,
                **{f"version {k}": v for k, v in row.info.versions.items()}}
    width = max(map(len, settings), default=0)
    lines += [f"  {key:<{width}}  {format_value(value)}" for key, value in settings.items()]
    history = read_history(row.path)
    lines.append(_heading(f"history ({len(history)} of {row.epochs_total} epochs)"))
    if history:
        cells = [[str(r["epoch"]), *(f"{r[k]:.4f}" for k in HISTORY_COLUMNS[1:5]), f"{r['lr']:.6g}",
                  f"{r['seconds']:.1f}"] for r in history]
        lines += ["  " + line for line in aligned(HISTORY_COLUMNS[:7], cells, right=[True] * 7)]
    else:
        lines.append("  no finished epoch")
    report = read_json(row.path / REPORT_FILE)
    lines.append(_heading(f"report (epoch {report.get('epoch', '?')})" if isinstance(report, dict) else "report"))
    lines += ["  " + line for line in report_lines(report)] if isinstance(report, dict) else ["  none"]
    lines.append(_heading("files"))
    files = sorted(p for p in row.path.iterdir() if p.is_file() and not p.name.startswith("."))
    lines += [f"  {p.name:<40} {_size(p.stat().st_size):>9}" for p in files]
    return "\n".join(lines)


def report_lines(report: dict[str, Any]) -> list[str]:
    """report.json's classification report as sklearn prints it (precision, recall, f1, support per class)."""
    scores = report.get("report") or {}
    names = [n for n in (report.get("class_names") or []) if isinstance(scores.get(n), dict)]
    names += [n for n in ("macro avg", "weighted avg") if isinstance(scores.get(n), dict)]
    cells = []
    for name in names:
        s = scores[name]
        cells.append([name, *(f"{float(s.get(k, math.nan)):.2f}" for k in ("precision", "recall", "f1-score")),
                      str(int(s.get("support", 0)))])
    lines = aligned(["class", "precision", "recall", "f1-score", "support"], cells, right=[False, True, True, True, True])
    if isinstance(scores.get("accuracy"), (int, float)):
        lines.append(f"accuracy {scores['accuracy']:.4f}")
    return lines


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def show_several(rows: list[RunRow]) -> str:
    labels = [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(rows))]
    lines = ["runs"] + [f"  {label}  {row.run_id}  {row.variant}  {row.status}"
                        + (f"  [{', '.join(row.tags)}]" if row.tags else "") + (f"  {row.note}" if row.note else "")
                        for label, row in zip(labels, rows)]
    readable = [(label, row) for label, row in zip(labels, rows) if row.info is not None]
    for label, row in zip(labels, rows):
        if row.problem:
            lines.append(f"  {label} is damaged: {row.problem}")
    configs = [row.info.config for _, row in readable if row.info is not None]
    shared, differing = split_settings(configs)
    lines.append(_heading("settings that differ"))
    if differing:
        cells = [[key, *(format_value(v) for v in values)] for key, values in differing.items()]
        lines += ["  " + line for line in aligned(["setting", *(label for label, _ in readable)], cells)]
    else:
        lines.append("  none: the runs share every setting")
    lines.append(f"  shared: {', '.join(f'{k}={format_value(v)}' for k, v in shared.items()) or '-'}")
    lines.append(_heading("metrics"))
    histories = [read_history(row.path) for _, row in readable]

    def per_run(fn: Any) -> list[str]:
        return [fn(row, history) for (_, row), history in zip(readable, histories)]

    metrics = [
        ("status", per_run(lambda r, h: r.status)),
        ("epochs", per_run(lambda r, h: f"{r.epochs_done}/{r.epochs_total}")),
        ("final test acc %", per_run(lambda r, h: _percent(r.final_accuracy))),
        ("best test acc %", per_run(lambda r, h: _percent(r.best_accuracy))),
        ("final test loss", per_run(lambda r, h: f"{h[-1]['val_loss']:.4f}" if h else "-")),
        ("final train acc %", per_run(lambda r, h: _percent(h[-1]["accuracy"]) if h else "-")),
        ("img/s", per_run(lambda r, h: _speed(r.images_per_second))),
        ("s/epoch", per_run(lambda r, h: f"{sum(x['seconds'] for x in h) / len(h):.1f}" if h else "-")),
        ("params", per_run(lambda r, h: f"{r.info.params:,}" if r.info is not None else "-")),
    ]
    header = ["metric", *(label for label, _ in readable)]
    lines += ["  " + line for line in aligned(header, [[name, *values] for name, values in metrics],
                                              right=[False] + [True] * len(readable))]
    depth = max((len(h) for h in histories), default=0)
    if depth:
        lines.append(_heading("test accuracy % per epoch"))
        cells = [[str(epoch), *(_percent(h[epoch - 1]["val_accuracy"]) if len(h) >= epoch else "-" for h in histories)]
                 for epoch in range(1, depth + 1)]
        lines += ["  " + line for line in aligned(["epoch", *(label for label, _ in readable)], cells,
                                                  right=[True] * (len(readable) + 1))]
    return "\n".join(lines)
