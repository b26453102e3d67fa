"""Reading, inference and writing of successive frames at the same time.

Three stages on their own threads, joined by bounded queues: while the
model works on frame n, frame n+1 is being read and decoded and frame n-1
encoded, hashed, described and signed. The bounds (``read_ahead``,
``write_behind``) cap memory at a few frames whatever the run's length.
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
from typing import TypeVar

J = TypeVar("J")


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
