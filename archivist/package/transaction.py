"""All-or-nothing changes to a package.

A command stages every file it will add or replace under
``.archivist/staging``, hashing as it writes. ``commit`` then:

1. computes the new manifests, bag-info and tag manifests in memory;
2. hard-links every file it will replace into ``.archivist/backup``;
3. writes the journal (``.archivist/journal.json``, state ``applying``);
4. renames the staged payload into ``data/``;
5. removes a package seal (it signed the old tag manifest), then renames
   the manifests, ``bag-info.txt`` and, last, the tag manifests;
6. marks the journal ``committed`` and removes ``.archivist``.

A command killed before step 3 left only ``.archivist`` behind; one killed
between 3 and 6 is rolled back from the journal by ``archivist recover``,
which restores the backups and deletes the new files. Either way the
package returns to exactly the state before the command.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from archivist import __version__
from archivist.errors import InterruptedTransactionError, PackageError, UnsafePathError
from archivist.package.bagfiles import BAGIT_TXT_CONTENT, format_bag_info, format_manifest, parse_bag_info, parse_manifest
from archivist.package.faults import FAULT_ENV  # noqa: F401  (tests and older callers import it from here)
from archivist.package.faults import fault as _fault
from archivist.package.hashing import (
    CHUNK,
    Fixity,
    HashingWriter,
    copy_and_hash,
    default_workers,
    hash_bytes,
    hash_file,
)
from archivist.package.layout import (
    ALGORITHMS,
    BAG_INFO_TXT,
    BAGIT_TXT,
    WORK_DIR,
    Layout,
    manifest_name,
    tagmanifest_name,
)
from archivist.package.locking import WriteLock
from archivist.package.records import parse_json
from archivist.package.safepath import check_relpath, nfc_key, read_inside, resolve_inside
from archivist.progress import start

# Bounds on what a command reads from a package it writes to (docs/package-format.md, "Limits").
MAX_MANIFEST_BYTES = 1 << 30
MAX_TAG_FILE_BYTES = 1 << 20
MAX_JOURNAL_BYTES = 256 << 20
JOURNAL_STATES = ("applying", "committed")

# Seals removed by commits of this process, so that a command's output can say so (cli.output.emit).
REMOVED_SEALS: list[dict] = []


def utcnow() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Staged:
    rel: str
    fixity: Fixity
    replaces: bool


class Transaction:
    """Stage files, then commit them with manifests written last."""

    def __init__(self, root: Path, command: str, *, create: bool = False):
        self.root = Path(root)
        self.layout = Layout(self.root)
        self.command = command
        self.create = create
        self.lock = WriteLock(self.root, command)
        self.staged: dict[str, Staged] = {}
        self._nfc: dict[str, str] = {}
        self.manifests: dict[str, dict[str, str]] = {a: {} for a in ALGORITHMS}
        self.bag_info: list[tuple[str, str]] = []
        self.done = False

    # -- lifecycle -------------------------------------------------------------
    def __enter__(self) -> Transaction:
        if self.create:
            self.root.mkdir(parents=True, exist_ok=True)
            if any(p.name != WORK_DIR for p in self.root.iterdir()):
                raise PackageError("PACKAGE-EXISTS", f"{self.root} is not empty; a new package needs an empty or new directory")
        elif not (self.root / BAGIT_TXT).is_file():
            raise PackageError("PACKAGE-NOT-A-BAG", f"{self.root} is not a package: it has no bagit.txt")
        self.lock.acquire()
        try:
            if os.path.lexists(self.root / Layout.JOURNAL) or os.path.lexists(self.root / Layout.STAGING):
                raise InterruptedTransactionError(
                    "PACKAGE-INTERRUPTED",
                    f"an earlier command on {self.root} was interrupted and left unfinished work",
                    hint=f"run 'archivist recover {self.root}' to roll it back",
                )
            if not self.create:
                self._load_bag()
            (self.root / Layout.STAGING).mkdir(parents=True)
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.done:
            # Nothing outside .archivist was touched before commit: drop the staging.
            shutil.rmtree(self.root / Layout.STAGING, ignore_errors=True)
        self.lock.release()

    def _load_bag(self) -> None:
        for alg in ALGORITHMS:
            path = self.root / manifest_name(alg)
            if not os.path.lexists(path):
                raise PackageError("PACKAGE-NOT-ARCHIVIST", f"{self.root} has no {manifest_name(alg)}; archivist writes both sha512 and sha256 manifests")
            self.manifests[alg] = parse_manifest(_tag_text(self.root, manifest_name(alg), MAX_MANIFEST_BYTES)).as_dict()
        self.bag_info, _ = parse_bag_info(_tag_text(self.root, BAG_INFO_TXT, MAX_TAG_FILE_BYTES))
        for rel in self.manifests[ALGORITHMS[0]]:
            self._nfc[nfc_key(rel)] = rel

    # -- staging -----------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return rel in self.manifests[ALGORITHMS[0]] or rel in self.staged

    def _prepare(self, rel: str, replace: bool) -> Path:
        check_relpath(rel)
        if not rel.startswith("data/"):
            raise UnsafePathError("PATH-007", f"payload path {rel!r} is outside data/")
        if rel in self.staged:
            raise PackageError("PACKAGE-DUPLICATE", f"{rel} is written twice in one command")
        existing = self._nfc.get(nfc_key(rel))
        if existing is not None and existing != rel:
            raise UnsafePathError("PATH-008", f"{rel!r} collides with {existing!r} after Unicode normalisation")
        in_bag = rel in self.manifests[ALGORITHMS[0]]
        if in_bag and not replace:
            raise PackageError("PACKAGE-EXISTS", f"{rel} is already in the package")
        self.layout.path(rel)  # refuses symlinks on the way
        if not in_bag and (self.root / rel).exists():
            raise PackageError("PACKAGE-UNTRACKED", f"{rel} exists in the package but is in no manifest",
                               hint="run 'archivist verify' and remove or recover the stray file first")
        self._nfc[nfc_key(rel)] = rel
        dest = self.root / Layout.STAGING / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def _stage(self, rel: str, fixity: Fixity) -> Fixity:
        self.staged[rel] = Staged(rel, fixity, rel in self.manifests[ALGORITHMS[0]])
        return fixity

    def add_files(self, jobs: list[tuple[str, Path]], *, link: bool = False, progress: Callable | None = None,
                  workers: int | None = None) -> list[Fixity]:
        """Stage many files at once: checks first, then copy-and-hash in parallel."""
        dests = [self._prepare(rel, replace=False) for rel, _ in jobs]
        total = sum(os.stat(src).st_size for _, src in jobs)
        bar = start(progress, total=total, desc="copying and hashing")

        def one(args: tuple[tuple[str, Path], Path]) -> Fixity:
            (rel, src), dest = args
            if link:
                try:
                    os.link(src, dest, follow_symlinks=True)
                    return hash_file(dest, bar.update)
                except OSError:
                    pass  # another filesystem: copy instead
            return copy_and_hash(Path(src), dest, bar.update)

        with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
            fixities = list(pool.map(one, zip(jobs, dests)))
        bar.close()
        for (rel, _), fx in zip(jobs, fixities):
            self._stage(rel, fx)
        return fixities

    def write_bytes(self, rel: str, data: bytes, *, replace: bool = False) -> Fixity:
        with self.writing(rel, replace=replace) as out:
            out.write(data)
        return out.fixity()

    def staging_path(self, rel: str, *, replace: bool = False) -> Path:
        """A path to write a payload file to directly (large outputs); call ``adopt`` after."""
        return self._prepare(rel, replace=replace)

    def adopt(self, rel: str, fixity: Fixity | None = None) -> Fixity:
        """Stage a file the caller wrote at ``staging_path(rel)``: hashed here, or with the ``fixity`` the
        caller computed of the bytes as it wrote them (so a large file is not read back)."""
        return self._stage(rel, fixity if fixity is not None else hash_file(self.staged_path(rel)))

    @contextmanager
    def writing(self, rel: str, *, replace: bool = False) -> Iterator[HashingWriter]:
        """A payload file written straight into the staging a piece at a time, hashed as it is written
        (a large record or document need not be held whole, nor read back)."""
        with open(self._prepare(rel, replace=replace), "xb", buffering=CHUNK) as f:
            out = HashingWriter(f)
            yield out
            f.flush()
            os.fsync(f.fileno())
        self._stage(rel, out.fixity())

    def staged_path(self, rel: str) -> Path:
        return self.root / Layout.STAGING / rel

    def append_line(self, rel: str, line: bytes) -> Fixity:
        """Stage ``rel`` with one more line; the old bytes are kept as they were."""
        old = b""
        if rel in self.staged:
            old = self.staged_path(rel).read_bytes()
            del self.staged[rel]
            self.staged_path(rel).unlink()
        elif rel in self.manifests[ALGORITHMS[0]]:
            old = self.layout.path(rel).read_bytes()
        return self.write_bytes(rel, old + line, replace=rel in self.manifests[ALGORITHMS[0]])

    # -- commit ----------------------------------------------------------------
    def commit(self, bag_info: list[tuple[str, str]] | None = None) -> None:
        """Apply the staged files; ``bag_info`` replaces bag-info.txt's fields when given."""
        staging = self.root / Layout.STAGING
        _fault("staged")
        for rel, st in self.staged.items():
            for alg in ALGORITHMS:
                self.manifests[alg][rel] = st.fixity.digests[alg]
        info = dict(bag_info if bag_info is not None else self.bag_info)
        info["Payload-Oxum"] = self._oxum()
        info["Bagging-Date"] = time.strftime("%Y-%m-%d", time.gmtime())
        info["Bag-Software-Agent"] = f"archivist {__version__}"
        tag_bytes: dict[str, bytes] = {}
        if self.create:
            tag_bytes[BAGIT_TXT] = BAGIT_TXT_CONTENT.encode()
        tag_bytes[BAG_INFO_TXT] = format_bag_info(list(info.items())).encode("utf-8")
        for alg in ALGORITHMS:
            tag_bytes[manifest_name(alg)] = format_manifest(self.manifests[alg]).encode("utf-8")
        tag_digests: dict[str, dict[str, str]] = {a: {} for a in ALGORITHMS}
        for name in Layout.tag_files():
            data = tag_bytes.get(name)
            fix = hash_bytes(data if data is not None else read_inside(self.root, name, MAX_MANIFEST_BYTES))
            for alg in ALGORITHMS:
                tag_digests[alg][name] = fix.digests[alg]
        for alg in ALGORITHMS:
            tag_bytes[tagmanifest_name(alg)] = format_manifest(tag_digests[alg]).encode("utf-8")
        tag_order = [n for n in tag_bytes if not n.startswith("tagmanifest-")] + [tagmanifest_name(a) for a in ALGORITHMS]
        tags_dir = self.root / WORK_DIR / "tags"
        tags_dir.mkdir()
        for name, data in tag_bytes.items():
            (tags_dir / name).write_bytes(data)

        # Everything replaced is kept (as a hard link) until the journal is gone.
        moves = [(staging / rel, rel) for rel in sorted(self.staged)] + [(tags_dir / n, n) for n in tag_order]
        replaced = [rel for _, rel in moves if (self.root / rel).exists()]
        new = [rel for _, rel in moves if rel not in replaced]
        new_dirs = sorted({str(p) for rel in new for p in _missing_parents(self.root, rel)}, key=len)
        backup = self.root / Layout.BACKUP
        for rel in replaced:
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(self.root / rel, backup / rel)
        # A seal signs one state of the tag manifest; this commit ends that state.
        dropped = [Layout.PACKAGE_SEAL] if (self.root / Layout.PACKAGE_SEAL).exists() else []
        for rel in dropped:
            backup.mkdir(parents=True, exist_ok=True)
            os.link(self.root / rel, backup / rel)
        journal = {"command": self.command, "pid": os.getpid(), "started": utcnow(), "state": "applying",
                   "new": new, "replaced": replaced + dropped, "new_dirs": new_dirs}
        atomic_write(self.root / Layout.JOURNAL, json.dumps(journal, indent=1).encode())
        _fsync_dir(self.root / WORK_DIR)
        _fault("applying")

        for rel in dropped:
            (self.root / rel).unlink()
        for src, rel in moves:
            dest = self.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
            if rel == tag_order[0]:
                _fault("payload-moved")
        for d in {(self.root / rel).parent for _, rel in moves}:
            _fsync_dir(d)
        _fault("tags-moved")
        journal["state"] = "committed"
        atomic_write(self.root / Layout.JOURNAL, json.dumps(journal, indent=1).encode())
        self.done = True
        _fault("committed")
        _cleanup_work(self.root)
        if dropped:
            REMOVED_SEALS.append({"package": str(self.root), "command": self.command, "time": utcnow()})

    def _oxum(self) -> str:
        total = 0
        files = self.manifests[ALGORITHMS[0]]
        for rel in files:
            st = self.staged.get(rel)
            total += st.fixity.size if st else os.stat(self.root / rel, follow_symlinks=False).st_size
        return f"{total}.{len(files)}"


def _tag_text(root: Path, name: str, limit: int) -> str:
    """A tag file as text, never through a link; a damaged one is a clear error."""
    try:
        return read_inside(root, name, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise PackageError("PACKAGE-DAMAGED", f"{root / name} is not UTF-8",
                           hint=f"run 'archivist verify {root}'") from None


def _missing_parents(root: Path, rel: str) -> list[str]:
    out = []
    parent = Path(rel).parent
    while str(parent) not in (".", "") and not (root / parent).exists():
        out.append(str(parent))
        parent = parent.parent
    return out


def _cleanup_work(root: Path) -> None:
    """Remove everything under .archivist except the lock (released by its owner)."""
    work = root / WORK_DIR
    for name in ("staging", "tags", "backup"):
        shutil.rmtree(work / name, ignore_errors=True)
    try:
        (work / "journal.json").unlink()
    except FileNotFoundError:
        pass


def _journal_error(root: Path, why: str) -> PackageError:
    return PackageError("RECOVER-JOURNAL", f"the journal of the interrupted command on {root} cannot be used: {why};"
                        " nothing was changed",
                        hint="restore the package from a copy; a journal archivist did not write could name any file")


def _read_journal(root: Path) -> dict:
    """The journal, checked whole: its shape, and every path inside the package and free of links."""
    try:
        journal = parse_json(read_inside(root, Layout.JOURNAL, MAX_JOURNAL_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _journal_error(root, f"it is not valid JSON ({exc})") from None
    except UnsafePathError as exc:
        raise _journal_error(root, exc.message) from None
    if not isinstance(journal, dict) or journal.get("state") not in JOURNAL_STATES:
        raise _journal_error(root, "it is not an object with a state of 'applying' or 'committed'")
    for key in ("new", "replaced", "new_dirs"):
        value = journal.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _journal_error(root, f"'{key}' is not a list of paths")
    if not isinstance(journal.get("command", ""), str):
        raise _journal_error(root, "'command' is not a string")
    for rel in journal["new"] + journal["replaced"] + journal["new_dirs"]:
        try:
            check_relpath(rel)
            if rel == WORK_DIR or rel.startswith(WORK_DIR + "/"):
                raise UnsafePathError("PATH-007", f"{rel!r} is inside {WORK_DIR}/")
            resolve_inside(root, rel)
            if rel in journal["replaced"]:
                resolve_inside(root, f"{Layout.BACKUP}/{rel}")
        except UnsafePathError as exc:
            raise _journal_error(root, f"it names {rel!r}: {exc.message}") from None
    # What recover will remove, restore or rmdir must be what a commit made: files, backups of files, folders.
    kinds = [(rel, stat.S_ISREG) for rel in journal["new"]] + [(rel, stat.S_ISDIR) for rel in journal["new_dirs"]]
    kinds += [(f"{Layout.BACKUP}/{rel}", stat.S_ISREG) for rel in journal["replaced"]]
    for rel, ok in kinds:
        try:
            mode = os.lstat(root / rel).st_mode
        except FileNotFoundError:
            continue
        if not ok(mode):
            raise _journal_error(root, f"{rel!r} is not the kind of entry a commit makes there")
    return journal


def recover(root: Path) -> dict:
    """Roll back (or finish) an interrupted command. Returns what was done.

    Every path the journal names is checked before anything is touched: a
    journal that names a path outside the package or through a link is
    refused whole, and the package is left as it is.
    """
    root = Path(root)
    lock = WriteLock(root, "recover").acquire()
    try:
        jpath = root / Layout.JOURNAL
        report: dict[str, Any] = {"state": None, "removed": [], "restored": []}
        if os.path.lexists(jpath):
            journal = _read_journal(root)
            report["state"] = journal["state"]
            report["command"] = journal.get("command")
            if journal["state"] != "committed":
                for rel in journal["replaced"]:
                    # Re-checked at the moment of use: nothing may have become a link since.
                    src, dest = resolve_inside(root, f"{Layout.BACKUP}/{rel}"), resolve_inside(root, rel)
                    if os.path.lexists(src):
                        os.replace(src, dest)
                        report["restored"].append(rel)
                for rel in journal["new"]:
                    try:
                        resolve_inside(root, rel).unlink()
                        report["removed"].append(rel)
                    except FileNotFoundError:
                        pass
                for d in sorted(journal["new_dirs"], key=len, reverse=True):
                    try:
                        resolve_inside(root, d).rmdir()
                    except OSError:
                        pass
        elif os.path.lexists(root / Layout.STAGING):
            report["state"] = "staging"
        _cleanup_work(root)
        # Runs a killed 'train --ray' left uncommitted: trained anew, never resumed. Not in _cleanup_work,
        # which every commit runs while the other runs of a 'train --ray' are still being trained.
        shutil.rmtree(root / WORK_DIR / "train", ignore_errors=True)
        return report
    finally:
        lock.release()
