"""The form's Backend field: runtimes that are not installed are greyed out, with their pip command."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList, Select, Static
from tui_support import choose, ready

from kvt_models.backend import runtime
from kvt_tui.cli import create_app


async def test_the_form_greys_out_missing_runtimes_and_refuses_tf_ops_on_jax(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "available", lambda backend: backend != "torch")
    app = create_app(data="sample", runs_dir=tmp_path / "runs", framework="tensorflow", activation="crelu")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        form = app.query_one("ConfigForm")
        overlay = app.query_one("#backend", Select).query_one(OptionList)
        assert [overlay.get_option_at_index(i).disabled for i in range(4)] == [False, False, True, False]
        hint = str(app.query_one("#backend-hint", Static).render())
        assert "PyTorch not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu" in hint

        await choose(pilot, "backend", "jax")  # the tensorflow framework is selected: refused, Train off
        error = str(app.query_one("#backend-error", Static).render())
        assert error.startswith("the tensorflow framework cannot run on jax") and not form.is_valid
        assert app.query_one("#train-button").disabled

        # From JAX one step down skips the greyed-out PyTorch and lands on Keras 2.
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert app.query_one("#backend", Select).value == "keras2"
        assert form.is_valid and form.build_config().backend == "keras2"
