"""verify: every check an auditor runs on a package, every problem reported.

    report = verify(path)            # or verify(path, profile_path="profile.json")
    report.ok, report.problems, report.to_dict()

    report = verify(path, trust_anchors_pem=ca_pem)   # C2PA signers to trust

The steps, each in its own module: package state (``state``), one walk of
the bag that never follows links (``inventory``), strict RFC 8493
structure (``bag``), fixity in one read per file (``fixity``), inference
outputs read once per frame for fixity and provenance together
(``outputs``, ``sidecars``, ``credentials``), the BagIt profile
(``profile``), records and event log (``records``), the agreement between
records, manifests and bag-info (``consistency``), the lineage of every
inference run (``lineage``) and the package seal (``credentials``).
Rule codes and their explanations live in ``rules``; ``findings`` holds
what the per-frame jobs found and phrases what differs. Nothing here writes
to the package, so it works on read-only storage.

The auditor stands apart from the engine: what a frame should carry comes
from ``archivist.inference.recorded`` and ``provenance`` (pure functions of
the run record), never from the runner, torch or onnxruntime, and where a
file lies is judged by ``archivist.package.layout`` and the registry of
record kinds (``archivist.package.kinds``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from archivist.errors import PackageError
from archivist.package.layout import BAGIT_TXT, PROFILE_IDENTIFIER, Layout
from archivist.verify import bag, consistency, credentials, fixity, inventory, lineage, outputs, profile, records, runs, state
from archivist.verify import derived as derived_elements
from archivist.verify import models as model_files
from archivist.verify.archive_metadata import check_files as archive_metadata_check
from archivist.verify.report import Problem, Report
from archivist.verify.rules import ERROR, RULES, WARNING, Rule
from archivist.verify.sealing import check as sealing_check

__all__ = ["verify", "Report", "Problem", "Rule", "RULES", "ERROR", "WARNING"]


def _check_readable(root: Path) -> None:
    if not root.is_dir():
        raise PackageError("PACKAGE-NOT-A-BAG", f"{root} is not a directory")
    try:
        mode = os.lstat(root / BAGIT_TXT).st_mode
    except FileNotFoundError:
        raise PackageError("PACKAGE-NOT-A-BAG", f"{root} is not a bag: it has no bagit.txt") from None
    if not stat.S_ISREG(mode):
        raise PackageError("PACKAGE-NOT-A-BAG", f"{root} is not a bag: its bagit.txt is not a regular file")


def verify(root: Path | str, *, profile_path: Path | str | None = None, progress: Callable | None = None,
           workers: int | None = None, trust_anchors_pem: bytes | None = None, require_seal: bool = False,
           ray: str | None = None, pixels: bool = False) -> Report:
    """Check the bag at ``root``; return a report of every problem found.

    ``trust_anchors_pem`` holds the PEM certificates of the authorities
    whose signers' Content Credentials are trusted (``--trust-anchor``);
    ``require_seal`` makes anything but a trusted seal over the package as
    it is an error (C2PA-008).
    Raises ``PackageError`` when ``root`` is not a bag at all, and
    ``InputError`` when ``profile_path`` is not a valid BagIt profile or
    the trust anchors are not PEM certificates. ``ray`` (``"local"`` or a
    cluster's address) spreads the fixity hashing over a Ray cluster that
    sees the bag at the same path; the report is the same. ``pixels``
    decodes every output EXR whose run record has a pixel hash and
    compares it (OUT-012): a frame's image, not only its bytes.
    """
    root = Path(root)
    if ray is not None:
        from archivist import cluster  # Ray is imported only here, only when asked for

        with cluster.connect(ray):
            return _verify(root, profile_path, progress, workers, trust_anchors_pem, require_seal, on_ray=True,
                           pixels=pixels)
    return _verify(root, profile_path, progress, workers, trust_anchors_pem, require_seal, on_ray=False,
                   pixels=pixels)


def _verify(root: Path, profile_path: Path | str | None, progress: Callable | None, workers: int | None,
            trust_anchors_pem: bytes | None, require_seal: bool, *, on_ray: bool, pixels: bool = False) -> Report:
    _check_readable(root)
    doc = profile.load(profile_path) if profile_path is not None else None  # a bad profile stops us first
    anchors = credentials.check_anchors(trust_anchors_pem)
    report = Report(str(root))
    state.check(root, report)
    tree = inventory.walk(root)
    view = bag.load(root, tree, report)
    declared = view.info_values("BagIt-Profile-Identifier")
    report.archivist = PROFILE_IDENTIFIER in declared or Layout.PACKAGE_RECORD in tree.files
    if report.archivist:
        records.read(root, tree, view)
    model_files.read(root, tree, view)
    work = outputs.plan(tree, view)
    hasher = None
    if on_ray:
        from archivist import cluster

        def hasher(jobs: list, update: Callable) -> Iterator:
            return cluster.hash_files(root, jobs, lambda p: tree.files[p], progress=update)
    actual = fixity.check(root, tree, view, report, progress=progress, workers=workers, skip=work.claimed,
                          hasher=hasher)
    facts, unusable = outputs.run_facts(work)
    frames = outputs.read(root, tree, view, work, outputs.checker(root, work, facts, anchors, pixels=pixels), report,
                          progress=progress, workers=workers) if work.frames else []
    if doc is None and report.archivist:
        doc = profile.load()
    if doc is not None:
        report.profile = profile.identifier(doc)
        profile.check(doc, tree, view, report)
    for ident in declared:
        if ident != report.profile and ident not in profile.KNOWN:
            report.add("PRO-015", "bag-info.txt", f"the bag declares profile {ident}; give it with --profile to "
                                                  "check it")
    if report.archivist:
        recs = records.check(tree, view, report)
        consistency.check(tree, view, recs, report)
        archive_metadata_check(root, tree, view, recs, report)
        for path, message in unusable:
            report.add("REC-002", path, message)
        lineage.check(work.runs, recs, work.package_id, report)
        derived_elements.check(recs, view.payload.get("sha256", {}), report)
        runs.check(root, recs, report)
    model_files.check(view, tree, report)
    for outcome in frames:
        outcome.checks.into(report)
    orphans = credentials.check_orphans(root, tree, work, anchors)
    for outcome in orphans:
        outcome.checks.into(report)
    credentials.ingredients(frames + orphans, actual, report)
    credentials.untrusted(frames + orphans, anchors, report)
    credentials.check_seal(root, tree, view.blobs, anchors, report)
    sealing_check(tree, view, report, require=require_seal)
    report.outputs = len(work.frames)
    report.credentials = sum(1 for o in frames + orphans if o.credential is not None)
    return report
