"""``archivist transfer``: the bag as one reproducible ``.tar.gz`` or ``.zip``.

Archivematica takes such a file as a zipped-bag transfer. The archive holds
one top-level directory (RFC 8493 section 4.2) named after the output file,
with the bag's files in code-point order, every time set to the time of the
package's last event, owner and group 0 with no names, modes 0644 and 0755,
and no gzip name or time, so the same package always gives the same bytes.
``.archivist/`` is never part of it. Every file is hashed while it is
written and checked against the manifests; after writing, the archive is
read back and every member checked again before it is renamed into place.
"""

from __future__ import annotations

import calendar
import gzip
import hashlib
import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path

from archivist.errors import InputError, PackageError
from archivist.package.bagfiles import parse_manifest
from archivist.package.layout import ALGORITHMS, PAYLOAD_DIR, WORK_DIR, Layout, manifest_name, tagmanifest_name
from archivist.package.model import Package

SUFFIXES = (".tar.gz", ".tgz", ".zip")
CHUNK = 1 << 20
ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can hold


def _kind(out: Path) -> tuple[str, str]:
    name = out.name
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return ("zip" if suffix == ".zip" else "tar"), name[:-len(suffix)]
    raise InputError("TRANSFER-FORMAT", f"{out.name}: the transfer file must end in .tar.gz, .tgz or .zip")


def _inventory(root: Path) -> tuple[list[str], list[str]]:
    """Every directory and file of the bag, in code-point order; refuses anything Archivematica would."""
    dirs, files = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir == ".":
            rel_dir = ""
            dirnames[:] = [d for d in dirnames if d != WORK_DIR]
        for name in dirnames + filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith("."):
                raise PackageError("TRANSFER-HIDDEN", f"{rel} is a hidden file; Archivematica refuses a transfer "
                                                      "that holds one", hint="remove it, then verify the package")
            mode = os.lstat(root / rel).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise PackageError("TRANSFER-NOT-FILE", f"{rel} is not a regular file or directory",
                                   hint="run 'archivist verify' on the package")
            (dirs if stat.S_ISDIR(mode) else files).append(rel)
    return sorted(dirs), sorted(files)


def _expected(root: Path) -> dict[str, str]:
    """path -> SHA-256 every file must have: payload from the manifest, tag files from the tag manifest."""
    want = parse_manifest((root / manifest_name("sha256")).read_text("utf-8")).as_dict()
    want.update(parse_manifest((root / tagmanifest_name("sha256")).read_text("utf-8")).as_dict())
    return want


def _epoch(pkg: Package) -> int:
    last = pkg.events()[-1]["time"]
    return max(ZIP_EPOCH, calendar.timegm(time.strptime(last, "%Y-%m-%dT%H:%M:%SZ")))


def _copy(src, dst, digest) -> None:
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        dst.write(chunk)


def _write_tar(f, top: str, root: Path, dirs: list[str], files: list[str], mtime: int, hashes: dict) -> None:
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in [""] + sorted(dirs + files):
            info = tarfile.TarInfo(f"{top}/{rel}".rstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
            if rel == "" or rel in dirs:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.mode, info.size = 0o644, os.stat(root / rel).st_size
            digest = hashlib.sha256()
            with open(root / rel, "rb") as src:
                reader = _Hashing(src, digest)
                tar.addfile(info, reader)
            hashes[rel] = digest.hexdigest()


class _Hashing(io.RawIOBase):
    """A reader that hashes what tarfile reads from it."""

    def __init__(self, f, digest):
        self.f, self.digest = f, digest

    def readable(self) -> bool:
        return True

    def read(self, n=-1) -> bytes:
        data = self.f.read(n)
        self.digest.update(data)
        return data


def _write_zip(f, top: str, root: Path, dirs: list[str], files: list[str], mtime: int, hashes: dict) -> None:
    when = time.gmtime(mtime)[:6]
    with zipfile.ZipFile(f, "w") as zf:
        for rel in [""] + sorted(dirs + files):
            is_dir = rel == "" or rel in dirs
            info = zipfile.ZipInfo(f"{top}/{rel}".rstrip("/") + ("/" if is_dir else ""), date_time=when)
            info.create_system = 3  # unix, so that the modes below are read
            info.external_attr = ((0o40755 if is_dir else 0o100644) << 16) | (0x10 if is_dir else 0)
            if is_dir:
                zf.writestr(info, b"")
                continue
            info.compress_type = zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            size = os.stat(root / rel).st_size
            with open(root / rel, "rb") as src, zf.open(info, "w", force_zip64=size > (1 << 31)) as dst:
                _copy(src, dst, digest)
            hashes[rel] = digest.hexdigest()


def _read_back(path: Path, kind: str, top: str, want: dict[str, str]) -> int:
    """Hash every member of the written archive; the set and the hashes must be the bag's."""
    seen: dict[str, str] = {}
    if kind == "tar":
        with tarfile.open(path, "r:gz") as tar:
            for m in tar:
                if m.isfile():
                    seen[m.name] = hashlib.file_digest(tar.extractfile(m), "sha256").hexdigest()
    else:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    with zf.open(info) as member:
                        seen[info.filename] = hashlib.file_digest(member, "sha256").hexdigest()
    expect = {f"{top}/{rel}": d for rel, d in want.items()}
    if seen != expect:
        bad = sorted(set(seen) ^ set(expect)) or sorted(k for k in seen if seen[k] != expect[k])
        raise PackageError("TRANSFER-READBACK", f"the written archive does not read back as the bag ({bad[0]})",
                           hint="check the disk the output is on; nothing was left at the output path")
    return len(seen)


def transfer(pkg: Package, out: Path | str) -> dict:
    """Write the bag to ``out`` (``.tar.gz``, ``.tgz`` or ``.zip``); return what was written."""
    out = Path(out)
    kind, top = _kind(out)
    root = pkg.root.resolve()
    if out.resolve().is_relative_to(root):
        raise InputError("TRANSFER-INSIDE", f"{out} is inside the package; write the transfer file elsewhere")
    if pkg.interrupted() or (root / Layout.LOCK).exists():
        raise PackageError("TRANSFER-BUSY", f"{pkg.root} has a command running or interrupted (.archivist/)",
                           hint="wait for it, or run 'archivist recover', then transfer")
    if not out.parent.is_dir():
        raise InputError("TRANSFER-OUTPUT", f"{out.parent} is not a directory")
    dirs, files = _inventory(root)
    want = _expected(root)
    for alg in ALGORITHMS:  # tag manifests are not listed in themselves
        want.pop(tagmanifest_name(alg), None)
    stray = [f for f in files if f not in want and not f.startswith("tagmanifest-")
             and f != Layout.PACKAGE_SEAL and f.startswith(PAYLOAD_DIR + "/")]
    if stray:
        raise PackageError("TRANSFER-UNLISTED", f"{stray[0]} is in no manifest ({len(stray)} such files)",
                           hint="run 'archivist verify' on the package")
    mtime = _epoch(pkg)
    tmp = out.with_name(f".{out.name}.part-{os.getpid()}")
    hashes: dict[str, str] = {}
    try:
        with open(tmp, "xb") as f:
            (_write_tar if kind == "tar" else _write_zip)(f, top, root, dirs, files, mtime, hashes)
            f.flush()
            os.fsync(f.fileno())
        changed = [rel for rel, d in want.items() if hashes.get(rel) != d]
        if changed:
            raise PackageError("TRANSFER-CHANGED", f"{changed[0]} does not match the package's manifests",
                               hint="run 'archivist verify'; the package changed or is damaged")
        count = _read_back(tmp, kind, top, hashes)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    with open(out, "rb") as f:
        sha = hashlib.file_digest(f, "sha256")
    return {"ok": True, "path": str(out), "format": kind, "top": top, "files": count, "size": out.stat().st_size,
            "sha256": sha.hexdigest(), "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))}
