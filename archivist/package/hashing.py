"""Fixity: SHA-512 and SHA-256 of a file in one read.

Each file is read once in fixed-size chunks and both digests are updated
from the same buffer, so memory stays flat whatever the file size. Files
are spread over a thread pool; hashlib releases the GIL on large buffers,
so threads use every core without copying data between processes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from archivist.errors import UnsafePathError
from archivist.package.layout import ALGORITHMS

R = TypeVar("R")  # what a job of ``map_files`` returns

CHUNK = 1 << 20


@dataclass(frozen=True)
class Fixity:
    size: int
    digests: dict[str, str]  # algorithm -> lowercase hex

    @property
    def sha256(self) -> str:
        return self.digests["sha256"]


def _new(algorithms: Iterable[str] = ALGORITHMS) -> list:
    return [hashlib.new(a) for a in algorithms]


def _finish(hashers: list, size: int, algorithms: Iterable[str] = ALGORITHMS) -> Fixity:
    return Fixity(size, {a: h.hexdigest() for a, h in zip(algorithms, hashers)})


class HashingWriter:
    """A binary file that keeps the package's digests of what is written, so the file need not be read back."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.size = 0
        self._hashers = _new()

    def write(self, data: bytes) -> int:
        self.f.write(data)
        for h in self._hashers:
            h.update(data)
        self.size += len(data)
        return len(data)

    def fixity(self) -> Fixity:
        return _finish(self._hashers, self.size)


def hash_bytes(data: bytes, *, algorithms: Iterable[str] = ALGORITHMS) -> Fixity:
    algorithms = tuple(algorithms)
    hashers = _new(algorithms)
    for h in hashers:
        h.update(data)
    return _finish(hashers, len(data), algorithms)


def hash_file(path: Path, progress: Callable[[int], None] | None = None, *,
              algorithms: Iterable[str] = ALGORITHMS) -> Fixity:
    """Digests of one file in one read; ``algorithms`` are hashlib names (a bag may use md5 or sha1)."""
    algorithms = tuple(algorithms)
    hashers = _new(algorithms)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    # O_NONBLOCK: a FIFO in a file's place must be refused, not waited on (no effect on regular files).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError("PATH-NOT-FILE", f"{path} is not a regular file")
    with open(fd, "rb", buffering=0) as f:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := f.readinto(buf):
            chunk = view[:n]
            for h in hashers:
                h.update(chunk)
            size += n
            if progress:
                progress(n)
    return _finish(hashers, size, algorithms)


def copy_and_hash(src: Path, dst: Path, progress: Callable[[int], None] | None = None) -> Fixity:
    """Copy ``src`` to a new file ``dst`` and hash what was written, in one read."""
    hashers = _new()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    with open(src, "rb", buffering=0) as fin, open(dst, "xb", buffering=0) as fout:
        while n := fin.readinto(buf):
            chunk = view[:n]
            fout.write(chunk)
            for h in hashers:
                h.update(chunk)
            size += n
            if progress:
                progress(n)
        os.fsync(fout.fileno())
    shutil.copystat(src, dst)
    return _finish(hashers, size)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def map_files(
    func: Callable[..., R],
    jobs: Iterable[tuple],
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[tuple, R | BaseException]]:
    """Run ``func(*job, progress)`` over jobs in parallel; yield (job, result or error).

    Results come back in submission order. Errors are returned, not raised,
    so a caller that must report every problem (``verify``) sees them all.
    """
    jobs = list(jobs)
    workers = workers or default_workers()

    def run(job: tuple) -> R | BaseException:
        try:
            return func(*job, progress=progress)
        except OSError as exc:
            return exc

    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, run(job)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # A few jobs in flight per worker, results in submission order: memory stays flat
        # however many files there are (map() would hold a future for every job at once).
        pending: deque = deque()
        for job in jobs:
            pending.append((job, pool.submit(run, job)))
            if len(pending) >= 4 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
