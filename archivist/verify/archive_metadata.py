"""Archive metadata (``data/metadata/``) against the package it claims to describe.

The files' hashes are checked like any ``file_ref`` (``CON-001``); here the
metadata record is compared with the event log and the package record, so
metadata written before a later command is named as stale (``CON-006``) and
a record that does not fit the package (``CON-007``) is an error.
``check_files`` reads the files themselves and compares what they state with
the records (``CON-008``): titles and identifiers always, and, while the
metadata is current, each element's training-use grant, the event count and
every object's SHA-256.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from archivist.package import events, kinds
from archivist.package.layout import Layout
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree, open_regular, read_small
from archivist.verify.records import Records
from archivist.verify.report import Report

MAX_BYTES = 512 << 20  # beyond this a metadata file is not parsed
PREMIS = "{http://www.loc.gov/premis/v3}"
RESTRICTION = {"authorised": "Allow", "not-authorised": "Disallow", "unknown": "Conditional"}


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


def _stale(view: BagView, rec: dict) -> bool:
    found, _ = events.parse(view.blobs.get(Layout.EVENT_LOG, b""))
    return len(found) != rec["events"] + 1


def _read(root: Path, tree: Tree, rel: str) -> bytes | None:
    if tree.files.get(rel, MAX_BYTES + 1) > MAX_BYTES:
        return None
    try:
        return read_small(root, rel)
    except OSError:
        return None  # reported by fixity


def _rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def check_files(root: Path, tree: Tree, view: BagView, recs: Records, report: Report) -> None:
    rec = recs.valid.get(Layout.METADATA_RECORD)
    package = recs.valid.get(Layout.PACKAGE_RECORD)
    if rec is None or package is None:
        return
    current = not _stale(view, rec)
    named = {f["path"] for f in rec["files"]}
    meta_csv, rights_csv, premis = (f"{Layout.METADATA}/{n}" for n in ("metadata.csv", "rights.csv", "premis.xml"))
    if meta_csv in named and (data := _read(root, tree, meta_csv)) is not None:
        try:
            top = next((r for r in _rows(data) if r.get("filename") == "objects/"), None)
        except (UnicodeDecodeError, csv.Error) as exc:
            report.add("CON-008", meta_csv, f"not readable as UTF-8 CSV: {exc}")
            top = {}
        if top is None:
            report.add("CON-008", meta_csv, "has no row for the package (filename objects/)")
        elif top:
            for column, field in (("dc.title", "title"), ("dc.identifier", "identifier")):
                if top.get(column) != package[field]:
                    report.add("CON-008", meta_csv, f"{column} is {top.get(column)!r} but the package record's "
                                                    f"{field} is {package[field]!r}")
    if not current:
        return  # what follows changes with the package; CON-006 already says the files are old
    if rights_csv in named and (data := _read(root, tree, rights_csv)) is not None:
        try:
            rows = _rows(data)
        except (UnicodeDecodeError, csv.Error) as exc:
            report.add("CON-008", rights_csv, f"not readable as UTF-8 CSV: {exc}")
            rows = []
        for path, e in recs.valid.items():
            if Layout.classify(path).kind is not kinds.ELEMENT or e.get("role") not in ("source", "reference"):
                continue
            file = "objects/" + Layout.element_dir(e["role"], e["id"])[len("data/"):] + "/"
            grants = [r.get("grant_restriction") for r in rows if r.get("file") == file and r.get("grant_act") == "use"]
            want = RESTRICTION.get(e["rights"]["training_use"])
            if rows and grants != [want]:
                report.add("CON-008", rights_csv, f"the training-use grant of {file} is {grants or 'missing'}, but "
                                                  f"element {e['id']} says {e['rights']['training_use']} ({want})")
    if premis in named and premis in tree.files:
        try:
            f = open_regular(root, premis)
        except OSError:
            return  # reported by fixity
        with f:
            _premis(f, premis, rec, view, report)


def _premis(f: BinaryIO, where: str, rec: dict, view: BagView, report: Report) -> None:
    """premis.xml read as a stream, one top-level element at a time: memory stays flat in its size
    (a feature-length element's is over a gigabyte), so no size limit applies to it."""
    from lxml import etree

    n = 0
    sha256: Mapping[str, str] = view.payload.get("sha256", {})
    wrong = []
    try:
        for _, el in etree.iterparse(f, events=("end",), resolve_entities=False, no_network=True, load_dtd=False,
                                     huge_tree=False, remove_comments=True):
            parent = el.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # only the document's own children are taken, then dropped
            if el.tag == f"{PREMIS}event":
                n += 1
            for obj in el.iter(f"{PREMIS}object"):
                path = obj.findtext(f"{PREMIS}objectIdentifier/{PREMIS}objectIdentifierValue")
                for fx in obj.iter(f"{PREMIS}fixity"):
                    if fx.findtext(f"{PREMIS}messageDigestAlgorithm") == "SHA-256" and path in sha256 \
                            and fx.findtext(f"{PREMIS}messageDigest") != sha256[path]:
                        wrong.append(path)
            el.clear()
            while el.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        report.add("CON-008", where, f"not well-formed XML: {exc}")
        return
    if n != rec["events"]:
        report.add("CON-008", where, f"holds {n} events, the metadata record says it describes {rec['events']}")
    if wrong:
        report.add("CON-008", where, f"{len(wrong)} objects have another SHA-256 than the manifest (first: {wrong[0]})")
