"""How the data loader words what went wrong: exceptions and file sizes as short text.

Every problem a user can cause reaches them as one line (a ``DataError``), so
an exception text from tarfile, zlib, pickle or urllib, which can span lines
or run long, is flattened and cut before it goes into a message.
"""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"
