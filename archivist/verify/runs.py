"""Runs left behind: a training run that says ``running`` when nothing is working on it (PKG-004).

Inference runs that are not finished are reported by the lineage checks
(OUT-006), which also know what the run still lacks.
"""

from __future__ import annotations

from pathlib import Path

from archivist.package import kinds
from archivist.package.layout import Layout
from archivist.package.locking import writer_active
from archivist.verify.records import Records
from archivist.verify.report import Report

TRAINING_LABEL = kinds.TRAINING_RUN.label


def check(root: Path, recs: Records, report: Report) -> None:
    if writer_active(root):
        return  # PKG-001 says a command is at work; its run may well be running
    for path, rec in sorted(recs.valid.items()):
        if rec.get("schema") != TRAINING_LABEL or rec.get("status") != "running":
            continue
        if path != Layout.record("training", rec["id"]):
            continue  # a misplaced record is reported by the consistency checks
        report.add("PKG-004", path, f"training run {rec['id']} says running at step {rec['step']} of "
                                    f"{rec['settings']['steps']}, but no archivist command is writing to the "
                                    f"package: it was abandoned; 'archivist train {root} --resume {rec['id']}' "
                                    "continues it")
