"""Where kvt keeps its files by default: the runs dir and the decoded-data cache.

A module of its own, with nothing but ``os`` and ``pathlib``, because
``kvt-tui`` needs the runs dir before its first frame and should not pay for
the run store's imports (json, csv, hashlib) to learn a folder name.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_runs_dir() -> Path:
    """``$KVT_RUNS_DIR``, else ``~/.kvt/runs``."""
    env = os.environ.get("KVT_RUNS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".kvt" / "runs"


def default_cache_dir() -> Path:
    """``$KVT_CACHE_DIR`` when set, else ``~/.cache/kvt``."""
    env = os.environ.get("KVT_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "kvt"
