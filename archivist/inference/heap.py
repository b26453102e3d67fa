"""Large native blocks out of glibc's heap, so that a long inference run's memory stays flat.

Found in Ray workers while onnxruntime ran with its arena off: every run
allocated its intermediate tensors afresh, 64-byte aligned (``memalign``).
glibc 2.36 and older do not give a freed aligned block to the next aligned
request of the same size, and a small live block placed after each one
keeps the free ones from merging, so the heap grew by the tensors of every
few frames. Such blocks come from the heap only once glibc's dynamic mmap
threshold has risen above their size, which it does whenever a larger
mapped block is freed, so whether a process grows depends on what it did
before: measured in one Ray worker in about eight, 433 free blocks of
243 KB each behind a live 80-byte one, 108 MiB of a 243 MiB heap, growing
about 230 KB a frame. onnxruntime now keeps its tensors in its arena
(``backends``), but aligned blocks of that size still come from other
libraries and from the arena's own growth. A fixed threshold keeps every
block of 128 KiB or more in its own mapping, returned to the system when
freed, at the cost of the kernel zeroing those pages on each use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
THRESHOLD = 128 * 1024  # glibc's own starting value, now fixed


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
    except (OSError, AttributeError):
        return None
    return libc


def is_glibc() -> bool:
    """Whether this process's C library is glibc (the only one this module changes)."""
    return _glibc() is not None


@functools.cache
def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 128 KiB, once per process.

    Returns:
        True where the C library is glibc and took the setting; False elsewhere (musl, macOS), where
        nothing is changed.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
