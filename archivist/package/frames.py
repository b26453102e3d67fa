"""Finding frames and their numbers.

Frame numbers come from the last run of digits before the extension,
separated by ``.`` or ``_`` (``reel1.01001.exr``, ``SHOW_SOURCE_0042.dpx``).
``first_frame`` overrides them: frames are then numbered in name order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from archivist.errors import InputError
from archivist.package.safepath import check_file_name, nfc_key

_NUMBERED = re.compile(r"^(?P<stem>.*?)[._](?P<num>[0-9]+)(?P<ext>\.[A-Za-z]+)$", re.DOTALL)


@dataclass(frozen=True)
class FrameFile:
    path: Path
    name: str
    number: int


def frame_number(name: str) -> int | None:
    """
    >>> frame_number("print16.01001.exr")
    1001
    >>> frame_number("SHOW_REF_0042.dpx")
    42
    >>> frame_number("poster.png") is None
    True
    """
    m = _NUMBERED.match(name)
    return int(m.group("num")) if m else None


def collect(paths: list[Path], first_frame: int | None = None) -> list[FrameFile]:
    """Expand files and directories into frames, sorted by frame number."""
    from archivist.imaging.oiio import FRAME_EXTENSIONS  # here: loading OpenImageIO costs 30 MB that verify need not pay

    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for entry in sorted(os.scandir(p), key=lambda e: e.name):
                if entry.name.lower().endswith(FRAME_EXTENSIONS) and not entry.name.startswith("."):
                    files.append(Path(entry.path))
        elif p.is_file():
            if not p.name.lower().endswith(FRAME_EXTENSIONS):
                raise InputError("ADD-FORMAT", f"{p}: not a frame file (expected {', '.join(FRAME_EXTENSIONS)})")
            files.append(p)
        else:
            raise InputError("ADD-MISSING", f"{p}: no such file or directory")
    if not files:
        raise InputError("ADD-EMPTY", "no frame files found in " + ", ".join(str(p) for p in paths))
    names: dict[str, Path] = {}
    for f in files:
        check_file_name(f.name)
        key = nfc_key(f.name)
        if key in names:
            raise InputError("ADD-DUPLICATE-NAME", f"{f} and {names[key]} would have the same name in the package")
        names[key] = f
    if first_frame is not None:
        files.sort(key=lambda f: f.name)
        return [FrameFile(f, f.name, first_frame + i) for i, f in enumerate(files)]
    out = []
    for f in files:
        n = frame_number(f.name)
        if n is None:
            raise InputError("ADD-FRAME-NUMBER", f"{f.name}: no frame number in the name (name.####.ext)",
                             hint="use --first-frame N to number frames in name order")
        out.append(FrameFile(f, f.name, n))
    out.sort(key=lambda f: (f.number, f.name))
    for a, b in zip(out, out[1:]):
        if a.number == b.number:
            raise InputError("ADD-FRAME-NUMBER", f"{a.name} and {b.name} have the same frame number {a.number}")
    return out
