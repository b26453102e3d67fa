"""Package state: a live writer, or work left by a command that was killed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from archivist.package.layout import WORK_DIR, Layout
from archivist.package.locking import writer_active
from archivist.verify.report import Report


def work_link(root: Path) -> str | None:
    """The first symbolic link at or under ``.archivist``, never following one."""
    work = root / WORK_DIR
    if os.path.islink(work):
        return WORK_DIR
    if not os.path.isdir(work):
        return None
    for dirpath, dirnames, filenames in os.walk(work):
        for name in sorted(dirnames + filenames):
            if os.path.islink(os.path.join(dirpath, name)):
                return os.path.relpath(os.path.join(dirpath, name), root)
    return None


def check(root: Path, report: Report) -> None:
    link = work_link(root)
    if link:
        report.add("PKG-005", link, "is a symbolic link; write commands refuse the package until it is removed "
                                    "(archivist never writes through a link)")
        return
    holder = writer_active(root)
    if holder:
        report.add("PKG-001", Layout.LOCK, f"a command is writing to the package ({holder}); verify again when "
                                           "it has finished")
        return
    try:
        if not stat.S_ISDIR(os.lstat(root / WORK_DIR).st_mode):
            return  # not ours; a link there is reported by the BAG rules
    except FileNotFoundError:
        return
    if os.path.lexists(root / Layout.JOURNAL) or os.path.lexists(root / Layout.STAGING):
        report.add("PKG-002", WORK_DIR, f"an interrupted command left unfinished work in {WORK_DIR}/; run "
                                        f"'archivist recover {root}' to roll it back")
        return
    left = sorted(os.listdir(root / WORK_DIR))
    runs = os.path.join(root, WORK_DIR, "runs")
    if left == ["runs"] or (set(left) <= {"runs", "lock"} and os.path.isdir(runs)):
        names = ", ".join(sorted(os.listdir(runs))) or "none"
        report.add("PKG-003", WORK_DIR, f"unfinished inference runs wait in {WORK_DIR}/runs/ ({names}); run the "
                                        "same 'archivist infer' command again to finish them")
        return
    report.add("PKG-003", WORK_DIR, f"stale working files in {WORK_DIR}/ ({', '.join(left) or 'empty'}); "
                                    f"'archivist recover {root}' removes them")
