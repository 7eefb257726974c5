"""The comparison queue: train what is missing, reuse what is finished, then summarise and write the files.

A fixed-seed queue trains each variant's seeds in turn. A ``--seeds auto``
queue (a sequential :class:`~kvt_models.compare.sequential.Design`) trains in
rounds, one seed of every variant per round, the variants alternating so
that a stop at any point leaves a balanced design, and looks after each
round from the design's first look on; it ends when every pair is decided
or at the design's most seeds. The looks read only the finished runs, so the
same command again reuses them and reaches the same decision at the same
round without training.

Every variant (``framework:activation``, on a runtime of its own with
``@backend``: ``keras:relu@jax``) runs once per seed on the same data and
recipe, each as an ordinary run in the runs dir. Where a run trains is the
caller's ``train_fn`` (:mod:`kvt_models.compare.placement`): this process,
a child process per run, or a Ray task; the queue cannot tell them apart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from kvt_models.compare.files import write_comparison
from kvt_models.compare.parallel import run_all, serialized
from kvt_models.compare.plan import VARIANT_KEYS, PlannedRun, plan
from kvt_models.compare.sequential import OPEN, Design, decide
from kvt_models.compare.summary import Comparison, final_accuracies, summarize
from kvt_models.errors import ChildDied, TrainingDiverged
from kvt_models.events import Listener, LookTaken, QueueProgress, ignore
from kvt_models.settings.config import RECORDING_KEYS, RunConfig
from kvt_models.store.runs import RunRecord, RunStore, read_run
from kvt_models.variants import Variant


@dataclass
class UnfinishedRun:
    """A queued run that ended without finishing, though nobody asked it to stop."""

    variant: str
    seed: int
    run_dir: str  # "" when it died before making its folder
    reason: str


@dataclass
class CompareResult:
    comparison: Comparison | None
    folder: Path | None
    files: dict[str, str]
    trained: int
    reused: int
    stopped: bool
    unfinished: list[UnfinishedRun] = field(default_factory=list)


def run_comparison(
    variants: Sequence[Variant | tuple[str, ...]],
    seeds: Sequence[int],
    base: RunConfig,
    listener: Listener = ignore,
    *,
    stop: threading.Event | None = None,
    runs_dir: str | Path | None = None,
    batch_interval: float = 0.2,
    train_fn: Callable[..., Any] | None = None,
    concurrency: int | None = None,
    design: Design | None = None,
) -> CompareResult:
    """Train what is missing, reuse what is finished, then summarise and write the files.

    ``train_fn`` trains one queued run, with :func:`kvt_models.train.training.train`'s
    signature; the default is that function, in this process. The app and
    ``kvt-train compare`` pass :func:`kvt_models.train.isolated.train_isolated`, so
    that a long queue does not keep TensorFlow's memory from every run.

    ``concurrency`` runs train at once (default: ``train_fn.concurrency``, else
    1): a Ray cluster's :class:`~kvt_models.cluster.driver.RayTrainer` says how
    many runs its nodes take. With several at once, a listener with a
    ``for_run(label)`` method gets one listener per run from it (the CLI
    prefixes each run's lines), and every listener hears one event at a time.

    ``design`` says how pairs are decided (default: one look after all
    ``seeds``, with a 1-point min effect); a sequential one (``--seeds auto``,
    ``seeds`` 1..its most seeds) trains in rounds and sends a ``LookTaken``
    after each look.

    A run that dies (its process killed, out of memory) or diverges does not
    end the queue: the others still train, and the result lists it in
    ``unfinished`` (it can be resumed later); a sequential queue ends after
    that run's round, as it cannot look without it. A stop request ends the
    queue; so does any other failure, which first stops (sets ``stop`` for)
    the runs in flight, which save, and is then raised.
    """
    if train_fn is None:
        from kvt_models.train.training import train  # deferred: in-process training imports Keras

        train_fn = train
    stop = stop or threading.Event()
    concurrency = max(1, concurrency or int(getattr(train_fn, "concurrency", 1)))
    store = RunStore(runs_dir)
    store.ensure()
    planned = plan(variants, seeds, base, store)
    total = len(planned)
    concurrency = min(concurrency, sum(item.existing is None for item in planned))  # 1 or 0 to train: one line each
    groups: dict[str, list[RunRecord]] = {item.variant: [] for item in planned}
    tell, listener_for = listener, lambda item: listener
    if concurrency > 1:
        lock = threading.Lock()
        per_run = getattr(listener, "for_run", None)
        tell = serialized(listener, lock)

        def listener_for(item: PlannedRun) -> Listener:
            return serialized(per_run(f"{item.variant} seed {item.seed}") if per_run else listener, lock)

    def run(numbered: tuple[int, PlannedRun]) -> Any:
        """One queued run: a RunRecord, an UnfinishedRun, or None when the queue was stopped."""
        index, item = numbered
        if stop.is_set():
            return None
        tell(QueueProgress(index, total, item.variant, item.seed, item.existing is not None, str(item.existing or ""),
                           at_most=design is not None and design.sequential))
        if item.existing is not None:
            return read_run(item.existing)
        try:
            result = train_fn(item.config, listener_for(item), stop=stop, runs_dir=store.root, batch_interval=batch_interval)
        except ChildDied as exc:
            return None if stop.is_set() else UnfinishedRun(item.variant, item.seed, exc.run_dir, str(exc))
        except TrainingDiverged as exc:
            return UnfinishedRun(item.variant, item.seed, "", str(exc))
        if result.status != "finished":
            if stop.is_set():
                return None
            reason = f"{result.message or 'ended ' + result.status}; resume it with: kvt-train --resume {result.run_dir}"
            return UnfinishedRun(item.variant, item.seed, str(result.run_dir), reason)
        return read_run(result.run_dir)

    numbered = list(enumerate(planned, start=1))
    sequential = design is not None and design.sequential
    if sequential:
        # Round r trains seed r of every variant (the plan lists each variant's seeds in turn).
        in_rounds = sorted(planned, key=lambda item: item.seed)  # stable: the variants keep their order
        numbered = list(enumerate(in_rounds, start=1))
        rounds = [numbered[i:i + len(groups)] for i in range(0, len(numbered), len(groups))]
    else:
        rounds = [numbered]
    outcomes: list[Any] = []
    so_far: dict[str, list[RunRecord]] = {name: [] for name in groups}
    for done, batch in enumerate(rounds, start=1):
        ended = _run_batch(batch, run, concurrency, stop)
        outcomes += ended
        if not sequential or any(not isinstance(o, RunRecord) for o in ended) or len(ended) < len(batch):
            break  # the whole queue, a stop, or a round the looks cannot use
        for outcome, (_, item) in zip(ended, batch):
            so_far[item.variant].append(outcome)
        assert design is not None
        if done >= design.first_look and _look(so_far, design, done, tell):
            break
    numbered = numbered[:len(outcomes)]
    trained = sum(isinstance(o, RunRecord) and item.existing is None for o, (_, item) in zip(outcomes, numbered))
    reused = sum(isinstance(o, RunRecord) and item.existing is not None for o, (_, item) in zip(outcomes, numbered))
    unfinished = [o for o in outcomes if isinstance(o, UnfinishedRun)]
    if any(o is None for o in outcomes):
        return CompareResult(None, None, {}, trained, reused, stopped=True, unfinished=unfinished)
    for outcome, (_, item) in zip(outcomes, numbered):
        if isinstance(outcome, RunRecord):
            groups[item.variant].append(outcome)

    if any(not runs for runs in groups.values()):
        # A variant with no finished run has nothing to compare.
        return CompareResult(None, None, {}, trained, reused, stopped=False, unfinished=unfinished)
    settings = {k: v for k, v in planned[0].config.to_dict().items() if k not in VARIANT_KEYS + RECORDING_KEYS}
    # A sequential queue's seeds are those of the rounds it ran: the same command, the same folder.
    settings["seeds"] = sorted({item.seed for _, item in numbered}) if sequential else list(seeds)
    if design is not None:
        settings["min_effect"] = design.min_effect * 100
        if sequential:
            settings["max_seeds"] = design.max_seeds
    comparison = summarize(groups, settings, design)
    folder, files = write_comparison(comparison, store.root)
    return CompareResult(comparison, folder, files, trained, reused, stopped=False, unfinished=unfinished)


def _run_batch(batch: list[tuple[int, PlannedRun]], run: Callable[[tuple[int, PlannedRun]], Any],
               concurrency: int, stop: threading.Event) -> list[Any]:
    """Each run of ``batch``, ``concurrency`` at a time; one at a time, a stop ends the batch at once.

    A failure that ends the queue (a relay gone, a crash) stops the runs in flight too.
    """
    if concurrency > 1:
        return run_all(batch, run, concurrency, stop)
    outcomes = []
    for pair in batch:
        outcomes.append(run(pair))
        if outcomes[-1] is None:
            break
    return outcomes


def _look(groups: dict[str, list[RunRecord]], design: Design, seeds: int, tell: Listener) -> bool:
    """The look after a round: tell the listener every pair's state; True when every pair is decided."""
    names = list(groups)
    finals = [final_accuracies(groups[name]) for name in names]
    decisions = decide(finals[0], finals[1:], design)
    pairs = [(names[0], name, d.last) for name, d in zip(names[1:], decisions) if d.last is not None]
    decided = all(d.outcome != OPEN for d in decisions)
    tell(LookTaken(seeds, design.max_seeds, pairs, decided))
    return decided
