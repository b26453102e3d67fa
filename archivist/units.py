"""Numbers as people read them: sizes in binary units, counts with their noun."""

from __future__ import annotations


def size_text(n: int | float | None) -> str:
    """A byte count in the largest binary unit that keeps it at or above 1.

    >>> size_text(251148706)
    '239.5 MiB'
    >>> size_text(512), size_text(None)
    ('512 bytes', 'unknown size')
    """
    if n is None:
        return "unknown size"
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{int(n)} bytes"  # not reached


def count_text(n: int, noun: str) -> str:
    """``count_text(1, "file")`` is ``'1 file'``, ``count_text(1234, "file")`` is ``'1,234 files'``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
