"""Archive metadata (``data/metadata/``) against the package it claims to describe.

The files' hashes are checked like any ``file_ref`` (``CON-001``); here the
metadata record is compared with the event log and the package record, so
metadata written before a later command is named as stale (``CON-006``) and
a record that does not fit the package (``CON-007``) is an error.
"""

from __future__ import annotations

from archivist.package import events
from archivist.package.layout import Layout
from archivist.verify.bag import BagView
from archivist.verify.records import Records
from archivist.verify.report import Report


def check(view: BagView, recs: Records, report: Report) -> None:
    rec = recs.valid.get(Layout.METADATA_RECORD)
    log = view.blobs.get(Layout.EVENT_LOG)
    if rec is None or log is None:
        return
    where = Layout.METADATA_RECORD
    found, _ = events.parse(log)  # a damaged log is REC-003/004
    ids = [e.get("id") if isinstance(e, dict) else None for e in found]
    if rec["event"] not in ids:
        report.add("CON-007", where, f"names describe event {rec['event']}, which is not in the event log")
        return
    at = ids.index(rec["event"])
    if at != rec["events"]:
        report.add("CON-007", where, f"says it describes {rec['events']} events, but its describe event is "
                                     f"event {at + 1} of the log")
    package = recs.valid.get(Layout.PACKAGE_RECORD)
    if package is not None:
        for field in ("identifier", "title"):
            if rec["package"][field] != package[field]:
                report.add("CON-007", where, f"package {field} is {rec['package'][field]!r} but the package "
                                             f"record says {package[field]!r}")
    later = [e for e in found[at + 1:] if isinstance(e, dict)]
    if later:
        commands = ", ".join(dict.fromkeys(str(e.get("command")) for e in later))
        report.add("CON-006", where, f"data/metadata/ describes the package before {len(later)} later "
                                     f"event(s) ({commands}); run 'archivist describe' again")
