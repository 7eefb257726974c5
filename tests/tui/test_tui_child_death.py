"""kvt-tui when a training child process dies (kill -9, the OOM killer, a segfault).

The app trains in a child process; if that process dies, the app must say so
and go back to idle, with the run marked failed and resumable, instead of
showing "training" forever.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from pathlib import Path

import pytest
from runfactory import TRAINING_TIMEOUT, spying
from textual.widgets import Button, Static
from tui_support import SIZE, ready, record_notifications, type_into, wait_all

from kvt_models.events import EpochEnded
from kvt_models.store.runs import read_run
from kvt_tui.cli import create_app


@pytest.mark.long
async def test_a_killed_training_child_ends_the_run_and_the_app_can_train_again(tmp_path: Path) -> None:
    from kvt_models.train.isolated import train_isolated

    runs_dir = tmp_path / "runs"
    first_epoch = threading.Event()

    app = create_app(data="sample", runs_dir=runs_dir, epochs=30, train_fn=spying(train_isolated, EpochEnded, first_epoch))
    notifications = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main_screen
        await type_into(pilot, "train-limit", "96")
        await type_into(pilot, "test-limit", "30")
        await pilot.press("escape", "t")
        assert main.runner.training
        assert await asyncio.to_thread(first_epoch.wait, TRAINING_TIMEOUT)

        run = main.runner.current_run
        assert run is not None
        pid = json.loads((run / "status.json").read_text())["pid"]
        assert pid != os.getpid()  # the child writes the run
        os.kill(pid, signal.SIGKILL)
        await wait_all(pilot)

        # The app is idle again, and says what happened.
        assert not main.runner.training
        assert not main.query_one("#train-button", Button).disabled
        status = str(main.query_one("#progress-status", Static).render())
        assert "killed by SIGKILL" in status
        assert any("killed by SIGKILL" in n.message for n in notifications)
        record = read_run(run)
        assert record.status == "failed" and "killed by SIGKILL" in record.message
        assert record.epochs_done >= 1  # resumable from its last finished epoch

        # ... and it trains again (a stand-in engine this time: the point is that t starts a run).
        started = []
        main.runner.train_fn = lambda config, listener, **kwargs: started.append(config)
        await pilot.press("t")
        await wait_all(pilot)
        assert len(started) == 1 and not main.runner.training
