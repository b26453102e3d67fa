"""Progress reporting that the library can take and the CLI can show.

Library functions take ``progress``: a factory ``progress(total, desc, unit)``
returning an object with ``update(n)`` and ``close()``. ``None`` means silent.
"""

from __future__ import annotations

import sys
import threading


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def silent(total=None, desc="", unit="B"):
    return _Silent()


class _Locked:
    """tqdm's update is not safe from several hashing threads at once."""

    def __init__(self, bar):
        self.bar = bar
        self.lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        with self.lock:
            self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def terminal(total=None, desc="", unit="B"):
    from tqdm import tqdm

    scale = unit == "B"
    return _Locked(tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000,
                        file=sys.stderr, leave=False, disable=not sys.stderr.isatty()))


def start(progress, total=None, desc="", unit="B"):
    return (progress or silent)(total=total, desc=desc, unit=unit)
