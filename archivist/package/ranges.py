"""Frame ranges as people write them: ``1001-1010, 1020``.

One parser for what commands are given (``--frames``) and one printer for
what messages, events and findings say, so that every command reads and
writes ranges the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from archivist.errors import InputError


def parse(text: str, code: str = "FRAME-RANGE") -> list[tuple[int, int]]:
    """Inclusive ranges from ``A-B`` and ``N`` items separated by commas.

    Args:
        text: the ranges, e.g. ``"1001-1003, 1010"``.
        code: the error code of the ``InputError`` raised for text that is not ranges.

    Returns:
        ``(first, last)`` pairs in the order given.

    >>> parse("1001-1003, 1010")
    [(1001, 1003), (1010, 1010)]
    >>> parse("1003-1001", "INFER-FRAMES")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: INFER-FRAMES: frame range '1003-1001' runs backwards
    >>> parse(" , ")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: FRAME-RANGE: an empty frame range
    """
    out = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        a, sep, b = item.partition("-")
        try:
            lo = int(a)
            hi = int(b) if sep else lo
        except ValueError:
            raise InputError(code, f"{item!r} is not a frame number or a range A-B") from None
        if hi < lo:
            raise InputError(code, f"frame range {item!r} runs backwards")
        out.append((lo, hi))
    if not out:
        raise InputError(code, "an empty frame range")
    return out


def show(numbers: Iterable[int]) -> str:
    """Frame numbers as the shortest list of ranges, in order, each number once.

    >>> show([1001, 1002, 1003, 1007])
    '1001-1003, 1007'
    >>> show([5, 3, 4, 4])
    '3-5'
    >>> show([])
    ''
    """
    out: list[str] = []
    run: list[int] = []
    for n in sorted(set(numbers)):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)
