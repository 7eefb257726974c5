"""How the data loader words file sizes as short text.

Exceptions become one line through :func:`kvt_models.errors.one_line`, the
one helper every part of kvt uses for that.
"""

from __future__ import annotations


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"
