"""The kvt-tui App: layout, key bindings, the training worker and the message handlers.

Data flows one way::

    model.fit (thread worker) -> KvtCallback -> listener(event)
      -> App.post_message(...)            thread-safe, never blocks training
      -> @on handlers (UI thread) -> widgets

Nothing here imports TensorFlow, Keras, matplotlib or plotext at module level:
each is imported inside the worker or method that needs it, so the first frame
is drawn long before ``import tensorflow`` (~5 s) could finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Select, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from kvt_models.config import RunConfig
from kvt_models.errors import KvtError
from kvt_models.events import Event, TrainFailed, TrainStarted

from .messages import (
    BatchMessage,
    EndedMessage,
    EpochMessage,
    ExportDone,
    FailedMessage,
    ModelDescribed,
    StageMessage,
    StartedMessage,
    message_for,
)

if TYPE_CHECKING:
    # At run time these are imported by _build_ui, after the first frame:
    # together with the engine modules they pull in, they cost ~50 ms.
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
MAIN_ACTIONS = frozenset({"train", "stop", "export", "runs", "model", "show_tab", "help", "leave_field"})


class KvtApp(App[None]):
    """Pick a framework and activation, train MiniVGGNet live, read the report."""

    CSS_PATH = "app.tcss"
    # Screens narrower than 96 columns get the "-narrow" class (see app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (96, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-tall")]
    TITLE = "kvt · Keras vs. TensorFlow"
    BINDINGS = [
        Binding("t", "train", "Train"),
        Binding("s", "stop", "Stop"),
        Binding("e", "export", "Export PNGs"),
        Binding("r", "runs", "Runs"),
        Binding("m", "model", "Model"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("1", "show_tab('live')", "Live", show=False),
        Binding("2", "show_tab('report')", "Report", show=False),
        Binding("3", "model", "Model", show=False),
        Binding("4", "runs", "Runs", show=False),
        # Leave a text field, so that the one-letter keys above work again.
        Binding("escape", "leave_field", "Leave field", show=False),
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
        self.training = False
        self.current_run: Path | None = None  # the live run, or the last one trained here
        self._stop: threading.Event | None = None
        self._quit_requested = False
        self._failure_reported = False
        # Held by the training worker while it builds its model (train() calls
        # keras.backend.clear_session()) and by the model view while it builds one.
        self._tf_lock = threading.Lock()
        self._models: dict[tuple[str, str], Any] = {}  # model view summaries, by (framework, activation)
        self._describing: tuple[str, str] | None = None
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
        return self.main.query_one("#views", TabbedContent)

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Train", "Train with the current settings (t)", self.action_train)
        yield SystemCommand("Stop training", "Stop at the next batch and save the partial run (s)", self.action_stop)
        yield SystemCommand("Export PNGs", "Write curves.png and confusion.png into the run folder (e)", self.action_export)
        yield SystemCommand("Runs", "List past runs; Enter opens one (r)", self.action_runs)
        yield SystemCommand("Model", "Show the model's layers, TensorFlow ops marked (m)", self.action_model)
        yield SystemCommand("Help", "Keys and notes (?)", self.action_help)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_ACTIONS:
            # A modal screen (help, a question) owns the keyboard: hide the app's keys.
            if isinstance(self.screen, ModalScreen):
                return False
            # The first frame comes before the form and tabs: the keys show, dimmed.
            if not self.ui_ready.is_set():
                return None
        # None: shown dimmed in the footer and not run.
        if action == "train" and self.training:
            return None
        if action == "stop" and not self.training:
            return None
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

    @on(TabbedContent.TabActivated, "#views")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "model":
            self._describe_selected_model()
        elif event.pane.id == "runs":
            self.runs_view.reload()

    # -- training ---------------------------------------------------------------
    def action_train(self) -> None:
        if self.training:
            self.notify("A run is already training: stop it first (s).", severity="warning")
            return
        self._to_main()
        form = self.form
        try:
            config = form.build_config()
        except KvtError as exc:
            self.notify(f"{exc}", title="Fix the settings first", severity="error")
            return
        self._start_training(config)

    def _start_training(self, config: RunConfig) -> None:
        self.training = True
        self._failure_reported = False
        self._stop = threading.Event()
        self.metrics.set_history([])
        self.curves.set_history([])
        self.report.show_placeholder("Training… the report appears here when the run ends.")
        self.progress.set_stage("starting", f"{config.framework} + {config.activation} on {config.data}")
        self.action_show_tab("live")
        self._sync_controls()
        self._train_worker(config, self._stop)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="training")
    def _train_worker(self, config: RunConfig, stop: threading.Event) -> Any:
        """Runs on a worker thread: never touches a widget, only posts messages."""
        train = self.train_fn
        if train is None:
            # Deferred: training reaches TensorFlow, ~5 s to import; never at start-up.
            from kvt_models.training import train
        lock_held = self._tf_lock.acquire()

        def listener(event: Event) -> None:
            nonlocal lock_held
            if lock_held and isinstance(event, (TrainStarted, TrainFailed)):
                # The model is built: the model view may build one of its own again.
                self._tf_lock.release()
                lock_held = False
            self.post_message(message_for(event))

        try:
            return train(config, listener, stop=stop, runs_dir=self.runs_dir)
        finally:
            if lock_held:
                self._tf_lock.release()

    def action_stop(self) -> None:
        if not self.training or self._stop is None:
            return
        self._stop.set()
        self.progress.set_stage(
            "stopping", "at the next batch end; the partial run will be saved"
        )

    @on(StageMessage)
    def _on_stage(self, message: StageMessage) -> None:
        if self._stop is not None and self._stop.is_set() and message.event.stage != "evaluating":
            return  # keep "stopping…" on screen until the run says more
        self.progress.set_stage(message.event.stage, message.event.detail)

    @on(StartedMessage)
    def _on_started(self, message: StartedMessage) -> None:
        self.current_run = Path(message.event.run_dir)
        self.sub_title = f"run {message.event.run_id}"
        self.progress.started(message.event)

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
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title=f"{worker.name} failed", severity="error")

    def _training_done(self, worker: Worker[Any], state: WorkerState) -> None:
        self.training = False
        if state == WorkerState.ERROR:
            error = worker.error
            if not isinstance(error, KvtError):
                log.error("training crashed", exc_info=error)
            if not self._failure_reported:
                self.notify(f"{error}", title="Training failed", severity="error", timeout=10)
                self.progress.finished(f"training failed: {error}")
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
        if self._describing == key:
            return
        self._describing = key
        view.show_loading(*key)
        self._describe_worker(*key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="describe", name="model view")
    def _describe_worker(self, framework: str, activation: str) -> None:
        # Deferred: describing the model builds it with Keras, importing TensorFlow (~5 s).
        from kvt_models.summary import describe_model

        with self._tf_lock:
            try:
                summary = describe_model(framework, activation)
            except Exception as exc:  # reported in the view (and logged): the app keeps running
                if not isinstance(exc, KvtError):
                    log.error("describing %s + %s failed", framework, activation, exc_info=exc)
                self.post_message(ModelDescribed(framework, activation, None, f"{exc}".splitlines()[0] if f"{exc}" else type(exc).__name__))
                return
        self.post_message(ModelDescribed(framework, activation, summary))

    @on(ModelDescribed)
    def _model_described(self, message: ModelDescribed) -> None:
        key = (message.framework, message.activation)
        if self._describing == key:
            self._describing = None
        view = self.model_view
        if message.summary is None:
            view.show_error(message.error)
            return
        self._models[key] = message.summary
        form = self.form
        selected = (str(form.query_one("#framework", Select).value), str(form.query_one("#activation", Select).value))
        if selected == key:
            view.show_summary(message.summary)
        else:
            self._describe_selected_model()  # the choice changed while this one was building

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
