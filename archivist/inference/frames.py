"""Which frames a command works on: ``--frames`` ranges and ``--sample``."""

from __future__ import annotations

from archivist.errors import InputError
from archivist.package import ranges


def parse_range(text: str) -> list[tuple[int, int]]:
    """``1001-1010,1020`` -> [(1001, 1010), (1020, 1020)].

    >>> parse_range("1001-1003, 1010")
    [(1001, 1003), (1010, 1010)]
    >>> parse_range("1003-1001")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: INFER-FRAMES: frame range '1003-1001' runs backwards
    """
    return ranges.parse(text, "INFER-FRAMES")


def select(numbers: list[int], text: str | None) -> list[int]:
    """The element's frame numbers that fall in ``text`` (all of them when None).

    >>> select([1001, 1002, 1003, 1004], "1002-1003")
    [1002, 1003]
    >>> select([1001, 1002], "1005-1006")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: INFER-FRAMES: no frame of the element lies in 1005-1006 (it has 1001-1002)
    """
    if text is None:
        return sorted(numbers)
    ranges = parse_range(text)
    chosen = sorted(n for n in numbers if any(lo <= n <= hi for lo, hi in ranges))
    if not chosen:
        have = f"{min(numbers)}-{max(numbers)}" if numbers else "none"
        raise InputError("INFER-FRAMES", f"no frame of the element lies in {text} (it has {have})")
    return chosen


def sample(numbers: list[int], n: int) -> list[int]:
    """``n`` frames spread evenly by position, both ends included (all when ``n`` >= the count).

    >>> sample([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)
    [1, 5, 9]
    >>> sample([1, 2], 5)
    [1, 2]
    """
    numbers = sorted(numbers)
    if n < 1:
        raise InputError("INFER-SAMPLE", "--sample needs at least 1 frame")
    if n >= len(numbers):
        return numbers
    if n == 1:
        return [numbers[len(numbers) // 2]]
    return sorted({numbers[int(i * (len(numbers) - 1) / (n - 1) + 0.5)] for i in range(n)})
