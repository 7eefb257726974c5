"""What the kvt-tui tests share: pilot helpers and the screen as text (run folders and engines: runfactory.py).

A helper module, not a test file: the UI tests import from here (the
fixtures in conftest.py wrap some of it), never from one another.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from typing import Any

from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import Input, Select

from kvt_models.settings.recipes import RECIPES
from kvt_models.variants import ACTIVATIONS
from kvt_tui.widgets.config_form import BACKEND_OPTIONS, DATASET_OPTIONS, FRAMEWORK_OPTIONS

SIZE = (100, 30)


# -- driving the app -----------------------------------------------------------
async def ready(pilot: Pilot) -> None:
    """Wait until the main screen has mounted its whole UI (it comes right after the first frame)."""
    await pilot.app.main_screen.ui_ready.wait()
    await pilot.pause()


async def wait_all(pilot: Pilot) -> None:
    """Wait until every worker is done and the UI has handled their last messages."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    # A worker's last message (a comparison's result) may start another step: settle twice.
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def focus_with_tab(pilot: Pilot, widget_id: str) -> None:
    """Press Tab until ``widget_id`` has the focus, as a keyboard user would."""
    for _ in range(30):
        if pilot.app.focused is not None and pilot.app.focused.id == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached #{widget_id}; focus is on {pilot.app.focused!r}")


# Each Select of the form and its values, in the order it lists them.
SELECT_VALUES = {
    "framework": [value for _, value in FRAMEWORK_OPTIONS],
    "activation": list(ACTIVATIONS),
    "backend": [value for _, value in BACKEND_OPTIONS],
    "dataset": [value for _, value in DATASET_OPTIONS],
    "recipe": list(RECIPES),
}


async def choose(pilot: Pilot, select_id: str, value: str) -> None:
    """Open a Select with Enter, move with the arrow keys to ``value``, confirm with Enter."""
    await focus_with_tab(pilot, select_id)
    select = pilot.app.screen.query_one(f"#{select_id}", Select)
    values = SELECT_VALUES[select_id]
    steps = values.index(value) - values.index(select.value)
    await pilot.press("enter", *(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await pilot.pause()
    assert select.value == value


async def type_into(pilot: Pilot, input_id: str, text: str) -> None:
    """Tab to a text field, clear it and type ``text``."""
    await focus_with_tab(pilot, input_id)
    field = pilot.app.screen.query_one(f"#{input_id}", Input)
    await pilot.press("end", "ctrl+u", *text)  # ctrl+u: delete everything left of the cursor
    await pilot.pause()
    assert field.value == text


def record_notifications(app: Any) -> list[SimpleNamespace]:
    """Every notification the app shows from now on (message, title, severity), in order."""
    seen: list[SimpleNamespace] = []
    notify = app.notify

    def recording(message: str, *, title: str = "", severity: str = "information", **kwargs: Any) -> None:
        seen.append(SimpleNamespace(message=message, title=title, severity=severity))
        notify(message, title=title, severity=severity, **kwargs)

    app.notify = recording  # widgets' and screens' notify() go through app.notify
    return seen


# -- the screen as text ----------------------------------------------------------
_CLIP_WIDTH = re.compile(r'<clipPath id="[\w-]+-line-0">\s*<rect x="0" y="[\d.]+" width="([\d.]+)"')
_TEXT = re.compile(r'<text class="[\w-]+" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" clip-path="url\(#[\w-]+-line-(\d+)\)">(.*?)</text>')


def render_screen_text(app: Any) -> str:
    """What the terminal shows right now, as plain text (styles dropped), one line per row.

    Read from the app's own screenshot (``App.export_screenshot``, an SVG in
    which each ``<text>`` is a run of characters at a cell of a row).
    """
    width, height = app.size
    svg = app.export_screenshot()
    clip = _CLIP_WIDTH.search(svg)
    assert clip is not None, "no row in the screenshot"
    cell = float(clip.group(1)) / width
    rows = [[" "] * width for _ in range(height)]
    for x, y, text in _TEXT.findall(svg):
        row, column = rows[int(y)], round(float(x) / cell)
        for char in html.unescape(text).replace("\xa0", " "):
            row[column] = char
            for extra in range(1, cell_len(char)):  # a wide character covers the next cell too
                row[column + extra] = ""
            column += max(cell_len(char), 1)
    return "\n".join("".join(row) for row in rows)
