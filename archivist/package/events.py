"""The append-only event log: one PREMIS-style event per command.

``data/records/events.jsonl`` holds one JSON event per line. Each event
carries the SHA-256 of the line before it, so removing or editing an
earlier event breaks the chain and ``verify`` reports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import TYPE_CHECKING

from archivist import __version__
from archivist.package import kinds, records
from archivist.package.layout import Layout

if TYPE_CHECKING:
    from archivist.package.transaction import Transaction

LABEL = kinds.EVENT.label

# PREMIS event types (id.loc.gov/vocabulary/preservation/eventType).
PREMIS_TYPES = {
    "creation": "http://id.loc.gov/vocabulary/preservation/eventType/cre",
    "ingestion": "http://id.loc.gov/vocabulary/preservation/eventType/ing",
    "message digest calculation": "http://id.loc.gov/vocabulary/preservation/eventType/mes",
    "metadata modification": "http://id.loc.gov/vocabulary/preservation/eventType/mem",
    "migration": "http://id.loc.gov/vocabulary/preservation/eventType/mig",
    "validation": "http://id.loc.gov/vocabulary/preservation/eventType/val",
    "recovery": "http://id.loc.gov/vocabulary/preservation/eventType/rec",
}


def new_event(command: str, premis_type: str, time: str, objects: list[dict], *,
              detail: str = "", outcome: str = "success", outcome_detail: str = "") -> dict:
    event = {
        "schema": LABEL,
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": premis_type,
        "type_uri": PREMIS_TYPES[premis_type],
        "command": command,
        "time": time,
        "agent": {"name": "archivist", "version": __version__},
        "outcome": outcome,
        "objects": objects,
        "previous": None,
    }
    if detail:
        event["detail"] = detail
    if outcome_detail:
        event["outcome_detail"] = outcome_detail
    return event


def last_line_hash(data: bytes) -> str | None:
    lines = data.splitlines(keepends=True)
    return hashlib.sha256(lines[-1]).hexdigest() if lines else None


def append(txn: Transaction, event: dict) -> None:
    """Chain ``event`` to the log as it stands in the package and stage the new log."""
    rel = Layout.EVENT_LOG
    if rel in txn.staged:
        current = txn.staged_path(rel).read_bytes()
    elif txn.exists(rel):
        current = txn.layout.path(rel).read_bytes()
    else:
        current = b""
    event["previous"] = last_line_hash(current)
    seal = txn.root / Layout.PACKAGE_SEAL
    if os.path.isfile(seal) and not os.path.islink(seal):
        # The commit removes the seal; the log says so, so verify can tell (C2PA-007).
        event["seal_removed"] = {"sha256": hashlib.sha256(seal.read_bytes()).hexdigest()}
    txn.append_line(rel, records.dumps_line(event, LABEL))


class LogProblem(str):
    """A problem of the event log as text, with what it is: ``"json"``, ``"schema"``, ``"chain"`` or ``"end"``.

    >>> p = LogProblem("chain", "line 2: hash chain broken")
    >>> p.kind, str(p)
    ('chain', 'line 2: hash chain broken')
    """

    kind: str

    def __new__(cls, kind: str, text: str) -> LogProblem:
        self = super().__new__(cls, text)
        self.kind = kind
        return self


def parse(data: bytes) -> tuple[list[dict], list[LogProblem]]:
    """Events in order, and every problem found (schema, JSON, broken chain)."""
    events, problems = [], []
    previous = None
    for n, line in enumerate(data.splitlines(keepends=True), 1):
        try:
            event = records.parse_json(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            problems.append(LogProblem("json", f"line {n}: not JSON ({why})"))
            previous = hashlib.sha256(line).hexdigest()
            continue
        for p in records.problems(event, LABEL):
            problems.append(LogProblem("schema", f"line {n}: {p}"))
        if isinstance(event, dict) and event.get("previous") != previous:
            problems.append(LogProblem("chain", f"line {n}: hash chain broken (an earlier event was changed or removed)"))
        events.append(event)
        previous = hashlib.sha256(line).hexdigest()
    if data and not data.endswith(b"\n"):
        problems.append(LogProblem("end", "the log does not end with a newline (truncated write?)"))
    return events, problems
