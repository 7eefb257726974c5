"""The Compare tab: pick variants and seeds, then run the queue (``g``).

Every chosen ``framework:activation[@backend]`` trains once per seed: a
count K means seeds 1..K, a list such as ``1,5,9`` those seeds (the rule of
``kvt-train compare --seeds``, :data:`kvt_models.settings.options.SEEDS`),
with the data, recipe, epochs, batch, LR and limits of the configuration
form; no ``@`` means Keras 3 on TensorFlow, as on the command line. Variants
on a runtime that is not installed are greyed out. "Until decided" (or
``auto`` typed as the seeds) is ``--seeds auto``: a seed of every variant
per round until each pair is decided or Max seeds, with Min effect the
difference that matters (``--max-seeds``, ``--min-effect``; Min effect also
sizes the seeds-needed figure of a fixed-seed comparison). This widget
collects the choice and shows where the queue is ("run i of n") and, for an
until-decided queue, each round's look (:mod:`.decision_rounds`); the app
runs the queue on a worker and shows the results on a screen of their own
(:class:`~kvt_tui.screens.comparison.CompareScreen`).
"""

from __future__ import annotations

import importlib.util
from typing import Callable, NamedTuple

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Static
from textual.widgets.selection_list import Selection

from kvt_models.backend import runtime
from kvt_models.errors import ConfigError, KvtError
from kvt_models.events import LookTaken, QueueProgress
from kvt_models.settings.options import AUTO_SEEDS, CPUS_PER_RUN, MAX_SEEDS, MIN_EFFECT, RAY, SEEDS
from kvt_models.variants import Variant, all_variants

from ..jobs import RayChoice
from .decision_rounds import LOOK_COLUMNS, DecisionRounds, look_row
from .selection_list import KvtSelectionList
from .table import KvtTable

DEFAULT_VARIANTS = ("keras:relu", "tensorflow:crelu")


def ray_installed() -> bool:
    """Whether Ray is installed: looked up on disk, not imported (importing it takes seconds)."""
    return importlib.util.find_spec("ray") is not None


class CompareChoice(NamedTuple):
    """What the Compare tab asks for: the variants, the seeds, and how pairs are decided.

    ``max_seeds`` is None for a fixed-seed queue, else the most seeds of an
    until-decided one (``seeds`` is then 1..max_seeds); ``min_effect`` in points.
    """

    variants: list[Variant]
    seeds: list[int]
    max_seeds: int | None
    min_effect: float


def seeds_text(seeds: list[int], until_decided: bool = False) -> str:
    """``seeds 1..3`` for a count, as it was typed; ``seeds 1, 5, 9`` for a list; ``up to 8 seeds`` until decided."""
    if until_decided:
        return f"up to {len(seeds)} seeds, until decided"
    if seeds == list(range(1, len(seeds) + 1)):
        return f"seeds 1..{len(seeds)}"
    return "seeds " + ", ".join(map(str, seeds))


def queue_text(event: QueueProgress) -> str:
    """``run 3 of 4: tensorflow:crelu seed 1`` (plus `` (reused)`` when a finished run stands in)."""
    total = f"at most {event.total}" if event.at_most else str(event.total)
    text = f"run {event.index} of {total}: {event.variant} seed {event.seed}"
    return text + " (reused)" if event.reused else text


class CompareView(VerticalScroll, can_focus=False):
    """Variant checkboxes, the seeds, where the runs train, the run button and the queue's status."""

    _running = False

    def compose(self) -> ComposeResult:
        yield Static("Compare variants", classes="pane-title")
        yield Static(
            "Each variant trains once per seed (K: seeds 1..K, or a list such as 1,5,9; until decided: a round "
            "of seeds at a time until each pair is decided), with the data, recipe, epochs, batch, LR and limits "
            "on the left. Finished runs are reused. @jax, @torch, @keras2: another runtime (greyed out: not installed).",
            id="compare-hint",
            classes="hint",
            markup=False,
        )
        # Looked up on disk (no import), once: this tab is built after the first frame.
        installed = set(runtime.installed())
        yield KvtSelectionList(
            *(
                Selection(v.name, v.name, v.name in DEFAULT_VARIANTS, disabled=v.backend not in installed)
                for v in all_variants()
            ),
            id="compare-variants",
        )
        yield Horizontal(
            Label("Seeds", classes="field-label"),
            Input(value=SEEDS.default, compact=True, id="compare-seeds"),
            Checkbox("until decided", id="compare-auto", compact=True),
            classes="field-row",
            id="compare-seeds-row",
        )
        yield Static("", id="compare-seeds-error", classes="field-error", markup=False)
        yield Horizontal(
            Label("Max seeds", classes="field-label"),
            Input(placeholder=str(MAX_SEEDS.default), compact=True, id="compare-max-seeds", disabled=True),
            Label("Min effect", classes="field-label"),
            Input(placeholder=f"{MIN_EFFECT.default:g}", compact=True, id="compare-min-effect"),
            Label("points", classes="unit"),
            classes="field-row",
            id="compare-decide-row",
        )
        yield Static("", id="compare-decide-error", classes="field-error", markup=False)
        # Where the runs train: this machine (empty), or a Ray cluster (kvt_models.cluster).
        has_ray = ray_installed()
        yield Horizontal(
            Label("Ray", classes="field-label"),
            Input(placeholder="empty: here" if has_ray else "not installed", compact=True, id="compare-ray",
                  disabled=not has_ray),
            Label("CPUs/run", classes="field-label"),
            Input(placeholder=str(CPUS_PER_RUN.default), compact=True, id="compare-cpus"),
            classes="field-row",
            id="compare-ray-row",
        )
        yield Static(
            "Ray: empty trains here; local starts Ray here; auto or HOST:PORT of a cluster's head "
            "(results land in the runs dir here)" if has_ray else
            "Ray: not installed; pip install 'kvt[ray]' to train the queue on a cluster",
            id="compare-ray-hint", classes="hint", markup=False,
        )
        yield Static("", id="compare-ray-error", classes="field-error", markup=False)
        with Horizontal(id="compare-buttons"):
            yield Button("Run comparison (g)", id="compare-button", variant="primary", compact=True)
        yield Static("no comparison yet: pick variants, then g", id="compare-status", markup=False)
        yield Static("", id="compare-verdict", markup=False)
        # An until-decided queue's looks, round by round (hidden until the first look).
        yield KvtTable(id="compare-looks", cursor_type="none", zebra_stripes=True)
        yield DecisionRounds(id="compare-rounds")

    def on_mount(self) -> None:
        self.reset_looks()

    # -- reading -------------------------------------------------------------
    def variants(self) -> list[Variant]:
        """The checked variants, in the list's order (not the order they were ticked)."""
        chosen = set(self.query_one("#compare-variants", KvtSelectionList).selected)
        return [v for v in all_variants() if v.name in chosen]

    def until_decided(self) -> bool:
        """The box is ticked, or the seeds field says ``auto`` (``--seeds``'s own word for it)."""
        typed = self.query_one("#compare-seeds", Input).value.strip().lower()
        return self.query_one("#compare-auto", Checkbox).value or typed == AUTO_SEEDS

    def seeds(self) -> list[int]:
        """The seeds, by ``--seeds``'s rule: ``3`` is [1, 2, 3], ``1,5,9`` is [1, 5, 9]; until decided, 1..Max
        seeds; else a one-line ConfigError."""
        if self.until_decided():
            return list(range(1, self.max_seeds() + 1))
        seeds = SEEDS.parse(self.query_one("#compare-seeds", Input).value)
        assert isinstance(seeds, list)  # "auto" is until_decided
        return seeds

    def max_seeds(self) -> int:
        return int(MAX_SEEDS.parse(self.query_one("#compare-max-seeds", Input).value))

    def min_effect(self) -> float:
        return float(MIN_EFFECT.parse(self.query_one("#compare-min-effect", Input).value))

    def _decide_fields(self) -> None:
        """Read Max seeds (until decided only) and Min effect: a one-line ConfigError for a bad one."""
        if self.until_decided():
            self.max_seeds()
        self.min_effect()

    def choice(self) -> CompareChoice:
        """The variants, seeds and decision settings, or a one-line KvtError saying what to fix."""
        variants = self.variants()
        if not variants:
            raise ConfigError("pick at least one variant to compare (two or more to get a verdict)")
        seeds = self.seeds()
        return CompareChoice(variants, seeds, len(seeds) if self.until_decided() else None, self.min_effect())

    def where(self) -> RayChoice | None:
        """None: a child process per run here; else the Ray cluster's address and CPUs per run (KvtError: one line)."""
        address = RAY.parse(self.query_one("#compare-ray", Input).value)
        cpus = CPUS_PER_RUN.parse(self.query_one("#compare-cpus", Input).value)
        return RayChoice(address, cpus) if address else None

    # -- feedback --------------------------------------------------------------
    @on(Input.Changed, "#compare-ray")
    @on(Input.Changed, "#compare-cpus")
    def _ray_changed(self) -> None:
        self._show_refusal("#compare-ray-error", self.where)

    @on(Input.Changed, "#compare-seeds")
    @on(Checkbox.Changed, "#compare-auto")
    def _seeds_changed(self) -> None:
        auto = self.until_decided()
        self.query_one("#compare-max-seeds", Input).disabled = not auto or self._running
        self.query_one("#compare-seeds", Input).disabled = self.query_one("#compare-auto", Checkbox).value or self._running
        self._show_refusal("#compare-seeds-error", self.seeds, self.query_one("#compare-seeds", Input))
        self._decide_changed()

    @on(Input.Changed, "#compare-max-seeds")
    @on(Input.Changed, "#compare-min-effect")
    def _decide_changed(self) -> None:
        self._show_refusal("#compare-decide-error", self._decide_fields)

    def _show_refusal(self, error_id: str, read: Callable[[], object], field: Input | None = None) -> None:
        """The line under a field: what ``read`` refuses (a KvtError), or nothing; ``field`` is marked invalid too."""
        try:
            read()
        except KvtError as exc:
            message = str(exc)
        else:
            message = ""
        error = self.query_one(error_id, Static)
        error.update(message)
        error.display = bool(message)
        if field is not None:
            field.set_class(bool(message), "invalid")

    @on(Input.Submitted, "#compare-ray")
    @on(Input.Submitted, "#compare-cpus")
    @on(Input.Submitted, "#compare-seeds")
    @on(Input.Submitted, "#compare-max-seeds")
    @on(Input.Submitted, "#compare-min-effect")
    def _field_submitted(self, event: Input.Submitted) -> None:
        # Enter moves on like Tab (as in the form); starting a queue is always an explicit g.
        event.stop()
        self.screen.focus_next()

    def set_status(self, text: str) -> None:
        self.query_one("#compare-status", Static).update(text)

    def set_verdict(self, text: str) -> None:
        self.query_one("#compare-verdict", Static).update(text)

    def set_running(self, running: bool) -> None:
        """While a queue (or any run) trains, the choice is frozen."""
        self._running = running
        has_ray = ray_installed()
        for widget in self.query("SelectionList, Input, Button, Checkbox"):
            widget.disabled = running or (widget.id == "compare-ray" and not has_ray)
        if not running:
            self._seeds_changed()  # Max seeds only until decided; Seeds not while the box is ticked

    # -- an until-decided queue's rounds --------------------------------------------
    def reset_looks(self) -> None:
        self.query_one("#compare-looks", DataTable).clear()
        self.query_one("#compare-looks", DataTable).display = False
        rounds = self.query_one(DecisionRounds)
        rounds.reset()
        rounds.display = False

    def show_look(self, event: LookTaken) -> None:
        """A look after a round: a table row per pair it looked at, and the plot of the first pair."""
        table = self.query_one("#compare-looks", DataTable)
        if not table.columns:
            table.add_columns(*LOOK_COLUMNS)
        for a, b, look in self.query_one(DecisionRounds).add(event):
            table.add_row(*look_row(a, b, look))
        table.display = True
        self.query_one(DecisionRounds).display = True
        table.scroll_end(animate=False)
