"""PNG export with matplotlib's Agg renderer (no display needed over SSH).

``save_curves`` draws the figure of the 2018 post (its Figures 6 and 8):
training and validation loss and accuracy per epoch on one axes.

Every figure is a :class:`matplotlib.figure.Figure` of its own on its own
Agg canvas, never made through ``pyplot``: pyplot keeps one global "current
figure" and a registry of open figures, and the app's export worker and
compare worker may draw at the same time from two threads. The one global
left is ``rcParams``, which a style (ggplot) changes for as long as it is in
force and which a figure reads as it is built: one lock lets one figure at a
time be built and saved.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from kvt_models.store.atomic import atomic_save
from kvt_models.store.runs import CONFUSION_FILE, CURVES_FILE, read_run

_RC_PARAMS = threading.Lock()


@contextlib.contextmanager
def _drawing(style: str | None = None) -> Iterator[None]:
    """Build and save one figure inside: matplotlib's global rcParams are ours meanwhile."""
    import matplotlib.style

    with _RC_PARAMS, (matplotlib.style.context(style) if style else contextlib.nullcontext()):
        yield


def _figure(width: float, height: float) -> Any:
    """A new Figure on its own Agg canvas; nothing global is registered."""
    # Deferred: matplotlib takes ~0.3 s to import, and the app starts without it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig: Any, path: Path) -> Path:
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def save_curves(history: Sequence[dict[str, float]], path: str | Path, title: str = "Training Loss and Accuracy") -> Path:
    """Write the loss/accuracy curves of ``history`` (rows of history.csv) to ``path``."""
    path = Path(path)
    epochs = [int(r["epoch"]) for r in history]
    with _drawing("ggplot"):
        fig = _figure(8, 5.5)
        ax = fig.subplots()
        for key, label in (
            ("loss", "train_loss"),
            ("val_loss", "val_loss"),
            ("accuracy", "train_acc"),
            ("val_accuracy", "val_acc"),
        ):
            ax.plot(epochs, [r[key] for r in history], marker="o" if len(epochs) < 15 else None, label=label)
        ax.set_title(title)
        from matplotlib.ticker import MaxNLocator

        ax.set_xlabel("Epoch #")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Loss/Accuracy")
        if epochs:
            ax.set_xlim(min(epochs) - 0.2, max(epochs) + 0.2)
        ax.legend(loc="upper right" if len(epochs) < 3 else "center right")
        fig.tight_layout()
        return _save_png(fig, path)


def save_confusion(confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = "Confusion matrix (test set)") -> Path:
    path = Path(path)
    n = len(class_names)
    size = max(5.0, 0.6 * n + 2)
    with _drawing():
        fig = _figure(size, size * 0.85)
        ax = fig.subplots()
        im = ax.imshow(confusion, cmap="Blues")
        ax.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
        ax.set_yticks(range(n), labels=class_names)
        ax.set_xlabel("Predicted")
        ax.set_ylabel("True")
        ax.set_title(title)
        peak = max((max(row) for row in confusion), default=0) or 1
        if n <= 20:
            for i, row in enumerate(confusion):
                for j, value in enumerate(row):
                    ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                            color="white" if value > peak / 2 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        fig.tight_layout()
        return _save_png(fig, path)


def export_run_pngs(run_dir: str | Path) -> list[Path]:
    """(Re)write curves.png and confusion.png for a run folder; return what was written."""
    run = read_run(run_dir)
    title = f"Training Loss and Accuracy ({run.config.get('framework')} + {run.config.get('activation')})"
    written = []
    if run.history:
        written.append(save_curves(run.history, run.path / CURVES_FILE, title))
    if run.confusion and run.class_names:
        written.append(save_confusion(run.confusion, run.class_names, run.path / CONFUSION_FILE))
    return written


def save_overlay(curves: dict[str, dict[str, list[float]]], path: str | Path, title: str = "") -> Path:
    """Mean test accuracy and loss per epoch for each variant, with a +-1 std band."""
    path = Path(path)
    with _drawing("ggplot"):
        fig = _figure(11, 4.8)
        ax_acc, ax_loss = fig.subplots(1, 2)
        for name, c in curves.items():
            epochs = list(range(1, len(c.get("val_accuracy_mean", [])) + 1))
            for ax, key in ((ax_acc, "val_accuracy"), (ax_loss, "val_loss")):
                mean, std = c.get(f"{key}_mean", []), c.get(f"{key}_std", [])
                (line,) = ax.plot(epochs, mean, label=name, marker="o" if len(epochs) < 15 else None)
                ax.fill_between(epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                                color=line.get_color(), alpha=0.2)
        ax_acc.set_title("test accuracy (mean ± std)")
        ax_loss.set_title("test loss (mean ± std)")
        from matplotlib.ticker import MaxNLocator

        for ax in (ax_acc, ax_loss):
            ax.set_xlabel("Epoch #")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save_png(fig, path)


def save_difference(pair: Any, path: str | Path) -> Path:
    """B - A per epoch (a :class:`kvt_models.compare.settling.PairTrajectory`), its 95% CI band and the zero line."""
    import math

    path = Path(path)
    diff = [(e.epoch, e.diff * 100) for e in pair.epochs if not math.isnan(e.diff)]
    band = [e for e in pair.epochs if e.has_stats]
    with _drawing("ggplot"):
        fig = _figure(8, 4.8)
        ax = fig.subplots()
        ax.axhline(0.0, color="black", linewidth=1, label="no difference")
        if band:
            ax.fill_between([e.epoch for e in band], [e.ci_low * 100 for e in band], [e.ci_high * 100 for e in band],
                            alpha=0.25, label="95% CI (Welch)")
        ax.plot([x for x, _ in diff], [y for _, y in diff], marker="o" if len(diff) < 15 else None,
                label=f"{pair.b} - {pair.a}")
        if pair.settled_from is not None:
            ax.axvline(pair.settled_from, linestyle="--", linewidth=1, color="gray",
                       label=f"settled from epoch {pair.settled_from}")
        from matplotlib.ticker import MaxNLocator

        ax.set_xlabel("Epoch #")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Test accuracy difference (points)")
        seeds = f"n = {band[-1].n_a}/{band[-1].n_b} seeds" if band else "a CI needs 2+ seeds of each"
        ax.set_title(f"{pair.b} - {pair.a} per epoch ({seeds})")
        ax.legend()
        fig.tight_layout()
        return _save_png(fig, path)
