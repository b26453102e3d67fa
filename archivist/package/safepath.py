"""Checks that keep every path inside the package root.

Paths in a package are POSIX relative paths. Anything that could point
outside the root (``..``, an absolute path, a drive letter, a backslash,
a NUL) is refused before it reaches the filesystem. Names that differ only
in Unicode normalisation are refused by the callers that see the whole set
(``nfc_key``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from pathlib import Path, PurePosixPath

from archivist.errors import UnsafePathError

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)
_ELEMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_relpath(rel: str) -> PurePosixPath:
    """Return ``rel`` as a PurePosixPath if it is a safe package path.

    >>> str(check_relpath("data/sources/a/f.0001.exr"))
    'data/sources/a/f.0001.exr'
    >>> check_relpath("data/../x")
    Traceback (most recent call last):
    ...
    archivist.errors.UnsafePathError: PATH-001: path 'data/../x' has a '..' or empty component
    """
    return PurePosixPath(check_relpath_text(rel))


def check_relpath_text(rel: str) -> str:
    """``check_relpath`` without building a path object (``verify`` checks millions of manifest lines)."""
    if not isinstance(rel, str) or rel == "":
        raise UnsafePathError("PATH-001", "empty path")
    if "\x00" in rel or "\\" in rel:
        raise UnsafePathError("PATH-002", f"path {rel!r} contains a NUL or backslash")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise UnsafePathError("PATH-003", f"path {rel!r} is absolute")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError("PATH-001", f"path {rel!r} has a '..' or empty component")
    return rel


def check_element_id(element: str) -> str:
    """Element IDs become directory names, so they are kept plain."""
    if not _ELEMENT_ID.match(element or "") or element in (".", ".."):
        raise UnsafePathError(
            "PATH-005",
            f"element id {element!r} must be 1-64 characters of letters, digits, '.', '_' or '-'"
            " and start with a letter or digit",
        )
    return element


def check_file_name(name: str) -> str:
    """A single file name that will be kept as it is inside the package."""
    if "/" in name:
        raise UnsafePathError("PATH-002", f"file name {name!r} contains '/'")
    check_relpath(name)
    return name


# Matches every path that has a reserved part, and a few more: a cheap first test for millions of paths.
_MAYBE_RESERVED = re.compile(r"(?:^|/)(?:con|prn|aux|nul|com|lpt)|[ .](?:/|$)", re.I)


def has_windows_reserved(path: str) -> str | None:
    """The first part of ``path`` that cannot be a file name on Windows, if any."""
    if not _MAYBE_RESERVED.search(path):
        return None
    return next((part for part in path.split("/") if is_windows_reserved(part)), None)


def is_windows_reserved(name: str) -> bool:
    return bool(_WINDOWS_RESERVED.match(name)) or name.endswith((" ", "."))


def nfc_key(rel: str) -> str:
    return unicodedata.normalize("NFC", rel)


def resolve_inside(root: Path, rel: str) -> Path:
    """Join ``rel`` to ``root`` and refuse symlinks on the way.

    The target itself need not exist; every existing component between the
    root and the target must be a real directory or file, not a link.
    """
    pure = check_relpath(rel)
    current = root
    for part in pure.parts:
        current = current / part
        if os.path.islink(current):
            raise UnsafePathError("PATH-006", f"path {rel!r} passes through a symbolic link")
    return current


def read_inside(root: Path, rel: str, limit: int) -> bytes:
    """Read a regular file of the package, never through a link, at most ``limit`` bytes."""
    path = resolve_inside(root, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError("PATH-006", f"path {rel!r} passes through a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("PATH-NOT-FILE", f"{rel} is not a regular file")
        if st.st_size > limit:
            raise UnsafePathError("PATH-TOO-LARGE", f"{rel} is {st.st_size} bytes, more than the {limit} a "
                                                    "package file of its kind can be")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise UnsafePathError("PATH-TOO-LARGE", f"{rel} grew past {limit} bytes while read")
        return data
    finally:
        os.close(fd)
