"""A comparison's files (comparison.json, overlay.png, diff-*.png), and comparisons of runs made earlier.

``comparisons/<variants>-<hash of the settings>/`` in the runs dir: the same
inputs write the same folder, so a comparison run again replaces its files.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from kvt_models.compare.plan import VARIANT_KEYS
from kvt_models.compare.summary import Comparison, summarize
from kvt_models.errors import KvtError
from kvt_models.settings.config import RECORDING_KEYS
from kvt_models.store.atomic import atomic_write_json
from kvt_models.store.runs import RunRecord, read_run
from kvt_models.variants import all_variants, variant_name

COMPARISONS_DIR = "comparisons"


def write_comparison(comparison: Comparison, runs_root: Path) -> tuple[Path, dict[str, str]]:
    """comparison.json and overlay.png in ``<runs dir>/comparisons/<id>/``; same inputs, same folder."""
    names = "-vs-".join(v.variant.replace(":", "-") for v in comparison.variants)
    digest = hashlib.sha1(repr(sorted(comparison.settings.items())).encode()).hexdigest()[:6]
    folder = runs_root / COMPARISONS_DIR / f"{names}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    data = {"created": datetime.now().isoformat(timespec="seconds"), **comparison.to_json()}
    atomic_write_json(folder / "comparison.json", data)
    return folder, {"comparison": str(folder / "comparison.json"), **write_plots(comparison, folder)}


def write_plots(comparison: Comparison, folder: Path) -> dict[str, str]:
    """overlay.png and a diff-<A>-vs-<B>.png per pair in ``folder``: name -> path."""
    from kvt_models.plots import save_difference, save_overlay

    overlay = save_overlay(
        {v.variant: v.curves for v in comparison.variants}, folder / "overlay.png",
        title=f"Mean test accuracy and loss over {comparison.settings.get('seeds') and len(comparison.settings['seeds'])} seeds (± std)",
    )
    files = {"overlay": str(overlay)}
    several = len(comparison.per_epoch.pairs) > 1
    for index, pair in enumerate(comparison.per_epoch.pairs, start=1):
        name = f"diff-{pair.a.replace(':', '-')}-vs-{pair.b.replace(':', '-')}.png"
        files[f"diff {index}" if several else "diff"] = str(save_difference(pair, folder / name))
    return files


def group_runs(paths: Sequence[str | Path]) -> tuple[dict[str, list[RunRecord]], dict[str, Any]]:
    """Runs made earlier (any settings, any seeds) as a comparison's variant groups and settings.

    Groups are keyed ``framework:activation[@backend]`` in the canonical order of
    :func:`all_variants` (not the order of ``paths``), so pairs always read
    "b - a" the same way. In the settings, a setting the runs share is one
    value and one they differ in is the list of its values: differences are
    shown, not hidden. ``seeds`` lists the runs' seeds.
    Raises a one-line :class:`KvtError` for a folder that is not a run or a
    run with no finished epoch (it has no accuracy to compare).
    """
    groups: dict[str, list[RunRecord]] = {}
    seeds: set[int] = set()
    values: dict[str, list[Any]] = {}
    for path in paths:
        record = read_run(path)
        if not record.history:
            raise KvtError(f"run {record.run_id} has no finished epoch: unmark it, or resume it first (c)")
        cfg = record.config
        groups.setdefault(variant_name(cfg.get("framework", "?"), cfg.get("activation", "?"), record.backend),
                          []).append(record)
        if isinstance(cfg.get("seed"), int):
            seeds.add(cfg["seed"])
        for key, value in cfg.items():
            if key in VARIANT_KEYS or key in RECORDING_KEYS:
                continue
            known = values.setdefault(key, [])
            if value not in known:
                known.append(value)
    order = {v.name: i for i, v in enumerate(all_variants())}
    groups = dict(sorted(groups.items(), key=lambda item: order.get(item[0], len(order))))
    settings: dict[str, Any] = {k: (v[0] if len(v) == 1 else v) for k, v in values.items()}
    settings["seeds"] = sorted(seeds)
    return groups, settings


def compare_runs(paths: Sequence[str | Path], runs_dir: str | Path) -> tuple[Comparison, Path]:
    """Summarise finished runs (see :func:`group_runs`); comparison.json and overlay.png go under ``runs_dir``."""
    groups, settings = group_runs(paths)
    comparison = summarize(groups, settings)
    folder, _ = write_comparison(comparison, Path(runs_dir))
    return comparison, folder
