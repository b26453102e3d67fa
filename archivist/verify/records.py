"""Records: every ``*.json`` under ``data/records/`` against its schema, and the event log.

Records are read once, before fixity, and their bytes are kept for the
fixity step, so each is read from disk exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from archivist.package import events, records
from archivist.package.layout import Layout
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report

MAX_RECORD_BYTES = 256 << 20  # beyond this a "record" is not parsed: memory stays bounded


@dataclass
class Records:
    paths: list[str] = field(default_factory=list)  # every record file, parsed or not
    parsed: dict[str, object] = field(default_factory=dict)  # path -> JSON value (schema may have failed)
    valid: dict[str, dict] = field(default_factory=dict)  # path -> record that passed its schema


def is_record(path: str) -> bool:
    """Records are the ``*.json`` files under ``data/records/``."""
    place = Layout.classify(path)
    return place.area == "records" and place.what == "record"


def record_paths(tree: Tree) -> list[str]:
    return sorted(p for p in tree.files if is_record(p))


def expected_label(path: str) -> str | None:
    """The label a record must carry where it lies: its folder's kind (``kinds``), or None when unknown."""
    kind = Layout.classify(path).kind
    return kind.label if kind is not None else None


def read(root: Path, tree: Tree, view: BagView) -> None:
    """Read the records and the event log into ``view.blobs`` (once; fixity reuses the bytes)."""
    for path in record_paths(tree) + ([Layout.EVENT_LOG] if Layout.EVENT_LOG in tree.files else []):
        if tree.files[path] <= MAX_RECORD_BYTES and path not in view.hostile:
            try:
                view.blobs[path] = read_small(root, path)
            except OSError:
                pass  # fixity reports it as unreadable


def check(tree: Tree, view: BagView, report: Report) -> Records:
    out = Records(paths=record_paths(tree))
    for path in out.paths:
        data = view.blobs.get(path)
        if data is None:
            report.add("REC-001", path, f"not parsed: {tree.files[path]} bytes is more than a record may be"
                       if tree.files[path] > MAX_RECORD_BYTES else "could not be read")
            continue
        try:
            value = records.parse_json(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.add("REC-001", path, f"not valid UTF-8 JSON: {exc}")
            continue
        out.parsed[path] = value
        found = view.schema_problems.get(path)
        if found is None:
            found = records.problems(value, expected_label(path))
        if found:
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            report.add("REC-002", path, "; ".join(found[:5]) + more)
        else:
            out.valid[path] = value
    _event_log(tree, view, report)
    return out


def _event_log(tree: Tree, view: BagView, report: Report) -> None:
    path = Layout.EVENT_LOG
    if path not in tree.files:
        return  # required by the profile (PRO-011)
    data = view.blobs.get(path)
    if data is None:
        report.add("REC-003", path, "the event log is too large to parse or could not be read")
        return
    _, found = events.parse(data)
    for problem in found:
        report.add("REC-004" if problem.kind == "chain" else "REC-003", path, problem)
