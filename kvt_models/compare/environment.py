"""Where a comparison's numbers came from: this machine's CPU and cores, and the versions the runs trained on.

For an evidence bundle (:mod:`kvt_models.compare.bundle`). The CPU is read
from ``/proc/cpuinfo`` (Linux; elsewhere :func:`platform.processor`), never
by importing a runtime; the Keras and backend versions are those each run
recorded in its config.json when it trained, so a bundle exported again
later, on another machine, still names them. Runs trained on a Ray node
name their node in status.json; the CPU here is the exporting machine's.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Iterable

from kvt_models import __version__

# The CPU flags that decide how fast (and in which precision) a CPU trains: the vector units and bf16.
SPEED_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
               "avx512_bf16", "avx_vnni", "amx_bf16", "amx_tile", "amx_int8", "asimd", "sve")


def cpu() -> dict[str, Any]:
    """{"model": ..., "flags": [speed flags present], "cores": logical cores, "usable": cores this process may use}."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and value.strip():
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "flags": [f for f in SPEED_FLAGS if f in flags], "cores": os.cpu_count(), "usable": usable}


def environment(run_versions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """This machine and the runtimes the runs recorded (each distinct ``versions`` of config.json once)."""
    runtimes: list[dict[str, Any]] = []
    for versions in run_versions:
        if versions and versions not in runtimes:
            runtimes.append(dict(versions))
    return {"kvt": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu(), "runtimes": runtimes}
