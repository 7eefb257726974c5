"""Memory sizes as the CLI and the app both show them: ``812 MB``, ``1.10 GB``.

One formatter, so that a run's peak memory reads the same in ``kvt-train``'s
lines and in the app's live view. Decimal units (1 MB = 10^6 bytes), as
``free -h --si`` and most people's arithmetic count.
"""

from __future__ import annotations


def format_bytes(size: float) -> str:
    """``0 MB``, ``812 MB``, ``1.10 GB``, ``12.3 GB``; a negative or NaN size reads ``0 MB``."""
    size = size if size == size and size > 0 else 0
    if size < 999.5e6:
        return f"{size / 1e6:.0f} MB"
    gigabytes = size / 1e9
    return f"{gigabytes:.2f} GB" if gigabytes < 9.995 else f"{gigabytes:.1f} GB"
