"""Real processes for the fault tests: who is still alive in a session, and waiting on the file system.

A helper module, not a test file. A process started with
``start_new_session=True`` leads a session of its own; every process it
starts (a run's child, multiprocessing's helpers) stays in that session even
once it is orphaned, so "nothing left behind" means: no process in it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

POLL_S = 0.05  # how often a condition on other processes or on files is looked at


def session_members(sid: int) -> list[int]:
    """The pids of every live process in session ``sid`` (zombies, already dead, are left out)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp session ...: comm may hold spaces, so split after its ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until ``condition()`` is true; AssertionError naming ``what`` after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(POLL_S)
    return time.monotonic() - start


def history_rows(run_dir: Path) -> int:
    try:
        return max(0, len((run_dir / "history.csv").read_text().splitlines()) - 1)
    except OSError:
        return 0


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"
