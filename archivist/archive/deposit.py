"""``archivist deposit --ocfl ROOT``: the bag as the next version of an OCFL 1.1 object.

The object's identifier is the package identifier; its content is the
whole bag (tag files and payload, never ``.archivist/``). ocfl-py stores a
file whose SHA-512 an earlier version already holds by reference only, so
a second deposit after a change stores just the changed files. A deposit
of an unchanged package adds no version.

The object is built beside its place in the storage root and swapped in
with renames, so a deposit that fails leaves the object as it was. Before
the swap, the new version's state is checked against the package's
SHA-512 manifest and the object is validated with ocfl-py's validator.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from archivist import __version__
from archivist.errors import InputError, PackageError
from archivist.package.bagfiles import parse_manifest
from archivist.package.layout import WORK_DIR, manifest_name, tagmanifest_name
from archivist.package.model import Package

LAYOUT = "0003-hash-and-id-n-tuple-storage-layout"


def _ocfl():
    import ocfl

    return ocfl


@contextmanager
def _quiet():
    """ocfl-py reports progress on the root logger at INFO; a command's output is its own."""
    before = logging.root.manager.disable
    logging.disable(max(before, logging.INFO))
    try:
        yield
    finally:
        logging.disable(before)


def _store(root: Path):
    ocfl = _ocfl()
    store = ocfl.StorageRoot(root=str(root), layout_name=LAYOUT)
    if not root.exists():
        store.initialize()
    try:
        store.open_root_fs()
        store.check_root_structure()
    except ocfl.StorageRootException as exc:
        raise InputError("DEPOSIT-ROOT", f"{root} is not an OCFL storage root: {exc}") from None
    return store


def _validate(objdir: Path) -> None:
    from ocfl.validator import Validator

    v = Validator(log_warnings=False, log_errors=False, check_digests=True)
    if not v.validate_object(str(objdir)):
        raise PackageError("DEPOSIT-INVALID", f"the new OCFL object version does not validate: {v.status_str()}",
                           hint="nothing was changed in the storage root")


def _check_state(objdir: Path, pkg_root: Path) -> dict:
    """The head version's logical files and digests must be the package's, file for file."""
    ocfl = _ocfl()
    inv = ocfl.Object(path=str(objdir)).parse_inventory()
    head = inv.version(inv.head)
    state = {path: digest for digest, paths in head.state.items() for path in paths}
    want = parse_manifest((pkg_root / manifest_name("sha512")).read_text("utf-8")).as_dict()
    tags = parse_manifest((pkg_root / tagmanifest_name("sha512")).read_text("utf-8")).as_dict()
    want.update(tags)
    missing = [p for p, d in want.items() if state.get(p) != d]
    if missing:
        raise PackageError("DEPOSIT-MISMATCH", f"{missing[0]} in the new version differs from the package's manifests",
                           hint="run 'archivist verify' on the package; nothing was changed in the storage root")
    return {"head": inv.head, "versions": len(inv.version_directories), "files": len(state)}


def _stage_copy(objdir: Path, work: Path) -> None:
    """A copy of the object to add a version to: versions hard-linked (never rewritten), root files copied."""
    work.mkdir()
    for entry in objdir.iterdir():
        if entry.is_dir() and entry.name.startswith("v"):
            shutil.copytree(entry, work / entry.name, copy_function=os.link)
        elif entry.is_dir():
            shutil.copytree(entry, work / entry.name)
        else:
            shutil.copy2(entry, work / entry.name)


def deposit(pkg: Package, root: Path | str, *, message: str | None = None) -> dict:
    """Add the package as the next version of its OCFL object under ``root`` (created if absent)."""
    with _quiet():
        return _deposit(pkg, root, message)


def _deposit(pkg: Package, root: Path | str, message: str | None) -> dict:
    ocfl = _ocfl()
    root = Path(root)
    pkg_root = pkg.root.resolve()
    if root.resolve().is_relative_to(pkg_root) or pkg_root.is_relative_to(root.resolve()):
        raise InputError("DEPOSIT-INSIDE", f"{root} and the package {pkg.root} must not contain one another")
    if (pkg_root / WORK_DIR).exists():
        raise PackageError("DEPOSIT-BUSY", f"{pkg.root} has a command running or interrupted (.archivist/)",
                           hint="wait for it, or run 'archivist recover', then deposit")
    if not pkg.is_archivist():
        raise InputError("DEPOSIT-NOT-ARCHIVIST", f"{pkg.root} is not an archivist package")
    identifier = pkg.record()["identifier"]
    store = _store(root)
    objdir = root / store.object_path(identifier)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta = ocfl.VersionMetadata(created=when, message=message or f"archivist deposit of {identifier}",
                                name=f"archivist {__version__}", address="urn:archivist:deposit")
    work = objdir.with_name(f".{objdir.name}.deposit-{os.getpid()}")
    old = objdir.with_name(f".{objdir.name}.previous-{os.getpid()}")
    objdir.parent.mkdir(parents=True, exist_ok=True)
    try:
        if objdir.exists():
            _stage_copy(objdir, work)
            obj = ocfl.Object(identifier=identifier)
            inv = obj.add_version_with_content(objdir=str(work), srcdir=str(pkg_root), metadata=meta,
                                               abort_if_no_difference=True)
            if inv is None:
                shutil.rmtree(work)
                found = _check_state(objdir, pkg_root)
                return {"ok": True, "changed": False, "object": str(objdir), "identifier": identifier, **found,
                        "stored_files": 0}
        else:
            ocfl.Object(identifier=identifier).create(srcdir=str(pkg_root), metadata=meta, objdir=str(work))
        found = _check_state(work, pkg_root)
        _validate(work)
        stored = sum(1 for p in (work / found["head"] / "content").rglob("*") if p.is_file()) \
            if (work / found["head"] / "content").is_dir() else 0
        if objdir.exists():
            os.rename(objdir, old)
        os.rename(work, objdir)
        shutil.rmtree(old, ignore_errors=True)
    except ocfl.ObjectException as exc:
        raise PackageError("DEPOSIT-OCFL", f"ocfl-py refused the deposit: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if old.exists() and not objdir.exists():
            os.rename(old, objdir)  # put the object back as it was
    return {"ok": True, "changed": True, "object": str(objdir), "identifier": identifier, **found,
            "stored_files": stored}
