"""The real form, typed into through Pilot, refuses and accepts a value exactly as kvt-train's flag does.

tests/engine/test_options.py checks every option's rule on every front end
with the form's validator; this drives the widgets themselves: a key press in
an Input, the error line under it, the Train button, and the RunConfig the
form builds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from tui_support import SIZE, ready, type_into

from kvt_models.errors import ConfigError
from kvt_models.settings import options
from kvt_tui.cli import create_app

# (field id, option, typed text, the RunConfig field and value it gives, or None for a refusal)
CASES = [
    ("epochs", options.EPOCHS, "0", None),
    ("epochs", options.EPOCHS, "12", ("epochs", 12)),
    ("lr", options.LR, "nan", None),
    ("lr", options.LR, "0.05", ("lr", 0.05)),
    ("batch-size", options.BATCH_SIZE, "65537", None),
    ("train-limit", options.TRAIN_LIMIT, "-3", None),
    ("seed", options.SEED, "42", ("seed", 42)),
]


def _flag_refusal(option: options.Option, text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        option.parse(text, option.flag)
    return str(refused.value)


@pytest.mark.long
async def test_typed_values_are_refused_and_accepted_as_kvt_train_would(tmp_path: Path) -> None:
    app = create_app(data="sample", runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        form = app.query_one("ConfigForm")
        for field_id, option, text, accepted in CASES:
            await type_into(pilot, field_id, text)
            error = app.query_one(f"#{field_id}-error", Static)
            if accepted is None:
                # The form names the setting where kvt-train names its flag; otherwise the same words.
                expected = _flag_refusal(option, text).replace(option.flag, option.name, 1)
                assert error.display and str(error.render()) == expected, field_id
                assert not form.is_valid and app.query_one("#train-button").disabled
            else:
                key, value = accepted
                assert not error.display, str(error.render())
                assert form.is_valid and getattr(form.build_config(), key) == value
            await type_into(pilot, field_id, "")  # back to the default before the next field
