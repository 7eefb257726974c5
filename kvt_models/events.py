"""Plain event dataclasses sent from training to whoever listens.

They hold only Python numbers, strings, lists and dicts -- never a Keras or
TensorFlow object -- so a listener on another thread (the Textual app) or in
another process can keep them without touching the framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class StageChanged:
    """Training moved to a new phase before or after ``fit``: loading data, building, evaluating."""

    stage: str
    detail: str = ""


@dataclass(frozen=True)
class TrainStarted:
    run_id: str
    run_dir: str
    framework: str
    activation: str
    epochs: int
    steps_per_epoch: int
    batch_size: int
    train_samples: int
    test_samples: int
    params: int
    class_names: list[str]
    runtime: str = ""  # "Keras 3.15.1 on JAX 0.10.2": kvt_models.backend.runtime.describe
    initial_epoch: int = 0
    # The rows of the epochs already finished (a resumed run's first
    # ``initial_epoch`` epochs), as in history.csv: a listener can draw the
    # whole run without reading the run folder.
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchEnded:
    """Throttled: sent at most a few times a second, and always for the last batch of an epoch."""

    epoch: int  # 1-based
    step: int  # 1-based, within the epoch
    steps: int
    logs: dict[str, float]
    images_per_second: float  # the epoch's mean so far
    epoch_elapsed: float  # seconds since the epoch began
    recent_images_per_second: float = math.nan  # since the previous BatchEnded: the current pace


@dataclass(frozen=True)
class SystemSampled:
    """The training process's load and memory, and the machine's, measured in that process (psutil).

    Sent about once a second while a run trains, and before each EpochEnded
    (:mod:`kvt_models.train.monitor`). On a Ray run they are the worker's and
    its node's. Memory in bytes; ``cpu_cores`` is the process and its
    children, in cores busy on average since the previous sample.
    """

    cpu_cores: float
    cpu_count: int  # the machine's logical CPUs
    machine_cpu_percent: float  # every process on the machine, 0-100
    rss: int  # the training process's resident memory
    peak_rss: int  # its most so far
    available: int  # the machine's available memory
    total_memory: int
    epoch_cpu_cores: float = math.nan  # the training process tree's mean since its epoch began
    host: str = ""
    pid: int = 0

    @property
    def cpu_percent(self) -> float:
        """The training process tree's share of the whole machine, 0-100."""
        return 100.0 * self.cpu_cores / max(1, self.cpu_count)


@dataclass(frozen=True)
class EpochEnded:
    epoch: int  # 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float  # the whole epoch: training, then the evaluation on the test set
    train_seconds: float = math.nan  # the training part alone (img/s = train images / train_seconds)

    def as_row(self) -> dict[str, float | int]:
        """The row written to ``history.csv`` and shown in the metrics table."""
        return {
            "epoch": self.epoch,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "lr": self.lr,
            "seconds": self.seconds,
            "train_seconds": self.train_seconds,
        }


@dataclass(frozen=True)
class TrainEnded:
    run_id: str
    run_dir: str
    status: str  # "finished" or "stopped"
    epochs_done: int
    report: dict = field(default_factory=dict)  # sklearn classification_report(output_dict=True)
    confusion: list[list[int]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # what was written: name -> path


@dataclass(frozen=True)
class TrainFailed:
    message: str  # one line, for the user
    run_id: str = ""
    run_dir: str = ""
    user_error: bool = False  # kvt_models.errors.is_user_error: bad input, not a crash or a diverged run


@dataclass(frozen=True)
class QueueProgress:
    """A comparison moved to its next run (``index`` is 1-based); ``reused`` when a finished run was found."""

    index: int
    total: int
    variant: str
    seed: int
    reused: bool
    run_dir: str = ""
    at_most: bool = False  # a --seeds auto queue: it may end before ``total``, once every pair is decided


@dataclass(frozen=True)
class RunPlaced:
    """A run (or its retry) began on a node of a Ray cluster (kvt_models.cluster); local runs send none.

    ``attempt`` counts from 1; a higher one is Ray's retry after the worker
    process or node died, resuming from the last finished epoch.
    """

    node: str  # what people call the node: its --node-name, else its IP address
    node_id: str  # Ray's node id (hex): tells apart nodes that share an address
    address: str  # the node's IP address
    pid: int  # the worker process training the run
    attempt: int = 1


@dataclass(frozen=True)
class PairLook:
    """One pair at one look of a comparison (kvt_models.compare.sequential): B - A, its intervals, what it decided.

    Accuracy units ([0, 1]); ``ci_*`` is the two-sided ``1 - alpha`` interval
    (better or worse when it excludes 0), ``eq_*`` the ``1 - 2 alpha``
    interval (equivalent when it lies inside ``(-min_effect, +min_effect)``).
    """

    seeds: int  # per variant (the smaller side's, where they differ)
    n_a: int
    n_b: int
    alpha: float  # this look's level
    diff: float
    ci_low: float
    ci_high: float
    eq_low: float
    eq_high: float
    p_value: float  # Welch, two-sided: better or worse when p_holm < alpha
    p_holm: float  # Holm-adjusted over the pairs open at this look (= p_value with one)
    outcome: str  # open, better, worse, equivalent, undecided
    min_effect: float
    p_equivalence: float = math.nan  # TOST, Holm-adjusted: equivalent when below alpha


@dataclass(frozen=True)
class LookTaken:
    """A ``--seeds auto`` comparison looked after a round: every pair against the baseline (``b`` vs ``a``)."""

    round: int  # seeds per variant so far
    max_seeds: int
    pairs: list[tuple[str, str, PairLook]]  # (a, b, its latest look): a pair decided earlier keeps the look that decided it
    decided: bool  # every pair is decided: the queue stops


Event = (StageChanged | TrainStarted | BatchEnded | EpochEnded | TrainEnded | TrainFailed | QueueProgress | RunPlaced
         | LookTaken | SystemSampled)
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener used when nobody is listening."""
