"""Consistency: records against manifests and ``bag-info.txt``.

``BAG`` rules compare the files with the manifests; these rules compare
the records with the manifests, so one fault is reported once.
"""

from __future__ import annotations

from collections.abc import Iterator

from archivist.package import kinds
from archivist.package.layout import ROLES, Layout
from archivist.verify import archive_metadata
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree
from archivist.verify.records import Records, is_record
from archivist.verify.report import Report

# package record field -> bag-info element that must say the same
PACKAGE_VS_BAG_INFO = (
    ("identifier", "External-Identifier"),
    ("organization", "Source-Organization"),
    ("recovery", "Archivist-Recovery-Type"),
)


def file_refs(value: object) -> Iterator[dict]:
    """Every object with a ``path`` under ``data/`` and a ``sha256``: how records name payload files.

    Objects whose path is not under ``data/`` describe something outside the package (an original
    scan on the restorer's disk, say) and are not payload references.

    >>> refs = {"frames": [{"path": "data/a", "sha256": "00"}], "x": {"path": "data/b"},
    ...         "origin": {"path": "/scans/a.dpx", "sha256": "11"}}
    >>> [r["path"] for r in file_refs(refs)]
    ['data/a']
    """
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and Layout.is_payload(path) and isinstance(value.get("sha256"), str):
            yield value
        for v in value.values():
            yield from file_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from file_refs(v)


def check(tree: Tree, view: BagView, recs: Records, report: Report) -> None:
    listed = view.payload_table.paths()  # every payload entry, once
    sha256 = view.payload.get("sha256")
    # Records and the event log account for themselves (a missing one is BAG-007, not this).
    accounted = {p for p in listed if is_record(p)} | {Layout.EVENT_LOG}
    for rec_path, value in recs.parsed.items():
        for ref in file_refs(value):
            path, digest = ref["path"], ref["sha256"].lower()
            accounted.add(path)
            if path in view.hostile:
                continue  # reported as a hostile manifest entry
            if path not in listed:
                report.add("CON-002", path, f"named by {rec_path} but listed in no payload manifest")
                continue
            if sha256 is not None and path in sha256 and sha256[path] != digest:
                report.add("CON-001", path, f"{rec_path} gives sha256 {digest[:16]}..., manifest-sha256.txt "
                                            f"{sha256[path][:16]}...")
            size = ref.get("size")
            if isinstance(size, int) and path in tree.files and tree.files[path] != size:
                report.add("CON-001", path, f"{rec_path} gives size {size}, the file has {tree.files[path]} bytes")
    for path in sorted(p for p in listed if p not in accounted):
        report.add("CON-003", path, "payload file named by no record")
    for rec_path, rec in recs.valid.items():
        if Layout.classify(rec_path).kind is kinds.ELEMENT:
            _element(rec_path, rec, report)
        elif rec_path == Layout.PACKAGE_RECORD:
            _package(rec, view, report)
    archive_metadata.check(view, recs, report)


def _element(rec_path: str, rec: dict, report: Report) -> None:
    if rec_path != Layout.element_record(rec["id"]):
        report.add("CON-004", rec_path, f"element record of {rec['id']!r} should be "
                                        f"{Layout.element_record(rec['id'])}")
    if rec["role"] not in ROLES:
        return
    home = Layout.element_dir(rec["role"], rec["id"]) + "/"
    away = [f["path"] for f in rec["frames"] if not Layout.classify(f["path"]).directly_in(ROLES[rec["role"]], rec["id"])]
    if away:
        report.add("CON-004", rec_path, f"{len(away)} frames lie outside {home} (first: {away[0]})")


def _package(rec: dict, view: BagView, report: Report) -> None:
    for field_, label in PACKAGE_VS_BAG_INFO:
        values = view.info_values(label)
        if values and rec.get(field_) not in values:
            report.add("CON-005", Layout.PACKAGE_RECORD,
                       f"{field_} is {rec.get(field_)!r} but bag-info.txt {label} is {values[0]!r}")
