"""Reading, inference and writing of successive frames at the same time.

Three stages on their own threads, joined by bounded queues: while the
model works on frame n, frame n+1 is being read and decoded and frame n-1
encoded, hashed, described and signed. The bounds (``read_ahead``,
``write_behind``) cap memory at a few frames whatever the run's length;
``plan`` sizes them and the thread counts from the host's cores and memory.
OpenImageIO, hashlib, onnxruntime and PyTorch release the GIL in their
heavy loops, so the stages really overlap.

Results come back in frame order. The first error stops the pipeline: no
new frame is started, frames already being written are finished (their
results are still good), and the error is raised to the caller after them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

J = TypeVar("J")

# What one frame in flight holds, in frames of float32 R'G'B': the decoded frame and the model's planes
# on the way in; the model's output, R'G'B'/ACES and the half-float copy on the way out.
FRAMES_HELD_READING = 2.0
FRAMES_HELD_WRITING = 2.5
MEMORY_SHARE = 0.25  # of the memory available when the run starts


@dataclass(frozen=True)
class Plan:
    """Threads and queue bounds of a run's pipeline."""

    read_workers: int
    write_workers: int
    read_ahead: int
    write_behind: int

    def as_dict(self) -> dict:
        return {"read_workers": self.read_workers, "write_workers": self.write_workers,
                "read_ahead": self.read_ahead, "write_behind": self.write_behind}


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (``MemAvailable``), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def plan(frame_bytes: int, *, queue_depth: int = 2, cores: int | None = None, available: int | None = None) -> Plan:
    """Size the pipeline from the host: writers on every core but the model's, queues from memory.

    Encoding an EXR is the costliest host stage (PIZ about 0.2 to 0.5 CPU seconds for a 2K frame), so
    there is a writer per core, less the one the model's thread keeps busy, and at least
    ``min(2, queue_depth)`` as before; a reader per four cores. Each writer needs a frame to work on, so
    ``write_behind`` is at least the number of writers, and both queues are at least ``queue_depth``;
    then both are cut until the frames they hold (``frame_bytes`` each, float32 R'G'B') fit in a quarter
    of the memory available, never below one frame.

    Args:
        frame_bytes: bytes of one float32 R'G'B' frame (width x height x 3 x 4).
        queue_depth: the run's ``--queue-depth``.
        cores: host cores (default: those this process may run on).
        available: bytes of memory available (default: ``MemAvailable``; unlimited when unknown).

    >>> plan(38_240_256, cores=2, available=16 * 2**30)
    Plan(read_workers=1, write_workers=2, read_ahead=2, write_behind=2)
    >>> plan(38_240_256, cores=16, available=64 * 2**30)
    Plan(read_workers=4, write_workers=15, read_ahead=4, write_behind=15)
    >>> plan(38_240_256, cores=16, available=1 * 2**30)  # little memory: fewer frames in flight
    Plan(read_workers=4, write_workers=15, read_ahead=2, write_behind=1)
    """
    import os

    cores = cores or len(os.sched_getaffinity(0))
    queue_depth = max(1, queue_depth)
    read_workers = max(1, cores // 4)
    write_workers = max(min(2, queue_depth), cores - 1)
    read_ahead = max(queue_depth, read_workers)
    write_behind = max(queue_depth, write_workers)
    available = available_memory() if available is None else available
    if available is not None and frame_bytes > 0:
        budget = available * MEMORY_SHARE
        while (read_ahead * FRAMES_HELD_READING + write_behind * FRAMES_HELD_WRITING) * frame_bytes > budget \
                and (read_ahead > 1 or write_behind > 1):
            if write_behind >= read_ahead and write_behind > 1:
                write_behind -= 1
            else:
                read_ahead -= 1
    return Plan(read_workers, write_workers, read_ahead, write_behind)


class Timings:
    """Seconds spent per named step, summed over threads (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.totals: dict[str, float] = {}

    def add(self, parts: dict[str, float]) -> None:
        with self._lock:
            for k, v in parts.items():
                self.totals[k] = self.totals.get(k, 0.0) + float(v)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {k: round(v, 4) for k, v in sorted(self.totals.items())}


def run(jobs: Iterable[J], load: Callable, infer: Callable, store: Callable, *, read_ahead: int = 2,
        write_behind: int = 2, read_workers: int = 1, write_workers: int = 2,
        timings: Timings | None = None) -> Iterator:
    """Yield ``store(job, infer(job, load(job)))`` for every job, in order, pipelined.

    >>> out = list(run(range(5), lambda j: j, lambda j, x: x * 10, lambda j, y: y + 1))
    >>> out
    [1, 11, 21, 31, 41]
    """
    timings = timings or Timings()
    jobs = iter(jobs)
    reads: deque[tuple[J, Future]] = deque()
    writes: deque[Future] = deque()
    with ThreadPoolExecutor(max(1, read_workers), thread_name_prefix="read") as rpool, \
            ThreadPoolExecutor(max(1, write_workers), thread_name_prefix="write") as wpool:

        def top_up() -> None:
            while len(reads) < max(1, read_ahead):
                try:
                    job = next(jobs)
                except StopIteration:
                    return
                reads.append((job, rpool.submit(load, job)))

        try:
            top_up()
            while reads:
                job, fut = reads.popleft()
                t0 = time.perf_counter()
                data = fut.result()
                t1 = time.perf_counter()
                top_up()
                out = infer(job, data)
                t2 = time.perf_counter()
                timings.add({"wait_read": t1 - t0, "infer_stage": t2 - t1})
                while len(writes) >= max(1, write_behind):
                    t3 = time.perf_counter()
                    result = writes.popleft().result()
                    timings.add({"wait_write": time.perf_counter() - t3})
                    yield result
                writes.append(wpool.submit(store, job, out))
            while writes:
                t3 = time.perf_counter()
                result = writes.popleft().result()
                timings.add({"wait_write": time.perf_counter() - t3})
                yield result
        except BaseException:
            for _, fut in reads:
                fut.cancel()
            # Frames already being written finish; their results are complete and stay usable.
            for fut in writes:
                try:
                    fut.result()
                except BaseException:
                    pass
            raise
