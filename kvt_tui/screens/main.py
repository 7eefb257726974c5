"""The main screen: the configuration form, the five tabs and the progress strip.

It owns the layout and the keys, and turns them and the form into runs: a
new run (``t``), a resumed one (``c`` in the runs view or on a reopened run),
a comparison queue (``g`` on the Compare tab) or a comparison of runs marked
in the runs view. Running them, and showing what the engine says while they
run, is the job of the :class:`~kvt_tui.screens.run_control.RunController`
it composes (``self.runner``), which it hands the live widgets once mounted.

The first frame is only the skeleton of :meth:`MainScreen.compose`; the form
and the tabs, with the engine modules they import, are mounted right after it
(see the first-frame test in tests/tui/test_tui_cli.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from kvt_models.errors import KvtError
from kvt_models.settings.config import RunConfig

from .. import jobs
from ..widgets.footer import KvtFooter
from ..widgets.header import KvtHeader
from .run_control import LiveViews, RunController, TrainFn

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

    # At run time these are imported by _build_ui, after the first frame:
    # together with the engine modules they pull in, they cost ~50 ms.
    from ..widgets.compare_view import CompareView
    from ..widgets.config_form import ConfigForm
    from ..widgets.model_view import ModelView
    from ..widgets.runs_view import RunsView
    from .run import RunScreen

# The actions of the bindings below (Screen has a few of its own, left alone).
KEY_ACTIONS = frozenset({"train", "stop", "export", "runs", "model", "compare", "run_compare", "show_tab", "leave_field"})


class MainScreen(Screen[None]):
    """Pick a framework and activation, train MiniVGGNet live, read the report."""

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

    # Textual's Screen.focused repaints the whole screen when the focus moves (the
    # 4 and 5 keys move it), though the widget that gains the focus and the one that
    # loses it restyle and repaint themselves (Widget._on_focus, _on_blur): here the
    # move repaints only them. docs/live.md has the measurements.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self, initial: RunConfig, runs_dir: Path, *, train_fn: TrainFn | None = None, bell: bool = True) -> None:
        super().__init__()
        self.initial = initial
        self.runs_dir = runs_dir
        self.runner = RunController(runs_dir, train_fn=train_fn, on_change=self._sync_controls, bell=bell, id="runner")
        self._train_pending = False  # t was pressed before the form was mounted
        self.ui_ready = asyncio.Event()  # set once the form and tabs are mounted
        self._run_screen: RunScreen | None = None  # made on the first Enter on a run, then reused

    # The widgets, once _build_ui has mounted them.
    @property
    def form(self) -> ConfigForm:
        return self.query_one("#config")  # type: ignore[return-value]

    @property
    def views(self) -> TabbedContent:
        return self.query_one("#views")  # type: ignore[return-value]

    @property
    def model_view(self) -> ModelView:
        return self.query_one("#model-view")  # type: ignore[return-value]

    @property
    def runs_view(self) -> RunsView:
        return self.query_one("#runs-view")  # type: ignore[return-value]

    @property
    def compare_view(self) -> CompareView:
        return self.query_one("#compare-view")  # type: ignore[return-value]

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The first frame is only this skeleton: Textual itself needs ~0.3 s
        # to import, and composing the whole form and tabs (~120 widgets, six
        # Selects) takes as long again. The rest is mounted by _build_ui.
        yield KvtHeader()
        with Horizontal(id="main"):
            yield Static("Configuration\n\nloading…", id="splash")
        yield KvtFooter()
        yield self.runner  # invisible; here from the start, so that q and signals can ask it

    def on_mount(self) -> None:
        self.sub_title = f"runs: {self.runs_dir}"
        self.call_after_refresh(self._build_ui)

    async def _build_ui(self) -> None:
        """Second phase of start-up: the form, the tabs and the progress strip."""
        from textual.widgets import TabbedContent, TabPane

        from ..widgets.compare_view import CompareView
        from ..widgets.config_form import ConfigForm
        from ..widgets.history_view import HistoryView
        from ..widgets.model_view import ModelView
        from ..widgets.progress import TrainingProgress
        from ..widgets.report import ReportView
        from ..widgets.runs_view import RunsView
        from ..widgets.system_panel import SystemPanel

        live = LiveViews(
            tabs=TabbedContent(id="views", initial="live"),
            history=HistoryView(id="live-box", table_id="metrics", curves_id="curves"),
            report=ReportView(id="report-view"),
            progress=TrainingProgress(id="progress"),
            compare=CompareView(id="compare-view"),
            runs=RunsView(self.runs_dir, id="runs-view"),
            system=SystemPanel(id="system-panel"),
        )
        for pane in (
            TabPane("Live 1", live.system, live.history, id="live"),
            TabPane("Report 2", live.report, id="report"),
            TabPane("Model 3", ModelView(id="model-view"), id="model"),
            TabPane("Runs 4", live.runs, id="runs"),
            TabPane("Compare 5", live.compare, id="compare"),
        ):
            live.tabs.compose_add_child(pane)  # what `with TabbedContent(): with TabPane(...)` does
        main = self.query_one("#main")
        await main.query_one("#splash").remove()
        await main.mount(ConfigForm(self.initial, bell=self.runner.bell, id="config"), live.tabs)
        await self.mount(live.progress, before=self.query_one(KvtFooter))
        self.runner.attach(live)
        self.ui_ready.set()
        self._sync_controls()
        self.query_one("#framework").focus()
        self.app.main_screen_built()  # type: ignore[attr-defined]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # This screen's own worker (t during start-up); the runner and the model view report theirs.
        if event.state == WorkerState.ERROR:
            jobs.report_worker_error(self, event.worker)

    def system_commands(self) -> Iterable[SystemCommand]:
        """The command palette's entries for this screen's keys."""
        yield SystemCommand("Train", "Train with the current settings (t)", self.action_train)
        yield SystemCommand("Stop training", "Stop at the next batch and save the partial run (s)", self.action_stop)
        yield SystemCommand("Export PNGs", "Write curves.png and confusion.png into the run folder (e)", self.action_export)
        yield SystemCommand("Runs", "List past runs; Enter opens one (r)", self.action_runs)
        yield SystemCommand("Model", "Show the model's layers, TensorFlow ops marked (m)", self.action_model)
        yield SystemCommand("Compare", "Pick variants and seeds for a seeded comparison (v)", self.action_compare)
        yield SystemCommand("Run comparison", "Run the Compare tab's queue of variants x seeds (g)", self.action_run_compare)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None: shown dimmed in the footer and not run; False: not shown.
        if action not in KEY_ACTIONS:
            return True
        if action == "leave_field":
            return isinstance(self.focused, Input)
        if not self.ui_ready.is_set():
            # The first frame comes before the form and tabs: the keys show,
            # dimmed; only t is taken, and runs once the form is there.
            return True if action == "train" else None
        if action == "train" and self.runner.training:
            return None
        if action == "stop" and not self.runner.training:
            return None
        if action == "run_compare":
            # Only on the Compare tab: elsewhere g means nothing.
            if self.views.active != "compare":
                return False
            return None if self.runner.training else True
        return True

    # -- small actions -----------------------------------------------------------
    def action_stop(self) -> None:
        self.runner.stop()

    def action_show_tab(self, tab: str) -> None:
        self.views.active = tab

    def action_leave_field(self) -> None:
        if isinstance(self.focused, Input):
            self.set_focus(None)

    def action_runs(self) -> None:
        shown = self.views.active == "runs"
        self.action_show_tab("runs")
        self.query_one("#runs-table").focus()
        if shown:  # no TabActivated comes: read the runs dir again here (after the frame, as that handler does)
            self.call_after_refresh(self.runs_view.reload)

    def action_model(self) -> None:
        self.action_show_tab("model")
        self._describe_selected_model()

    def action_compare(self) -> None:
        self.action_show_tab("compare")
        self.query_one("#compare-variants").focus()

    def action_export(self) -> None:
        run = self.runner.current_run
        if run is None:
            self.notify("No run to export yet: train one (t), or open one from the runs view (r).", severity="warning")
            return
        if self.runner.training:
            self.notify("The run is still training: its PNGs are written when it ends; press e then.", severity="warning")
            return
        self.app.export_pngs(run)  # type: ignore[attr-defined]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A name-based handler (not @on): TabbedContent is imported after the first frame.
        if event.tabbed_content.id != "views":
            return
        self.refresh_bindings()  # g shows on the Compare tab only
        if event.pane.id == "model":
            self._describe_selected_model()
        elif event.pane.id == "runs":
            # The tab first, as it was left; the runs dir is read again right after that frame (a few files a run).
            self.call_after_refresh(self.runs_view.reload)

    # -- what to run ------------------------------------------------------------
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
        if self.runner.training:
            self.notify("A run is already training: stop it first (s).", severity="warning")
            return None
        try:
            config = self.form.build_config()
        except KvtError as exc:
            self.notify(f"{exc}", title="Fix the settings first", severity="error")
            return None
        return self.runner.start_run(config)

    async def _train_when_ready(self) -> None:
        await self.ui_ready.wait()
        self._train_pending = False
        worker = self._train_from_form()
        if worker is None:
            return
        # The run's own end (or failure) is reported by the message handlers;
        # here we only wait for it, so a failed or cancelled run is not an error.
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await worker.wait()

    def resume_run(self, run_dir: Path) -> None:
        """Continue ``run_dir`` from its last finished epoch (the runs view's and run screen's c)."""
        from kvt_models.store.runs import read_run_info

        if self.runner.training:
            self.notify("A run is already training: stop it first (s), then resume.", severity="warning")
            return
        info = read_run_info(run_dir)
        if info is None:
            self.notify(f"{run_dir} is not a kvt run folder (no readable config.json).", title="Cannot resume", severity="error")
            return
        if not info.resumable:
            self.notify(
                f"{info.run_id} is {info.status} with {info.epochs_done}/{info.epochs_total} epochs: nothing to resume.",
                title="Cannot resume", severity="warning",
            )
            return
        cfg = info.config
        self.runner.start_resume(run_dir, f"{info.run_id} after epoch {info.epochs_done} of {info.epochs_total} "
                          f"({cfg.get('framework', '?')} + {cfg.get('activation', '?')})")

    def action_run_compare(self) -> None:
        if self.runner.training:
            self.notify("A run is training: stop it first (s), then run the comparison.", severity="warning")
            return
        self.views.active = "compare"
        try:
            choice = self.compare_view.choice()
            ray = self.compare_view.where()
            base = self.form.build_config()
        except KvtError as exc:
            self.notify(f"{exc}", title="Fix the comparison first", severity="error")
            return
        self.runner.start_comparison(choice, base, ray)

    # -- the form and its buttons ------------------------------------------------
    def _sync_controls(self) -> None:
        """Buttons, form and footer follow the training state and the form's validity."""
        if not self.ui_ready.is_set():
            return  # _build_ui calls this again once everything is mounted
        form = self.form
        for widget in form.query("Input, Select"):
            widget.disabled = self.runner.training
        self.query_one("#train-button", Button).disabled = self.runner.training or not form.is_valid
        self.query_one("#stop-button", Button).disabled = not self.runner.training
        self.compare_view.set_running(self.runner.training)
        self.refresh_bindings()

    def on_config_form_validity_changed(self) -> None:
        # A name-based handler (not @on): ConfigForm is imported after the first frame.
        self._sync_controls()

    @on(Checkbox.Changed, "#bell")
    def _bell_changed(self, event: Checkbox.Changed) -> None:
        self.runner.bell = event.value

    @on(Button.Pressed, "#train-button")
    def _train_pressed(self) -> None:
        self.action_train()

    @on(Button.Pressed, "#stop-button")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#compare-button")
    def _compare_pressed(self) -> None:
        self.action_run_compare()

    # -- model view ----------------------------------------------------------------
    @on(Select.Changed, "#framework, #activation")
    def _model_choice_changed(self) -> None:
        if self.views.active == "model":
            self._describe_selected_model()

    def _describe_selected_model(self) -> None:
        form = self.form
        self.model_view.show_model(str(form.query_one("#framework", Select).value),
                                   str(form.query_one("#activation", Select).value))

    # -- runs view --------------------------------------------------------------------
    def on_runs_view_open_run(self, message: RunsView.OpenRun) -> None:
        # A name-based handler (not @on): RunsView is imported after the first frame.
        from kvt_models.store.runs import read_run

        from .run import RunScreen

        try:
            record = read_run(message.path)
        except KvtError as exc:
            self.notify(str(exc), title="Cannot open the run", severity="error")
            return

        def closed(resume: Path | None) -> None:
            if resume is not None:  # c on the run screen: it closes with the run to resume
                self.resume_run(resume)

        if self._run_screen is None:  # one screen for every run opened, kept (installed) between opens
            self._run_screen = RunScreen(record)
            self.app.install_screen(self._run_screen, name="kvt-run")
        else:
            self._run_screen.show(record)
        self.app.push_screen(self._run_screen, closed)

    def on_runs_view_resume_run(self, message: RunsView.ResumeRun) -> None:
        self.resume_run(message.path)

    def on_runs_view_edit_notes(self, message: RunsView.EditNotes) -> None:
        from .notes import NotesScreen

        def closed(saved: object) -> None:
            if saved is not None:  # None: Escape, nothing written
                self.runs_view.reload()

        self.app.push_screen(NotesScreen(message.path), closed)

    def on_runs_view_compare_runs(self, message: RunsView.CompareRuns) -> None:
        self.runner.compare_runs(message.paths)
