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
from typing import Any, Callable

from textual.widgets import Button, Static

from kvt_models.events import EpochEnded, Event
from kvt_models.runs import read_run
from kvt_tui.__main__ import create_app

SIZE = (100, 30)
TRAINING_TIMEOUT = 300  # seconds; generous for a loaded 2-core machine


async def test_a_killed_training_child_ends_the_run_and_the_app_can_train_again(tmp_path: Path) -> None:
    from kvt_models.isolated import train_isolated

    runs_dir = tmp_path / "runs"
    first_epoch = threading.Event()

    def spying_train_isolated(config: Any, listener: Callable[[Event], None], **kwargs: Any) -> Any:
        def spy(event: Event) -> None:
            listener(event)
            if isinstance(event, EpochEnded):
                first_epoch.set()

        return train_isolated(config, spy, **kwargs)

    app = create_app(data="sample", runs_dir=runs_dir, epochs=30)
    app.train_fn = spying_train_isolated
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *args, **kwargs: (said.append(str(message)), notify(message, *args, **kwargs))[1]
    async with app.run_test(size=SIZE) as pilot:
        await app.ui_ready.wait()
        await pilot.pause()
        app.form.query_one("#train-limit").value = "96"
        app.form.query_one("#test-limit").value = "30"
        await pilot.pause()
        await pilot.press("t")
        assert app.training
        assert await asyncio.to_thread(first_epoch.wait, TRAINING_TIMEOUT)

        run = app.current_run
        assert run is not None
        pid = json.loads((run / "status.json").read_text())["pid"]
        assert pid != os.getpid()  # the child writes the run
        os.kill(pid, signal.SIGKILL)
        await app.workers.wait_for_complete()
        await pilot.pause()

        # The app is idle again, and says what happened.
        assert not app.training
        assert not app.query_one("#train-button", Button).disabled
        status = str(app.query_one("#progress-status", Static).render())
        assert "killed by SIGKILL" in status
        assert any("killed by SIGKILL" in text for text in said)
        record = read_run(run)
        assert record.status == "failed" and "killed by SIGKILL" in record.message
        assert record.epochs_done >= 1  # resumable from its last finished epoch

        # ... and it trains again.
        started = []
        app.train_fn = lambda config, listener, **kwargs: started.append(config)
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(started) == 1 and not app.training
