"""One writer at a time, many readers.

The lock is ``.archivist/lock`` held with ``flock``: the kernel drops it
when its holder dies, so a killed command never leaves a package locked
for ever. Readers never create files (packages may sit on read-only
storage); they only ask whether a writer holds an existing lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

from archivist.errors import LockedError, PackageError
from archivist.package.layout import WORK_DIR, Layout

# Everything a command may create under .archivist; none of it may be a link,
# or a write meant for the package would land wherever the link points.
WORK_ENTRIES = ("lock", "journal.json", "staging", "tags", "backup", "runs")


def _link_error(root: Path, rel: str) -> PackageError:
    return PackageError("PACKAGE-WORK-LINK", f"{root / rel} is a symbolic link or not what archivist put there; "
                                         "archivist never follows links in its working directory",
                        hint="remove the link (nothing of the package is in it), then run the command again")


def check_work_dir(root: Path, run: str | None = None) -> None:
    """Refuse a working directory (``.archivist`` or anything archivist puts in it) that is a link."""
    work = root / WORK_DIR
    try:
        st = os.lstat(work)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise _link_error(root, WORK_DIR)
    names = [f"{WORK_DIR}/{n}" for n in WORK_ENTRIES]
    if run is not None:
        names.append(Layout.run_scratch(run))
    for rel in names:
        if os.path.islink(root / rel):
            raise _link_error(root, rel)


class WriteLock:
    def __init__(self, root: Path, command: str):
        self.root = root
        self.path = root / Layout.LOCK
        self.command = command
        self.fd: int | None = None

    def acquire(self) -> WriteLock:
        for _ in range(50):
            check_work_dir(self.root)
            (self.root / WORK_DIR).mkdir(exist_ok=True)
            check_work_dir(self.root)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except FileNotFoundError:  # the holder removed the directory meanwhile
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _link_error(self.root, Layout.LOCK) from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise LockedError(
                        "PACKAGE-LOCKED",
                        f"another archivist command is writing to {self.root} ({holder})",
                        hint="wait for it to finish; a second writer would corrupt the package",
                    ) from None
                raise
            # The file may have been unlinked by a holder that just finished:
            # only a lock on the inode the path still names counts.
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                    "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            os.write(fd, json.dumps(info).encode())
            self.fd = fd
            return self
        raise LockedError("PACKAGE-LOCKED", f"could not take the write lock on {self.root}")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
            try:
                os.rmdir(self.root / WORK_DIR)
            except OSError:
                pass
        finally:
            os.close(self.fd)
            self.fd = None


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {data.get('pid')} on {data.get('host')}, '{data.get('command')}' since {data.get('since')}"
    except (OSError, ValueError):
        return "holder unknown"


T = TypeVar("T")


@contextmanager
def when_unlocked(enter: Callable[[], AbstractContextManager[T]], wait: float, *, delay: float = 0.2,
                  max_delay: float = 5.0) -> Iterator[T]:
    """Enter the context ``enter()`` makes, trying again while another command holds the write lock.

    A long command (training, an inference run) commits in short
    transactions; a short command (an ``add``) holding the lock meanwhile
    should delay a commit, not end the run. Tries are spaced ``delay``
    seconds apart at first, doubling up to ``max_delay``.

    Args:
        enter: makes a fresh context each try, e.g. ``lambda: pkg.transaction("infer")``.
        wait: seconds to keep trying before the ``LockedError`` is raised.

    Returns:
        A context manager that gives what the entered context gives; an
        exception in its body reaches that context's ``__exit__``.
    """
    deadline = time.monotonic() + wait
    while True:
        with ExitStack() as stack:
            try:
                value = stack.enter_context(enter())
            except LockedError:
                if time.monotonic() >= deadline:
                    raise
            else:
                yield value
                return
        time.sleep(delay)
        delay = min(delay * 2, max_delay)


class ScratchLock:
    """One process per inference run: a second ``infer`` on the same run would write the same files.

    Held with ``flock`` on ``<scratch>/lock``, so it goes with its holder;
    the package's write lock is taken only for each commit.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> ScratchLock:
        check_work_dir(self.path.parents[2], self.path.name)  # never a run folder through a link
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PackageError("INFER-RUN-BUSY", f"another archivist infer is working on {self.path.name}") from None
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _holder(path: Path) -> str | None:
    """Who holds ``path`` with ``flock``, or None; creates nothing (packages may be read-only)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        return _read_holder(fd)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether a live process holds the lock file ``path``."""
    return _holder(path) is not None


def writer_active(root: Path) -> str | None:
    """Describe the live writer, if any, without creating anything."""
    if os.path.islink(root / WORK_DIR):
        return None  # not ours: never open anything through it
    return _holder(root / Layout.LOCK)
