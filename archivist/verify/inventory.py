"""What is on disk: one walk of the bag that never follows a link.

Only paths this walk found to be regular files are ever opened by
``verify``. A manifest entry is matched against the walk, not joined to
the root and opened, so ``..``, absolute paths and links in a manifest
can never make ``verify`` read outside the bag.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archivist.package.layout import WORK_DIR, Layout


@dataclass
class Tree:
    files: dict[str, int] = field(default_factory=dict)  # regular file -> size
    links: set[str] = field(default_factory=set)
    special: set[str] = field(default_factory=set)  # FIFOs, sockets, devices
    dirs: set[str] = field(default_factory=set)

    def payload(self) -> dict[str, int]:
        return {p: s for p, s in self.files.items() if Layout.is_payload(p)}

    def tags(self) -> dict[str, int]:
        return {p: s for p, s in self.files.items() if not Layout.is_payload(p)}

    def link_on_path(self, rel: str) -> str | None:
        """The first link among ``rel`` and its parents, if any."""
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix in self.links:
                return prefix
        return None


def walk(root: Path) -> Tree:
    """Classify everything under ``root`` except archivist's own working directory."""
    tree = Tree()
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                st = entry.stat(follow_symlinks=False)
                mode = st.st_mode
                if stat.S_ISLNK(mode):
                    tree.links.add(rel)
                elif stat.S_ISDIR(mode):
                    if rel == WORK_DIR:
                        continue  # package state, checked by the PKG rules
                    tree.dirs.add(rel)
                    stack.append(rel)
                elif stat.S_ISREG(mode):
                    tree.files[rel] = st.st_size
                else:
                    tree.special.add(rel)
    return tree


def open_regular(root: Path, rel: str) -> BinaryIO:
    """Open a file the walk found regular, refusing a link or special file swapped in since."""
    fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{rel} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_small(root: Path, rel: str) -> bytes:
    """Read a whole file the walk found regular (see ``open_regular``)."""
    with open_regular(root, rel) as f:
        return f.read()
