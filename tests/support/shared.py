"""Expensive fixtures built once per test run, whether the run has one process or several (pytest-xdist).

A build goes into a folder that every worker of the run can see (the parent of
the workers' own temporary folders, or the session's temporary folder when
there are no workers). An exclusive file lock makes the first worker that
needs it build it while any other waits, and a marker written after the build
tells later callers it is complete; they read the build's JSON result. Tests
still copy a build before they change it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def run_root(tmp_path_factory) -> Path:
    """The temporary folder shared by every process of this test run."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> tuple[Path, object]:
    """``(folder, result)`` of ``build(folder)``, run once per test run under ``run_root/name``.

    ``result`` must be JSON-serialisable: the other processes read it from disk.
    A build that raised leaves no marker, so the next caller tries again (and fails the same way).
    """
    root = run_root(tmp_path_factory)
    folder, done = root / name, root / f"{name}.done.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                result = build(folder)
                done.write_text(json.dumps(result), "utf-8")
            return folder, json.loads(done.read_text("utf-8"))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
