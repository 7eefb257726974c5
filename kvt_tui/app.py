"""The kvt-tui App: layout, key bindings, the training worker and the message handlers.

Data flows one way::

    model.fit (thread worker) -> KvtCallback -> listener(event)
      -> App.post_message(...)            thread-safe, never blocks training
      -> @on handlers (UI thread) -> widgets

The same worker runs a new run (``t``), resumes a stopped one (``c`` in the
runs view or on a reopened run) or runs a comparison queue (``g`` in the
Compare tab); a comparison made of runs marked in the runs view is
summarised on a worker of its own.

The app process never imports TensorFlow or Keras: training, resuming,
comparison queues and the model view's layer tables all run in child processes
(``kvt_models.isolated``), so the app stays small however long it runs.
matplotlib and plotext are imported inside the worker or method that needs
them, after the first frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Select, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from kvt_models.config import RunConfig
from kvt_models.errors import KvtError, is_user_error, one_line
from kvt_models.stopping import StopRequest

from .messages import (
    BatchMessage,
    CompareDone,
    EndedMessage,
    EpochMessage,
    ExportDone,
    FailedMessage,
    ModelsDescribed,
    QueueMessage,
    StageMessage,
    StartedMessage,
    message_for,
)

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

    from kvt_models.compare import Comparison
    from kvt_models.events import Event

    # At run time these are imported by _build_ui, after the first frame:
    # together with the engine modules they pull in, they cost ~50 ms.
    from .widgets.compare_view import CompareView
    from .widgets.config_form import ConfigForm
    from .widgets.curves import Curves
    from .widgets.metrics_table import MetricsTable
    from .widgets.model_view import ModelView
    from .widgets.progress import TrainingProgress
    from .widgets.report import ReportView
    from .widgets.runs_view import RunsView

log = logging.getLogger("kvt_tui")

# train(config, listener, *, stop, runs_dir) -> TrainResult; kvt_models.training.train
# by default, replaceable in tests (for instance to watch the events go by).
TrainFn = Callable[..., Any]

# The app's own actions: off while a modal screen is up.
MAIN_ACTIONS = frozenset(
    {"train", "stop", "export", "runs", "model", "compare", "run_compare", "show_tab", "help", "leave_field"}
)


class KvtApp(App[None]):
    """Pick a framework and activation, train MiniVGGNet live, read the report."""

    CSS_PATH = "app.tcss"
    # Screens narrower than 96 columns get the "-narrow" class (see app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (96, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-tall")]
    TITLE = "kvt · Keras vs. TensorFlow"
    BINDINGS = [
        # Shown only on the Compare tab (see check_action), and first there:
        # at 80 columns the footer cuts off the last keys.
        Binding("g", "run_compare", "Run queue"),
        Binding("t", "train", "Train"),
        Binding("s", "stop", "Stop"),
        Binding("e", "export", "Export"),  # PNGs; short so that 80 columns show every key
        Binding("r", "runs", "Runs"),
        Binding("m", "model", "Model"),
        Binding("v", "compare", "Compare"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("1", "show_tab('live')", "Live", show=False),
        Binding("2", "show_tab('report')", "Report", show=False),
        Binding("3", "model", "Model", show=False),
        Binding("4", "runs", "Runs", show=False),
        Binding("5", "compare", "Compare", show=False),
        # Leave a text field, so that the one-letter keys above work again. Shown
        # only while a text field has the focus (see check_action), when the
        # field hides every other key from the footer.
        Binding("escape", "leave_field", "Leave field (then t trains)"),
    ]

    def __init__(
        self,
        initial: RunConfig,
        runs_dir: Path,
        *,
        log_path: str = "",
        train_fn: TrainFn | None = None,
    ) -> None:
        super().__init__()
        self.initial = initial
        self.runs_dir = runs_dir
        self.log_path = log_path or "(not logging: started without kvt-tui's main)"
        self.train_fn = train_fn
        # resume(run_dir, listener, *, stop) -> TrainResult; kvt_models.training.resume by default.
        self.resume_fn: TrainFn | None = None
        self.training = False  # a run, a resumed run or a comparison queue is on the worker
        self.comparing = False  # ... and it is a comparison queue
        self.last_comparison: Comparison | None = None  # the last one shown, with its folder
        self.last_comparison_folder: Path | None = None
        self.current_run: Path | None = None  # the live run, or the last one trained here
        self._stop: threading.Event | None = None
        self._quit_requested = False
        self._failure_reported = False
        self._train_pending = False  # t was pressed before the UI was mounted
        self._models: dict[tuple[str, str], Any] = {}  # model view summaries, by (framework, activation)
        self._describing = False  # the model view's child process is building them
        self._describe_stop = StopRequest()
        # Set once the whole UI is mounted (it comes right after the first frame).
        self.ui_ready = asyncio.Event()

    @property
    def main(self) -> Screen:
        """The main screen (form, tabs, progress), even while another screen is on top.

        Engine messages keep arriving while a past run or the help is shown;
        they must update the main screen's widgets, not query the top screen.
        """
        return self.screen_stack[0]

    # The main screen's widgets, once _build_ui has mounted them.
    @property
    def form(self) -> ConfigForm:
        return self.main.query_one("#config")  # type: ignore[return-value]

    @property
    def views(self) -> TabbedContent:
        return self.main.query_one("#views")  # type: ignore[return-value]

    @property
    def metrics(self) -> MetricsTable:
        return self.main.query_one("#metrics")  # type: ignore[return-value]

    @property
    def curves(self) -> Curves:
        return self.main.query_one("#curves")  # type: ignore[return-value]

    @property
    def report(self) -> ReportView:
        return self.main.query_one("#report-view")  # type: ignore[return-value]

    @property
    def model_view(self) -> ModelView:
        return self.main.query_one("#model-view")  # type: ignore[return-value]

    @property
    def runs_view(self) -> RunsView:
        return self.main.query_one("#runs-view")  # type: ignore[return-value]

    @property
    def compare_view(self) -> CompareView:
        return self.main.query_one("#compare-view")  # type: ignore[return-value]

    @property
    def progress(self) -> TrainingProgress:
        return self.main.query_one("#progress")  # type: ignore[return-value]

    def _to_main(self) -> None:
        """Close a reopened run (or other screens) to come back to the main screen."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The first frame is only this skeleton: Textual itself needs ~0.3 s
        # to import here, and composing the whole form and tabs (~120
        # widgets, five Selects) takes as long again. The rest is mounted
        # right after the first frame is on screen, by _build_ui.
        yield Header()
        with Horizontal(id="main"):
            yield Static("Configuration\n\nloading…", id="splash")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"runs: {self.runs_dir}"
        if not self.is_headless:
            if self.console.color_system in (None, "standard", "windows"):
                # A 16-colour terminal: use the terminal's own ANSI colours rather
                # than approximations of the default theme's truecolor palette.
                self.theme = "ansi-dark"
            # Over SSH a dropped connection is a SIGHUP; a service manager sends
            # SIGTERM. Either way, stop the run gracefully so it is saved.
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self._on_signal, signum)
        self.call_after_refresh(self._build_ui)

    async def _build_ui(self) -> None:
        """Second phase of start-up: the form, the tabs and the progress strip."""
        from textual.containers import Vertical
        from textual.widgets import TabbedContent, TabPane

        from .widgets.compare_view import CompareView
        from .widgets.config_form import ConfigForm
        from .widgets.curves import Curves
        from .widgets.metrics_table import MetricsTable
        from .widgets.model_view import ModelView
        from .widgets.progress import TrainingProgress
        from .widgets.report import ReportView
        from .widgets.runs_view import RunsView

        tabs = TabbedContent(id="views", initial="live")
        for pane in (
            TabPane("Live 1", Vertical(MetricsTable(id="metrics"), Curves(id="curves"), id="live-box"), id="live"),
            TabPane("Report 2", ReportView(id="report-view"), id="report"),
            TabPane("Model 3", ModelView(id="model-view"), id="model"),
            TabPane("Runs 4", RunsView(self.runs_dir, id="runs-view"), id="runs"),
            TabPane("Compare 5", CompareView(id="compare-view"), id="compare"),
        ):
            tabs.compose_add_child(pane)  # what `with TabbedContent(): with TabPane(...)` does
        main = self.main.query_one("#main")
        await main.query_one("#splash").remove()
        await main.mount(ConfigForm(self.initial, id="config"), tabs)
        await self.main.mount(TrainingProgress(id="progress"), before=self.main.query_one(Footer))
        self.ui_ready.set()
        self._sync_controls()
        self.main.query_one("#framework").focus()

    def _on_signal(self, signum: int) -> None:
        """SIGTERM / SIGHUP: like q, without the question (nobody may be there to answer)."""
        log.info("got signal %d: %s", signum, "stopping the run, then quitting" if self.training else "quitting")
        if self.training:
            self._quit_requested = True
            self.action_stop()
        else:
            self.exit()

    def on_unmount(self) -> None:
        # Whatever the way out, a training thread still running must end soon
        # (and save its partial run) instead of keeping the process alive.
        if self._stop is not None:
            self._stop.set()
        self._describe_stop.set()  # and the model view's helper process ends at once

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Train", "Train with the current settings (t)", self.action_train)
        yield SystemCommand("Stop training", "Stop at the next batch and save the partial run (s)", self.action_stop)
        yield SystemCommand("Export PNGs", "Write curves.png and confusion.png into the run folder (e)", self.action_export)
        yield SystemCommand("Runs", "List past runs; Enter opens one (r)", self.action_runs)
        yield SystemCommand("Model", "Show the model's layers, TensorFlow ops marked (m)", self.action_model)
        yield SystemCommand("Compare", "Pick variants and seeds for a seeded comparison (v)", self.action_compare)
        yield SystemCommand("Run comparison", "Run the Compare tab's queue of variants x seeds (g)", self.action_run_compare)
        yield SystemCommand("Help", "Keys and notes (?)", self.action_help)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            return isinstance(self.focused, Input) and not isinstance(self.screen, ModalScreen)
        if action in MAIN_ACTIONS:
            # A modal screen (help, a question) owns the keyboard: hide the app's keys.
            if isinstance(self.screen, ModalScreen):
                return False
            # The first frame comes before the form and tabs: the keys show,
            # dimmed; only t is taken, and runs once the form is there.
            if not self.ui_ready.is_set():
                return True if action == "train" else None
        # None: shown dimmed in the footer and not run.
        if action == "train" and self.training:
            return None
        if action == "stop" and not self.training:
            return None
        if action == "run_compare":
            # Only on the Compare tab of the main screen: elsewhere g means nothing.
            if self.screen is not self.main or self.views.active != "compare":
                return False
            return None if self.training else True
        return True

    # -- small actions -----------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self._to_main()
        self.views.active = tab

    def action_leave_field(self) -> None:
        if isinstance(self.focused, Input):
            self.set_focus(None)

    def action_help(self) -> None:
        from .widgets.help_screen import HelpScreen

        self.push_screen(HelpScreen(self.log_path))

    def action_runs(self) -> None:
        self.action_show_tab("runs")
        self.runs_view.reload()
        self.main.query_one("#runs-table").focus()

    def action_model(self) -> None:
        self.action_show_tab("model")
        self._describe_selected_model()

    def action_compare(self) -> None:
        self.action_show_tab("compare")
        self.main.query_one("#compare-variants").focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A name-based handler (not @on): TabbedContent is imported after the first frame.
        if event.tabbed_content.id != "views":
            return
        self.refresh_bindings()  # g shows on the Compare tab only
        if event.pane.id == "model":
            self._describe_selected_model()
        elif event.pane.id == "runs":
            self.runs_view.reload()

    # -- training ---------------------------------------------------------------
    def action_train(self) -> None:
        if not self.ui_ready.is_set():
            # t pressed during start-up, before the form exists: train as soon
            # as it is mounted, on a worker that lasts until that run ends (so
            # `await app.workers.wait_for_complete()` right after the key, as
            # bench/endurance.py does, waits for the whole run).
            if not self._train_pending:
                self._train_pending = True
                self.run_worker(self._train_when_ready(), group="startup", name="train when ready", exit_on_error=False)
            return
        self._train_from_form()

    def _train_from_form(self) -> Worker[Any] | None:
        """Start a run with the form's settings; None (and a notification) when it cannot start."""
        if self.training:
            self.notify("A run is already training: stop it first (s).", severity="warning")
            return None
        self._to_main()
        form = self.form
        try:
            config = form.build_config()
        except KvtError as exc:
            self.notify(f"{exc}", title="Fix the settings first", severity="error")
            return None
        return self._start_training(config)

    async def _train_when_ready(self) -> None:
        await self.ui_ready.wait()
        self._train_pending = False
        worker = self._train_from_form()
        if worker is None:
            return
        # The run's own end (or failure) is reported by _training_done; here
        # we only wait for it, so a failed or cancelled run is not an error.
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await worker.wait()

    def _start_training(self, config: RunConfig) -> Worker[Any]:
        self._begin("starting", f"{config.framework} + {config.activation} on {config.data}")
        assert self._stop is not None
        return self._train_worker(config, self._stop)

    def _begin(self, stage: str, detail: str, *, comparing: bool = False) -> None:
        """Common start of a run, a resumed run or a comparison: fresh live view, controls off."""
        self.training = True
        self.comparing = comparing
        self._failure_reported = False
        self._stop = StopRequest()
        self.metrics.set_history([])
        self.curves.set_history([])
        self.report.show_placeholder("Training… the report appears here when the run ends.")
        self.progress.set_stage(stage, detail)
        if not comparing:
            self.action_show_tab("live")
        self._sync_controls()

    def _with_listener(self, body: Callable[[Callable[[Event], None]], Any]) -> Any:
        """Call ``body(listener)`` on the worker thread; the listener posts every event as a message.

        ``post_message`` is thread-safe and never blocks, so training never waits
        for the screen.
        """
        from kvt_models.events import TrainFailed
        from kvt_models.isolated import ChildDied

        failed = False

        def listener(event: Event) -> None:
            nonlocal failed
            failed = failed or isinstance(event, TrainFailed)
            self.post_message(message_for(event))

        try:
            return body(listener)
        except (KvtError, ChildDied) as exc:
            # A user's mistake, or a training process that died (kill -9, out
            # of memory), is not a crashed worker: the engine's TrainFailed
            # event has told the screen already (or this one does).
            if not failed:
                listener(TrainFailed(message=str(exc), user_error=is_user_error(exc)))
            return None

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="training")
    def _train_worker(self, config: RunConfig, stop: threading.Event) -> Any:
        """Runs on a worker thread: never touches a widget, only posts messages."""
        # Each run trains in a child process: TensorFlow keeps memory from every
        # fit, so twenty runs in one process would grow by ~500 MB. The app
        # itself never imports TensorFlow for training.
        from kvt_models.isolated import train_isolated

        train = self.train_fn or train_isolated
        return self._with_listener(lambda listener: train(config, listener, stop=stop, runs_dir=self.runs_dir))

    # -- resume -------------------------------------------------------------------
    def resume_run(self, run_dir: Path) -> None:
        """Continue ``run_dir`` from its last finished epoch (the runs view's and run screen's c)."""
        from kvt_models.runs import read_run_info

        from .widgets.runs_view import is_resumable

        if self.training:
            self.notify("A run is already training: stop it first (s), then resume.", severity="warning")
            return
        info = read_run_info(run_dir)
        if info is None:
            self.notify(f"{run_dir} is not a kvt run folder (no readable config.json).", title="Cannot resume", severity="error")
            return
        if not is_resumable(info):
            self.notify(
                f"{info.run_id} is {info.status} with {info.epochs_done}/{info.epochs_total} epochs: nothing to resume.",
                title="Cannot resume", severity="warning",
            )
            return
        self._to_main()
        cfg = info.config
        self._begin("resuming", f"{info.run_id} after epoch {info.epochs_done} of {info.epochs_total} "
                    f"({cfg.get('framework', '?')} + {cfg.get('activation', '?')})")
        assert self._stop is not None
        self._resume_worker(run_dir, self._stop)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="resume")
    def _resume_worker(self, run_dir: Path, stop: threading.Event) -> Any:
        """Runs on a worker thread: never touches a widget, only posts messages."""
        from kvt_models.isolated import resume_isolated  # a child process, as for training

        resume = self.resume_fn or resume_isolated
        return self._with_listener(lambda listener: resume(run_dir, listener, stop=stop))

    def on_runs_view_resume_run(self, message: RunsView.ResumeRun) -> None:
        # A name-based handler (not @on): RunsView is imported after the first frame.
        self.resume_run(message.path)

    # -- comparisons -----------------------------------------------------------------
    def action_run_compare(self) -> None:
        if self.training:
            self.notify("A run is training: stop it first (s), then run the comparison.", severity="warning")
            return
        self._to_main()
        self.views.active = "compare"
        try:
            variants, seeds = self.compare_view.choice()
            base = self.form.build_config()
        except KvtError as exc:
            self.notify(f"{exc}", title="Fix the comparison first", severity="error")
            return
        total = len(variants) * len(seeds)
        names = ", ".join(f"{f}:{a}" for f, a in variants)
        self._begin("comparing", f"{total} runs: {names} x seeds 1..{len(seeds)}", comparing=True)
        self.compare_view.set_status(f"queued {total} runs: {names} x {len(seeds)} seeds")
        self.compare_view.set_verdict("")
        assert self._stop is not None
        self._compare_worker(variants, seeds, base, self._stop)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="comparison")
    def _compare_worker(
        self, variants: list[tuple[str, str]], seeds: list[int], base: RunConfig, stop: threading.Event
    ) -> None:
        """Runs on a worker thread: trains what is missing, reuses the rest, posts the summary."""
        # Deferred: a comparison trains (TensorFlow) and summarises (scipy, matplotlib).
        from kvt_models.compare import run_comparison
        from kvt_models.isolated import train_isolated

        # Each queued run trains in a child process, like a single run (see _train_worker).
        train = self.train_fn or train_isolated
        result = self._with_listener(
            lambda listener: run_comparison(
                variants, seeds, base, listener, stop=stop, runs_dir=self.runs_dir, train_fn=train
            )
        )
        if result is None:
            return  # a user's mistake, already on screen
        self.post_message(
            CompareDone(result.comparison, result.folder, stopped=result.stopped,
                        trained=result.trained, reused=result.reused,
                        unfinished=[f"{u.variant} seed {u.seed}: {u.reason}" for u in result.unfinished])
        )

    @on(QueueMessage)
    def _on_queue(self, message: QueueMessage) -> None:
        from .widgets.compare_view import queue_text

        event = message.event
        text = queue_text(event)
        self.compare_view.set_status(text)
        if self._stop is not None and self._stop.is_set():
            return  # keep "stopping…" on screen
        self.progress.set_stage("comparing", text)
        if not event.reused:
            # A fresh run: the live table and curves follow it from its first epoch.
            self.metrics.set_history([])
            self.curves.set_history([])

    def on_runs_view_compare_runs(self, message: RunsView.CompareRuns) -> None:
        # A name-based handler (not @on): RunsView is imported after the first frame.
        self.notify(f"Comparing {len(message.paths)} marked runs…")
        self._compare_marked_worker(message.paths)

    @work(thread=True, exit_on_error=False, group="compare-marked", name="compare marked runs")
    def _compare_marked_worker(self, paths: list[Path]) -> None:
        """Group marked runs by variant, summarise and write comparison.json + overlay.png."""
        # Deferred: summarising imports scipy, writing the overlay matplotlib.
        from kvt_models.compare import summarize, variant_name, write_comparison
        from kvt_models.runs import read_run

        from .widgets.compare_view import all_variants

        groups: dict[str, list[Any]] = {}
        seeds: set[int] = set()
        settings: dict[str, Any] = {}
        try:
            for path in paths:
                record = read_run(path)
                if not record.history:
                    # No finished epoch: no accuracy to compare.
                    raise KvtError(f"run {record.run_id} has no finished epoch: unmark it, or resume it first (c)")
                cfg = record.config
                groups.setdefault(variant_name(cfg.get("framework", "?"), cfg.get("activation", "?")), []).append(record)
                if isinstance(cfg.get("seed"), int):
                    seeds.add(cfg["seed"])
                for key, value in cfg.items():
                    if key in ("framework", "activation", "seed"):
                        continue
                    # Settings that differ between the marked runs are listed, not hidden.
                    known = settings.setdefault(key, [])
                    if value not in known:
                        known.append(value)
            # The canonical variant order (keras before tensorflow, as in the
            # Compare tab), not the runs list's, so pairs read "b - a" the same way.
            order = {f"{f}:{a}": i for i, (f, a) in enumerate(all_variants())}
            groups = dict(sorted(groups.items(), key=lambda item: order.get(item[0], len(order))))
            flat = {k: (v[0] if len(v) == 1 else v) for k, v in settings.items()}
            flat["seeds"] = sorted(seeds)
            comparison = summarize(groups, flat)
            folder, _ = write_comparison(comparison, self.runs_dir)
        except KvtError as exc:
            self.post_message(CompareDone(None, None, error=str(exc)))
            return
        self.post_message(CompareDone(comparison, folder, reused=len(paths)))

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
        if message.comparison is None:
            # Stopped (s), or a variant has no finished run: the finished runs are kept and reused next time.
            if message.stopped:
                text = (f"comparison stopped after {message.trained} trained and {message.reused} reused runs; "
                        "press g again to go on (finished runs are reused)")
            else:
                text = (f"comparison incomplete: {len(message.unfinished)} run(s) did not finish, so a variant "
                        "has no run to compare; resume them from the runs view (c), then press g again")
            self.compare_view.set_status(text)
            self.progress.finished(text)
            if message.stopped:
                self.notify(text, title="Comparison stopped", severity="warning", timeout=10)
            return
        from .widgets.compare_screen import CompareScreen

        self.last_comparison = message.comparison
        self.last_comparison_folder = message.folder
        done = f"comparison done: {message.trained} trained, {message.reused} reused"
        self.compare_view.set_status(f"{done} · saved in {message.folder}")
        if self.comparing:
            self.progress.finished(f"{done} · {message.comparison.verdict}")
        self.compare_view.set_verdict(message.comparison.verdict)
        self.notify(f"comparison.json and overlay.png in {message.folder}", title="Comparison saved", timeout=10)
        self._to_main()
        self.push_screen(CompareScreen(message.comparison, message.folder))

    def action_stop(self) -> None:
        if not self.training or self._stop is None:
            return
        self._stop.set()
        if self.comparing:
            detail = "at the next batch end; the finished runs are kept, and g again goes on from there"
        else:
            detail = "at the next batch end; the partial run will be saved"
        self.progress.set_stage("stopping", detail)

    @on(StageMessage)
    def _on_stage(self, message: StageMessage) -> None:
        if self._stop is not None and self._stop.is_set() and message.event.stage != "evaluating":
            return  # keep "stopping…" on screen until the run says more
        self.progress.set_stage(message.event.stage, message.event.detail)

    @on(StartedMessage)
    def _on_started(self, message: StartedMessage) -> None:
        event = message.event
        self.current_run = Path(event.run_dir)
        self.sub_title = f"run {event.run_id}"
        self.progress.started(event)
        if event.initial_epoch > 0:
            # A resumed run: show the epochs it already has, then the new ones append.
            from kvt_models.runs import read_history

            earlier = read_history(Path(event.run_dir))[: event.initial_epoch]
            self.metrics.set_history(earlier)
            self.curves.set_history(earlier)

    @on(BatchMessage)
    def _on_batch(self, message: BatchMessage) -> None:
        self.progress.batch_ended(message.event)

    @on(EpochMessage)
    def _on_epoch(self, message: EpochMessage) -> None:
        row = message.event.as_row()
        self.metrics.add_epoch(row)
        self.curves.add_epoch(row)
        self.progress.epoch_ended(message.event)

    @on(EndedMessage)
    def _on_ended(self, message: EndedMessage) -> None:
        event = message.event
        self.current_run = Path(event.run_dir)
        accuracy = event.report.get("accuracy")
        acc_text = f" · test accuracy {accuracy:.4f}" if accuracy is not None else ""
        summary = f"{event.status} after {event.epochs_done} epoch{'s' if event.epochs_done != 1 else ''}{acc_text}"
        self.report.show(event.report, event.confusion, event.class_names, f"{event.run_id}: {summary}")
        self.progress.finished(f"{summary} · saved in {event.run_dir}")
        if self.comparing:
            return  # one run of a queue: the comparison's end says it all
        self.notify(f"{summary}. Saved in {event.run_dir}", title=f"Run {event.status}")
        self.action_show_tab("report")

    @on(FailedMessage)
    def _on_failed(self, message: FailedMessage) -> None:
        event = message.event
        self._failure_reported = True
        title = "Cannot train" if event.user_error else "Training failed"
        self.notify(event.message, title=title, severity="error", timeout=10)
        self.progress.finished(f"{title.lower()}: {event.message}")
        self.report.show_placeholder(f"{title}: {event.message}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "train":
            self._training_done(worker, event.state)
        elif event.state == WorkerState.ERROR:
            # The model view and export workers report their own KvtErrors;
            # anything reaching here is a bug: say so and keep the app running.
            log.error("worker %s failed", worker.name, exc_info=worker.error)
            self.notify(one_line(worker.error, with_type=True), title=f"{worker.name} failed", severity="error")

    def _training_done(self, worker: Worker[Any], state: WorkerState) -> None:
        self.training = False
        self.comparing = False
        if state == WorkerState.ERROR:
            error = worker.error
            if not isinstance(error, KvtError):
                log.error("training crashed", exc_info=error)
            if not self._failure_reported:
                self.notify(f"{error}", title="Training failed", severity="error", timeout=10)
                self.progress.finished(f"training failed: {error}")
            if worker.name == "comparison":
                self.compare_view.set_status(f"comparison failed: {one_line(error)}")
        self._sync_controls()
        if self.views.active == "runs":
            self.runs_view.reload()
        if self._quit_requested:
            self.exit()

    def _sync_controls(self) -> None:
        """Buttons, form and footer follow the training state and the form's validity."""
        if not self.ui_ready.is_set():
            return  # _build_ui calls this again once everything is mounted
        form = self.form
        for widget in form.query("Input, Select"):
            widget.disabled = self.training
        self.main.query_one("#train-button", Button).disabled = self.training or not form.is_valid
        self.main.query_one("#stop-button", Button).disabled = not self.training
        self.compare_view.set_running(self.training)
        self.refresh_bindings()

    def on_config_form_validity_changed(self) -> None:
        # A name-based handler (not @on): ConfigForm is imported after the first frame.
        self._sync_controls()

    @on(Button.Pressed, "#train-button")
    def _train_pressed(self) -> None:
        self.action_train()

    @on(Button.Pressed, "#stop-button")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#compare-button")
    def _compare_pressed(self) -> None:
        self.action_run_compare()

    # -- quitting ----------------------------------------------------------------
    async def action_quit(self) -> None:
        from .widgets.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return  # already asking
        if not self.training:
            self.exit()
            return
        if self._quit_requested:
            self.notify("Still saving the run; kvt-tui quits as soon as it is on disk.")
            return

        def answered(yes: bool | None) -> None:
            if yes and self.training:
                self._quit_requested = True
                self.action_stop()
                self.notify("Stopping at the next batch, saving the run, then quitting…")
            elif yes:
                self.exit()

        self.push_screen(
            ConfirmScreen("A run is training. Stop it at the next batch, save the partial run, and quit?"),
            answered,
        )

    # -- export -------------------------------------------------------------------
    def action_export(self) -> None:
        run = self.current_run
        if run is None:
            self.notify("No run to export yet: train one (t), or open one from the runs view (r).", severity="warning")
            return
        if self.training:
            self.notify("The run is still training: its PNGs are written when it ends; press e then.", severity="warning")
            return
        self.export_pngs(run)

    def export_pngs(self, run_dir: Path) -> None:
        """Write curves.png and confusion.png for ``run_dir`` on a worker; a notification says where."""
        self.notify(f"Exporting PNGs into {run_dir}…")
        self._export_worker(run_dir)

    @work(thread=True, exit_on_error=False, group="export", name="export")
    def _export_worker(self, run_dir: Path) -> None:
        # Deferred: matplotlib costs about a second to import and only export needs it.
        from kvt_models.plots import export_run_pngs

        try:
            files = export_run_pngs(run_dir)
        except KvtError as exc:
            self.post_message(ExportDone(run_dir, [], str(exc)))
        else:
            self.post_message(ExportDone(run_dir, files))

    @on(ExportDone)
    def _export_done(self, message: ExportDone) -> None:
        if message.error:
            self.notify(message.error, title="Export failed", severity="error", timeout=10)
        elif not message.files:
            self.notify(f"Nothing to export yet in {message.run_dir}: no finished epoch and no report.", severity="warning")
        else:
            names = ", ".join(f.name for f in message.files)
            self.notify(f"Wrote {names} in {message.run_dir}", title="PNGs exported", timeout=10)

    # -- model view -----------------------------------------------------------------
    @on(Select.Changed, "#framework, #activation")
    def _model_choice_changed(self) -> None:
        if self.views.active == "model":
            self._describe_selected_model()

    def _describe_selected_model(self) -> None:
        form = self.form
        key = (str(form.query_one("#framework", Select).value), str(form.query_one("#activation", Select).value))
        view = self.model_view
        if key in self._models:
            view.show_summary(self._models[key])
            return
        view.show_loading(*key)
        if not self._describing:
            self._describing = True
            self._describe_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, group="describe", name="model view")
    def _describe_worker(self) -> None:
        """Every variant's layer table, built in a child process.

        Building a model imports TensorFlow (~5 s, ~600 MB): done in the app, that
        memory would stay for the app's whole life. One child builds all ten
        variants (~1 s more than one) and exits.
        """
        from kvt_models.config import ACTIVATIONS, FRAMEWORKS
        from kvt_models.isolated import describe_isolated

        variants = [(framework, activation) for framework in sorted(FRAMEWORKS) for activation in ACTIVATIONS]
        try:
            summaries = describe_isolated(variants, self._describe_stop)
        except Exception as exc:  # reported in the view (and logged): the app keeps running
            if not isinstance(exc, KvtError):
                log.error("describing the models failed", exc_info=exc)
            self.post_message(ModelsDescribed([], one_line(exc)))
            return
        if summaries is not None:  # None: the app is closing
            self.post_message(ModelsDescribed(summaries))

    @on(ModelsDescribed)
    def _models_described(self, message: ModelsDescribed) -> None:
        self._describing = False
        if message.error:
            self.model_view.show_error(message.error)
            return
        self._models.update({(summary.framework, summary.activation): summary for summary in message.summaries})
        if self.views.active == "model":
            self._describe_selected_model()

    # -- runs view --------------------------------------------------------------------
    def on_runs_view_open_run(self, message: RunsView.OpenRun) -> None:
        # A name-based handler (not @on): RunsView is imported after the first frame.
        from kvt_models.runs import read_run

        from .widgets.run_screen import RunScreen

        try:
            record = read_run(message.path)
        except KvtError as exc:
            self.notify(str(exc), title="Cannot open the run", severity="error")
            return
        self.push_screen(RunScreen(record))
