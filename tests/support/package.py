"""Helpers for checking that a package was left exactly as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with the SHA-256 of its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel_dir, d)) + "/"] = "dir"
        for f in filenames:
            p = Path(dirpath) / f
            out[os.path.normpath(os.path.join(rel_dir, f))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
