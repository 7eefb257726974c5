"""Fixtures every folder of tests may use: a cache folder of the test's own (data and cluster tests).

The app's fixtures (a fixed run folder, the screen as text, a fake engine)
are in tui/conftest.py, so that engine tests never import Textual.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache folder of the test's own (not created yet), for ``load_dataset(cache_dir=...)``."""
    return tmp_path / "cache"
