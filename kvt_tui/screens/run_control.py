"""The main screen's run controller: what runs on the "train" workers, and the messages they send.

Data flows one way::

    child process: model.fit -> KvtCallback -> event     (kvt_models.train.isolated)
      -> pipe -> worker thread: listener(event)           (kvt_tui.jobs)
      -> controller.post_message(message)                 thread-safe, never blocks training
      -> @on handlers below (UI thread) -> the live widgets

A new run, a resumed one and a comparison queue share the "train" worker
group: one at a time, stopped by one flag. :class:`RunController` is an
invisible widget that :class:`~kvt_tui.screens.main.MainScreen` composes.
It owns those workers (so their messages and state changes come to it),
the training state and the stop flag, and shows what the engine says in the
widgets the screen hands it once they are mounted (:class:`LiveViews`). The
screen keeps the layout, the keys and the form, and decides what to run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from textual import on, work
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from kvt_models.settings.config import RunConfig
from kvt_models.train.stopping import StopRequest

from .. import jobs
from ..messages import (
    BatchMessage,
    CompareDone,
    EndedMessage,
    EpochMessage,
    FailedMessage,
    LookMessage,
    PlacedMessage,
    QueueMessage,
    StageMessage,
    StartedMessage,
    SystemMessage,
)

if TYPE_CHECKING:
    # At run time the widgets are imported after the first frame (see MainScreen._build_ui).
    from textual.widgets import TabbedContent

    from kvt_models.compare.summary import Comparison

    from ..widgets.compare_view import CompareChoice, CompareView
    from ..widgets.history_view import HistoryView
    from ..widgets.progress import TrainingProgress
    from ..widgets.report import ReportView
    from ..widgets.runs_view import RunsView
    from ..widgets.system_panel import SystemPanel

# train(config, listener, *, stop, runs_dir) -> TrainResult: isolated.train_isolated
# (a child process per run) by default, replaceable in tests.
TrainFn = Callable[..., Any]


@dataclass(frozen=True)
class LiveViews:
    """The main screen's widgets that a run's messages update, handed to the controller once mounted."""

    tabs: TabbedContent
    history: HistoryView
    report: ReportView
    progress: TrainingProgress
    compare: CompareView
    runs: RunsView
    system: SystemPanel  # the live tab's CPU and memory figures


class RunController(Widget):
    """Runs, resumed runs and comparisons on workers; their events shown in the live widgets.

    ``on_change`` is called whenever ``training`` changes, so that the screen's
    controls follow it at once (not a message: the buttons and keys must be
    off before the key that started a run returns). ``bell``: ring the
    terminal's bell, and notify, when a run or a queue ends without being asked to.
    """

    DEFAULT_CSS = "RunController { display: none; }"

    def __init__(self, runs_dir: Path, *, train_fn: TrainFn | None = None,
                 on_change: Callable[[], None] = lambda: None, bell: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bell = bell  # the form's "Bell when done" (kvt-tui --bell)
        self.runs_dir = runs_dir
        self.train_fn = train_fn
        self.training = False  # a run, a resumed run or a comparison queue is on the "train" worker
        self.comparing = False  # ... and it is a comparison queue
        self.quit_after_run = False  # the app exits once the run on the worker has stopped and is saved
        self.current_run: Path | None = None  # the live run, or the last one trained here
        self._runtime = ""  # the live run's runtime, "Keras 3.15.1 on JAX 0.10.2"
        self._queue_text = ""  # the queue's line for its current run: "run 3 of 4: keras:relu seed 3"
        self.last_comparison: Comparison | None = None  # the last one shown, with its folder
        self.last_comparison_folder: Path | None = None
        self._stop: threading.Event | None = None
        self._on_change = on_change
        self._views: LiveViews | None = None

    def attach(self, views: LiveViews) -> None:
        """The widgets to update: the screen mounts them after the first frame, before any run can start."""
        self._views = views

    @property
    def views(self) -> LiveViews:
        if self._views is None:
            raise RuntimeError("the run controller has no widgets yet: the screen attaches them once mounted")
        return self._views

    def on_unmount(self) -> None:
        # Whatever the way out, a run still training must end soon (and save
        # its partial run) instead of keeping the process alive.
        if self._stop is not None:
            self._stop.set()

    def _close_screens_above(self) -> None:
        """Close reopened runs or an earlier comparison shown over the main screen (never the help or a question)."""
        while self.app.screen is not self.screen and not self.app.screen.is_modal:
            self.app.pop_screen()

    # -- starting and stopping -----------------------------------------------------
    def start_run(self, config: RunConfig) -> Worker[Any]:
        """Train a new run (in a child process)."""
        stop = self._begin("starting", f"{config.framework} + {config.activation} on {config.backend}, data {config.data}")
        return self._train_worker(config, stop)

    def start_resume(self, run_dir: Path, detail: str) -> Worker[Any]:
        """Continue a run from its last finished epoch (in a child process)."""
        return self._resume_worker(run_dir, self._begin("resuming", detail))

    def start_comparison(self, choice: CompareChoice, base: RunConfig, ray: jobs.RayChoice | None = None) -> Worker[Any]:
        """Train every variant x seed that has no finished run yet (a child process or a Ray task each), then summarise.

        Until decided (``choice.max_seeds``), in rounds, up to that many seeds, stopping once every pair is decided.
        """
        from ..widgets.compare_view import seeds_text

        variants, seeds = choice.variants, choice.seeds
        total = len(variants) * len(seeds)
        names = ", ".join(v.name for v in variants)
        where = f" on Ray ({ray.address})" if ray else ""
        runs = f"up to {total} runs" if choice.max_seeds else f"{total} runs"
        stop = self._begin("comparing", f"{runs}{where}: {names} x {seeds_text(seeds, bool(choice.max_seeds))}",
                           comparing=True)
        self.views.compare.set_status(f"queued {runs}{where}: {names} x {seeds_text(seeds, bool(choice.max_seeds))}")
        self.views.compare.set_verdict("")
        self.views.compare.reset_looks()
        self._queue_text = ""
        return self._compare_worker(choice, base, stop, ray)

    def compare_runs(self, paths: list[Path]) -> None:
        """Summarise finished runs (marked in the runs view) as a comparison, on a worker of its own."""
        self.notify(f"Comparing {len(paths)} marked runs…")
        self._compare_marked_worker(paths)

    def _begin(self, stage: str, detail: str, *, comparing: bool = False) -> threading.Event:
        """Common start of a run, a resumed run or a comparison: fresh live view, controls off; the stop flag."""
        self.training = True
        self.comparing = comparing
        self._stop = StopRequest()
        views = self.views
        views.history.set_history([])
        views.report.show_placeholder("Training… the report appears here when the run ends.")
        views.progress.set_stage(stage, detail)
        views.system.reset()
        if not comparing:
            views.tabs.active = "live"
        self._on_change()
        return self._stop

    def stop(self) -> None:
        """Stop the run or queue at the next batch end (s); nothing when none trains."""
        if not self.training or self._stop is None:
            return
        self._stop.set()
        if self.comparing:
            detail = "at the next batch end; the finished runs are kept, and g again goes on from there"
        else:
            detail = "at the next batch end; the partial run will be saved"
        self.views.progress.set_stage("stopping", detail)

    def stop_then_quit(self) -> None:
        """Stop the run at the next batch; the app exits once it is saved (q answered yes, SIGTERM, SIGHUP)."""
        self.quit_after_run = True
        self.stop()

    # -- the workers: they never touch a widget, they only post messages ----------
    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="training")
    def _train_worker(self, config: RunConfig, stop: threading.Event) -> Any:
        return jobs.train(self.post_message, config, stop, self.runs_dir, self.train_fn)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="resume")
    def _resume_worker(self, run_dir: Path, stop: threading.Event) -> Any:
        return jobs.resume(self.post_message, run_dir, stop)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="comparison")
    def _compare_worker(self, choice: CompareChoice, base: RunConfig, stop: threading.Event,
                        ray: jobs.RayChoice | None = None) -> None:
        jobs.compare(self.post_message, choice.variants, choice.seeds, base, stop, self.runs_dir, self.train_fn, ray,
                     max_seeds=choice.max_seeds, min_effect=choice.min_effect)

    @work(thread=True, exit_on_error=False, group="compare-marked", name="compare marked runs")
    def _compare_marked_worker(self, paths: list[Path]) -> None:
        jobs.compare_marked(self.post_message, paths, self.runs_dir)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Only this widget's workers: Worker.StateChanged goes to the worker's node and does not bubble.
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if event.state == WorkerState.ERROR:
            jobs.report_worker_error(self, worker)
        if worker.group == "train":
            self.training = False
            self.comparing = False
            self._on_change()
            self.views.system.ended()
            asked = self.quit_after_run or (self._stop is not None and self._stop.is_set())
            if self.bell and event.state != WorkerState.CANCELLED and not asked:
                # It finished, failed or died on its own: tmux and most terminals flag the window.
                self.app.bell()
            if self.views.tabs.active == "runs":
                self.views.runs.reload()
            if self.quit_after_run:
                self.app.exit()

    # -- the engine's messages ---------------------------------------------------
    @on(StageMessage)
    def _on_stage(self, message: StageMessage) -> None:
        if self._stop is not None and self._stop.is_set() and message.event.stage != "saving":
            return  # keep "stopping…" on screen until the run says more
        self.views.progress.set_stage(message.event.stage, message.event.detail)

    @on(StartedMessage)
    def _on_started(self, message: StartedMessage) -> None:
        event = message.event
        self.current_run = Path(event.run_dir)
        self._runtime = event.runtime  # the report says which Keras ran it
        self.screen.sub_title = f"run {event.run_id}"
        self.views.progress.started(event)
        if event.initial_epoch > 0:
            # A resumed run: show the epochs it already has, then the new ones append.
            from kvt_models.store.runs import read_history

            self.views.history.set_history(read_history(Path(event.run_dir))[: event.initial_epoch])

    @on(BatchMessage)
    def _on_batch(self, message: BatchMessage) -> None:
        self.views.progress.batch_ended(message.event)
        self.views.system.batch_ended(message.event)

    @on(SystemMessage)
    def _on_system(self, message: SystemMessage) -> None:
        self.views.progress.system_sampled(message.event)
        self.views.system.system_sampled(message.event)

    @on(EpochMessage)
    def _on_epoch(self, message: EpochMessage) -> None:
        self.views.history.add_epoch(message.event.as_row())
        self.views.progress.epoch_ended(message.event)

    @on(EndedMessage)
    def _on_ended(self, message: EndedMessage) -> None:
        event = message.event
        self.current_run = Path(event.run_dir)
        accuracy = event.report.get("accuracy")
        acc_text = f" · test accuracy {accuracy:.4f}" if accuracy is not None else ""
        summary = f"{event.status} after {event.epochs_done} epoch{'s' if event.epochs_done != 1 else ''}{acc_text}"
        on = f" · {self._runtime}" if self._runtime else ""
        self.views.report.show(event.report, event.confusion, event.class_names, f"{event.run_id}: {summary}{on}")
        self.views.progress.finished(f"{summary} · saved in {event.run_dir}")
        if self.comparing:
            return  # one run of a queue: the comparison's end says it all
        if self.bell:
            self.notify(f"{summary}. Saved in {event.run_dir}", title=f"Run {event.status}")
        self._close_screens_above()
        self.views.tabs.active = "report"

    @on(FailedMessage)
    def _on_failed(self, message: FailedMessage) -> None:
        # The one place a failed run is reported: the jobs send exactly one
        # TrainFailed per failure, the engine's own or theirs.
        event = message.event
        title = "Cannot train" if event.user_error else "Training failed"
        self.notify(event.message, title=title, severity="error", timeout=10)
        self.views.progress.finished(f"{title.lower()}: {event.message}")
        self.views.report.show_placeholder(f"{title}: {event.message}")
        if self.comparing:
            self.views.compare.set_status(f"comparison failed: {event.message}")

    @on(QueueMessage)
    def _on_queue(self, message: QueueMessage) -> None:
        from ..widgets.compare_view import queue_text

        event = message.event
        text = self._queue_text = queue_text(event)
        self.views.compare.set_status(text)
        if self._stop is not None and self._stop.is_set():
            return  # keep "stopping…" on screen
        self.views.progress.set_stage("comparing", text)
        if not event.reused:
            # A fresh run: the live table and curves follow it from its first epoch.
            self.views.history.set_history([])

    @on(LookMessage)
    def _on_look(self, message: LookMessage) -> None:
        # An until-decided queue looked after a round: each pair's interval against 0 and ±D, and its state.
        from kvt_models.compare.sequential import look_summary

        event = message.event
        self.views.compare.show_look(event)
        if event.decided:
            self.views.compare.set_status(f"the queue stops: {look_summary(event)}")

    @on(PlacedMessage)
    def _on_placed(self, message: PlacedMessage) -> None:
        # A run of a Ray queue began on a node (again, after a retry): the queue's line names it.
        event = message.event
        retry = f", retry {event.attempt - 1}" if event.attempt > 1 else ""
        text = f"{self._queue_text} · on node {event.node} ({event.node_id[:8]}{retry})"
        self.views.compare.set_status(text)
        if self._stop is None or not self._stop.is_set():
            self.views.progress.set_stage("comparing", text)

    @on(CompareDone)
    def _compare_done(self, message: CompareDone) -> None:
        if message.error:
            self.notify(message.error, title="Cannot compare", severity="error", timeout=10)
            return
        if message.unfinished:
            # Runs that died or diverged: the queue went on without them.
            lines = "\n".join(message.unfinished)
            self.notify(f"{len(message.unfinished)} run(s) did not finish:\n{lines}",
                        title="Runs did not finish", severity="error", timeout=20)
        views = self.views
        if message.comparison is None:
            # Stopped (s), or a variant has no finished run: the finished runs are kept and reused next time.
            if message.stopped:
                text = (f"comparison stopped after {message.trained} trained and {message.reused} reused runs; "
                        "press g again to go on (finished runs are reused)")
                self.notify(text, title="Comparison stopped", severity="warning", timeout=10)
            else:
                text = (f"comparison incomplete: {len(message.unfinished)} run(s) did not finish, so a variant "
                        "has no run to compare; resume them from the runs view (c), then press g again")
            views.compare.set_status(text)
            views.progress.finished(text)
            return
        from .comparison import CompareScreen

        self.last_comparison = message.comparison
        self.last_comparison_folder = message.folder
        done = f"comparison done: {message.trained} trained, {message.reused} reused"
        views.compare.set_status(f"{done} · saved in {message.folder}")
        if self.comparing:
            views.progress.finished(f"{done} · {message.comparison.verdict}")
        views.compare.set_verdict(message.comparison.verdict)
        if self.bell:
            self.notify(f"comparison.json, overlay.png and the diff PNGs in {message.folder}", title="Comparison saved",
                        timeout=10)
        self._close_screens_above()
        self.app.push_screen(CompareScreen(message.comparison, message.folder))
