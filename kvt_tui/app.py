"""The kvt-tui App: theme, signals, quitting, help and PNG export.

Everything else belongs to the screens (:mod:`kvt_tui.screens`): the main
screen owns the layout, the keys that act on it, the workers that train and
the handlers of the engine's messages. Training, resuming, comparison queues
and the model view's layer tables all run in child processes
(:mod:`kvt_models.train.isolated`), so the app process never imports TensorFlow or
Keras and stays small however long it runs. matplotlib and plotext are
imported inside the worker or method that needs them, after the first frame.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Iterable

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from kvt_models.errors import KvtError
from kvt_models.settings.config import RunConfig

from . import jobs, textual_leaks
from .heap import IdleCollector
from .messages import ExportDone
from .screens.main import MainScreen, TrainFn

log = logging.getLogger("kvt_tui")


class KvtApp(App[None]):
    """Pick a framework and activation, train MiniVGGNet live, read the report."""

    CSS_PATH = "app.tcss"
    # Screens narrower than 96 columns get the "-narrow" class (see app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (96, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (28, "-tall")]
    TITLE = "kvt · Keras vs. TensorFlow"
    # The main screen's keys come first in its footer; these two follow on every screen.
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    main_screen: MainScreen  # made by get_default_screen, when the app starts

    def __init__(
        self,
        initial: RunConfig,
        runs_dir: Path,
        *,
        log_path: str = "",
        train_fn: TrainFn | None = None,
        bell: bool = True,
        idle_gc: bool = False,
    ) -> None:
        textual_leaks.install()  # before the first frame: each widget's lines are freed with it
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # Over SSH each animation frame is a redraw sent down the line and CPU taken from the run
            # (a tab switch's underline slides for 0.3 s, ~18 frames); a user's own setting wins.
            self.animation_level = "none"
        self.initial = initial
        self.runs_dir = runs_dir
        self.bell_when_done = bell
        self.log_path = log_path or "(not logging: started without kvt-tui's main)"
        self.train_fn = train_fn
        # kvt-tui's own app only (kvt_tui.heap): full collections between keys
        self.idle_gc: IdleCollector | None = IdleCollector(self) if idle_gc else None

    def get_default_screen(self) -> MainScreen:
        self.main_screen = MainScreen(self.initial, self.runs_dir, train_fn=self.train_fn, bell=self.bell_when_done)
        return self.main_screen

    def main_screen_built(self) -> None:
        """The main screen's form and tabs are up: what lives as long as the app is built."""
        if self.idle_gc is not None:
            self.idle_gc.start()

    async def on_event(self, event: events.Event) -> None:
        if self.idle_gc is not None and isinstance(event, (events.Key, events.MouseEvent)):
            self.idle_gc.input_seen()
        await super().on_event(event)

    def on_mount(self) -> None:
        if self.is_headless:
            return
        if self.console.color_system in (None, "standard", "windows"):
            # A 16-colour terminal: use the terminal's own ANSI colours rather
            # than approximations of the default theme's truecolor palette.
            self.theme = "ansi-dark"
        # Over SSH a dropped connection is a SIGHUP; a service manager sends
        # SIGTERM. Either way, stop the run gracefully so it is saved.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        """SIGTERM / SIGHUP: like q, without the question (nobody may be there to answer)."""
        runner = self.main_screen.runner
        log.info("got signal %d: %s", signum, "stopping the run, then quitting" if runner.training else "quitting")
        if runner.training:
            runner.stop_then_quit()
        else:
            self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
            yield from screen.system_commands()
        yield SystemCommand("Help", "Keys and notes (?)", self.action_help)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen(self.log_path))

    # -- quitting ----------------------------------------------------------------
    async def action_quit(self) -> None:
        from .screens.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return  # already asking
        runner = self.main_screen.runner
        if not runner.training:
            self.exit()
            return
        if runner.quit_after_run:
            self.notify("Still saving the run; kvt-tui quits as soon as it is on disk.")
            return

        def answered(yes: bool | None) -> None:
            if yes and runner.training:
                runner.stop_then_quit()
                self.notify("Stopping at the next batch, saving the run, then quitting…")
            elif yes:
                self.exit()

        self.push_screen(
            ConfirmScreen("A run is training. Stop it at the next batch, save the partial run, and quit?"),
            answered,
        )

    # -- export -------------------------------------------------------------------
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

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            # The export worker reports its own KvtErrors; anything reaching
            # here is a bug: say so and keep the app running.
            jobs.report_worker_error(self, event.worker)
