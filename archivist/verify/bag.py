"""Strict RFC 8493 structure: declaration, bag-info, manifests, paths.

``load`` reads the tag files once, reports every structural problem and
returns a ``BagView``: the parsed tag files and, per manifest, only the
entries that are safe to check. Hostile entries are reported here and
dropped, so no later step can open them.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archivist.errors import UnsafePathError
from archivist.package.bagfiles import parse_bag_info, parse_line
from archivist.package.layout import BAG_INFO_TXT, BAGIT_TXT, PAYLOAD_DIR, Layout
from archivist.package.safepath import check_relpath_text, has_windows_reserved, nfc_key
from archivist.verify.entries import Entries, PathTable
from archivist.verify.inventory import Tree, open_regular, read_small
from archivist.verify.report import Report

FETCH_TXT = "fetch.txt"
KNOWN_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
NON_REPEATABLE = ("Bagging-Date", "Bag-Size", "Payload-Oxum", "Bag-Group-Identifier", "Bag-Count")
_MANIFEST = re.compile(r"^(tag)?manifest-([^/]+)\.txt$")
_VERSION_LINE = re.compile(r"^BagIt-Version: ([0-9]+\.[0-9]+)$")
_ENCODING_LINE = re.compile(r"^Tag-File-Character-Encoding: (\S+)$")
MAX_BAG_INFO_BYTES = 1 << 20
MAX_BLOB_BYTES = 1 << 20  # a manifest up to this size is kept in memory; a bigger one is streamed
# Digits bounded: no real payload has 10^30 octets, and int() of a 5,000-digit string raises.
_OXUM = re.compile(r"^([0-9]{1,30})\.([0-9]{1,30})$")


@dataclass
class BagView:
    version: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)
    manifest_files: list[str] = field(default_factory=list)  # every manifest-*.txt present
    tag_manifest_files: list[str] = field(default_factory=list)
    payload: dict[str, Entries] = field(default_factory=dict)  # alg -> {safe path: digest}
    tags: dict[str, Entries] = field(default_factory=dict)
    payload_table: PathTable = field(default_factory=PathTable)  # every safe payload entry, once
    tag_table: PathTable = field(default_factory=PathTable)
    hostile: set[str] = field(default_factory=set)
    blobs: dict[str, bytes] = field(default_factory=dict)  # small files already read: reused for fixity
    hashed: dict[str, tuple[list[str], list]] = field(default_factory=dict)  # big manifests: hashed as streamed
    schema_problems: dict[str, list[str]] = field(default_factory=dict)  # records already validated: reused

    def info_values(self, label: str) -> list[str]:
        return [v for k, v in self.info if k.lower() == label.lower()]


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF or CR, the line endings RFC 8493 allows.

    >>> split_lines("a\\r\\nb\\rc\\n")
    ['a', 'b', 'c']
    """
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _decode(report: Report, rel: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.add("BAG-004", rel, f"{rel} is not valid UTF-8 (byte {exc.start}); read with replacement characters")
        return data.decode("utf-8", "replace")


def _read(root: Path, tree: Tree, view: BagView, rel: str) -> bytes | None:
    if rel not in tree.files:
        return None
    data = read_small(root, rel)
    view.blobs[rel] = data
    return data


# -- bagit.txt -------------------------------------------------------------------------------

def check_declaration(data: bytes, report: Report) -> str | None:
    """Check ``bagit.txt``; return the declared version if it can be read."""
    if data.startswith(b"\xef\xbb\xbf"):
        report.add("BAG-001", BAGIT_TXT, "bagit.txt starts with a byte-order mark")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.add("BAG-001", BAGIT_TXT, "bagit.txt is not UTF-8")
        return None
    lines = split_lines(text)
    version = None
    m = _VERSION_LINE.match(lines[0]) if lines else None
    if m:
        version = m.group(1)
    else:
        report.add("BAG-001", BAGIT_TXT, f"first line must be 'BagIt-Version: M.N', found {lines[0]!r}"
                   if lines else "bagit.txt is empty")
    e = _ENCODING_LINE.match(lines[1]) if len(lines) > 1 else None
    if not e:
        report.add("BAG-001", BAGIT_TXT, "second line must be 'Tag-File-Character-Encoding: ENCODING', found "
                   + (repr(lines[1]) if len(lines) > 1 else "nothing"))
    elif e.group(1).upper() != "UTF-8":
        report.add("BAG-004", BAGIT_TXT, f"tag files are declared as {e.group(1)}; archivist reads UTF-8 only")
    if len(lines) > 2:
        report.add("BAG-001", BAGIT_TXT, f"bagit.txt has {len(lines)} lines; it must have exactly two")
    if version == "0.97":
        report.add("BAG-002", BAGIT_TXT, "BagIt 0.97 (checked with the BagIt 1.0 rules)")
    elif version is not None and version != "1.0":
        report.add("BAG-003", BAGIT_TXT, f"BagIt version {version} is not supported (1.0 and 0.97 are)")
    return version


# -- bag-info.txt ------------------------------------------------------------------------------

def check_bag_info(text: str, tree: Tree, report: Report) -> list[tuple[str, str]]:
    pairs, bad = parse_bag_info(text)
    for n, line in bad:
        report.add("BAG-026", BAG_INFO_TXT, f"line {n} is not 'Label: value': {line[:80]!r}")
    for label in NON_REPEATABLE:
        count = sum(1 for k, _ in pairs if k.lower() == label.lower())
        if count > 1:
            report.add("BAG-028", BAG_INFO_TXT, f"{label} appears {count} times; it may appear only once")
    oxum = [v for k, v in pairs if k.lower() == "payload-oxum"]
    if not oxum:
        report.add("BAG-029", BAG_INFO_TXT, "no Payload-Oxum")
    else:
        payload = tree.payload()
        actual = (sum(payload.values()), len(payload))
        for value in oxum:
            m = _OXUM.match(value)
            if not m:
                report.add("BAG-027", BAG_INFO_TXT, f"Payload-Oxum {value!r} is not octets.files")
            elif (int(m.group(1)), int(m.group(2))) != actual:
                report.add("BAG-027", BAG_INFO_TXT, f"Payload-Oxum is {value} but the payload on disk is "
                                                    f"{actual[0]}.{actual[1]} (octets.files)")
    return pairs


# -- manifests -------------------------------------------------------------------------------------

def _lines(f: BinaryIO, hashers: list) -> Iterator[tuple[int, str, int | None]]:
    """``(line number, text, offset of a byte that is not UTF-8)`` of a manifest, read a line at a time.

    Lines split as ``str.splitlines`` splits the whole text: a chunk of the
    file ends at LF, which no UTF-8 sequence holds, so decoding chunk by
    chunk gives the same text and the same replacement characters. Every
    chunk also feeds ``hashers``, so fixity need not read the file again.
    """
    n, offset = 0, 0
    with f:
        for raw in f:
            for h in hashers:
                h.update(raw)
            bad = None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                text = raw.decode("utf-8", "replace")
            offset += len(raw)
            for line in text.splitlines():
                n += 1
                yield n, line, bad
                bad = None


def _open_manifest(root: Path, tree: Tree, view: BagView, rel: str) -> tuple[BinaryIO, list]:
    """A small manifest is read whole (the seal check needs a tag manifest's bytes); a big one streamed.

    A streamed one is hashed as it is read, with every algorithm a tag
    manifest of this bag may check it with (``BagView.hashed``).
    """
    if tree.files[rel] <= MAX_BLOB_BYTES:
        return io.BytesIO(_read(root, tree, view, rel) or b""), []
    algs = sorted({m.group(2) for p in tree.tags() if (m := _MANIFEST.match(p)) and m.group(1)
                   and m.group(2) in KNOWN_ALGORITHMS})
    hashers = [hashlib.new(a) for a in algs]
    view.hashed[rel] = (algs, hashers)
    return open_regular(root, rel), hashers


def _read_manifest(root: Path, rel: str, entries: Entries, alg: str, tree: Tree, view: BagView,
                   payload_side: bool, report: Report) -> None:
    """Stream one manifest into ``entries``: only the entries safe to check; the others reported."""
    hostile = view.hostile
    f, hashers = _open_manifest(root, tree, view, rel)
    width = entries.size * 2
    undecodable: int | None = None
    marked, first_marked = 0, 0
    # Reported in the order a whole-file parse would: encoding, malformed lines, markers, entries.
    malformed, later = Report(report.root), Report(report.root)
    for n, line, bad in _lines(f, hashers):
        if bad is not None and undecodable is None:
            undecodable = bad
        if line.strip() == "":
            continue
        parsed = parse_line(line)
        if parsed is None:
            malformed.add("BAG-012", rel, "" if malformed.full("BAG-012")  # only counted: not phrased
                          else f"line {n} is not 'digest path': {line[:80]!r}")
            continue
        digest, path, marker, encoding_ok = parsed
        if marker:
            marked += 1
            first_marked = first_marked or n
        if not encoding_ok:
            later.add("BAG-013", path, f"{rel} line {n}: '%' in the path is not percent-encoded")
        try:
            check_relpath_text(path)
        except UnsafePathError as exc:
            later.add("BAG-016", path, f"{rel} line {n}: {exc.message}; not opened")
            hostile.add(path)
            continue
        if Layout.is_payload(path) != payload_side:
            where = "outside data/" if payload_side else "inside data/ (tag manifests list tag files only)"
            later.add("BAG-011", path, f"{rel} line {n}: entry {where}")
            continue
        link = tree.link_on_path(path) if tree.links else None
        if link is not None:
            later.add("BAG-017", path, f"{rel} line {n}: path passes through symbolic link {link}; not opened")
            hostile.add(path)
            continue
        if len(digest) != width:
            later.add("BAG-012", path, f"{rel} line {n}: {alg} digest has {len(digest)} hex digits, "
                                       f"expected {width}")
            continue
        binary = bytes.fromhex(digest)
        before = entries.digest(path)
        if before is not None:
            same = "same" if before == binary else "a different"
            later.add("BAG-012", path, f"{rel} line {n}: path listed again with {same} digest")
            continue
        entries.put(path, binary)
    if undecodable is not None:
        report.add("BAG-004", rel, f"{rel} is not valid UTF-8 (byte {undecodable}); read with replacement characters")
    report.merge(malformed)
    if marked:
        report.add("BAG-015", rel, f"{marked} lines use the md5sum '*' marker (first: line {first_marked})")
    report.merge(later)


def _nfc(path: str) -> str:
    return path if path.isascii() else nfc_key(path)  # ASCII is its own NFC; most paths are ASCII


def _nfc_collisions(view: BagView, report: Report) -> None:
    """Entries of any manifests that are equal after NFC: ambiguous, so none of them is opened."""
    tables = (view.payload_table, view.tag_table)
    # A group of paths equal after NFC holds at least one that NFC changes: look only for those.
    targets = {k for t in tables for p in t.paths() if not p.isascii() and (k := nfc_key(p)) != p}
    by_nfc: dict[str, set[str]] = defaultdict(set)
    if targets:
        for t in tables:
            for p in t.paths():
                k = _nfc(p)
                if k in targets:
                    by_nfc[k].add(p)
    for paths in by_nfc.values():
        if len(paths) > 1:
            for p in sorted(paths):
                others = ", ".join(repr(o) for o in sorted(paths) if o != p)
                report.add("BAG-018", p, f"manifest entry equal after Unicode normalisation to {others}; not opened")
                view.hostile.add(p)


def _manifests(root: Path, tree: Tree, view: BagView, report: Report) -> None:
    for rel in sorted(tree.tags()):
        m = _MANIFEST.match(rel)
        if not m:
            continue
        is_tag, alg = bool(m.group(1)), m.group(2)
        (view.tag_manifest_files if is_tag else view.manifest_files).append(rel)
        if alg not in KNOWN_ALGORITHMS:
            report.add("BAG-014", rel, f"unknown algorithm {alg!r}; its entries cannot be checked "
                                       f"(known: {', '.join(KNOWN_ALGORITHMS)})")
            continue
        entries = Entries(view.tag_table if is_tag else view.payload_table, hashlib.new(alg).digest_size)
        _read_manifest(root, rel, entries, alg, tree, view, not is_tag, report)
        (view.tags if is_tag else view.payload)[alg] = entries
    _nfc_collisions(view, report)
    # A path bad in one manifest is not opened for any.
    for group in (view.payload, view.tags):
        for entries in group.values():
            for p in view.hostile:
                entries.discard(p)
    for table in (view.payload_table, view.tag_table):
        for p in view.hostile:
            table.rows.pop(p, None)


def _completeness(tree: Tree, view: BagView, report: Report) -> None:
    payload = tree.payload()
    by_nfc = {nfc_key(p): p for p in tree.files}
    for p in sorted(view.payload_table.paths()):
        if p in tree.files:
            continue
        if p in tree.special:
            continue  # reported once, with the other special files
        names = [f"manifest-{alg}.txt" for alg, entries in view.payload.items() if p in entries]
        if p in tree.dirs:
            report.add("BAG-021", p, f"listed in {', '.join(names)} but is a directory")
            continue
        if report.full("BAG-007"):
            report.add("BAG-007", p, "")  # only counted: not phrased
            continue
        hint = ""
        twin = by_nfc.get(_nfc(p))
        if twin is not None and twin != p:
            hint = f" (a file whose name differs only in Unicode normalisation exists: {twin!r})"
        report.add("BAG-007", p, f"listed in {', '.join(names)} but missing{hint}")
    algs = sorted(view.payload)
    for p in sorted(payload):
        if p in view.hostile:
            continue
        absent = [a for a in algs if p not in view.payload[a]]
        if not absent:
            continue
        if len(absent) == len(algs):
            report.add("BAG-008", p, "payload file is listed in no payload manifest")
        else:
            report.add("BAG-009", p, "payload file is missing from " + ", ".join(f"manifest-{a}.txt" for a in absent))
    # Tag manifests: every payload manifest listed; every tag file covered; listed files present.
    for alg, entries in view.tags.items():
        name = f"tagmanifest-{alg}.txt"
        for m in view.manifest_files:
            if m not in entries:
                report.add("BAG-022", name, f"{name} does not list payload manifest {m}")
        for p in sorted(entries):
            if p in tree.dirs:
                report.add("BAG-021", p, f"listed in {name} but is a directory")
            elif p not in tree.files and p not in tree.special:
                report.add("BAG-023", p, f"listed in {name} but missing")
    if view.tags:
        for p in sorted(tree.tags()):
            if _MANIFEST.match(p) or p == Layout.PACKAGE_SEAL:
                # Tag manifests need not list themselves, payload manifests are BAG-022, and the
                # seal signs the tag manifest, so the tag manifest cannot list it.
                continue
            absent = [f"tagmanifest-{a}.txt" for a, entries in sorted(view.tags.items()) if p not in entries]
            if absent:
                report.add("BAG-025", p, "tag file not listed in " + ", ".join(absent))


def _names(tree: Tree, view: BagView, report: Report) -> None:
    """Collisions and names other systems cannot hold, over files and manifest entries."""
    def names() -> Iterator[str]:  # files and entries, each once, without a set of them all
        yield from tree.files
        for table in (view.payload_table, view.tag_table):
            yield from (p for p in table.paths() if p not in tree.files)

    nfc: dict[str, set[str]] = defaultdict(set)
    for p in tree.files:
        nfc[nfc_key(p)].add(p)
    for same in nfc.values():
        for p in sorted(same) if len(same) > 1 else ():
            if p not in view.hostile:  # not reported already as a manifest entry
                others = ", ".join(repr(o) for o in sorted(same) if o != p)
                report.add("BAG-018", p, f"file name equal after Unicode normalisation to {others}")
    for listed in _case_groups(names):
        report.add("BAG-019", listed[0], "names differ only in case: " + ", ".join(repr(p) for p in listed))
    for p in sorted(p for p in names() if has_windows_reserved(p)):
        report.add("BAG-020", p, f"{has_windows_reserved(p)!r} cannot be a file name on Windows")


def _fold(key: str) -> str:
    return key.lower() if key.isascii() else key.casefold()


def _case_groups(names: Callable[[], Iterable[str]]) -> list[list[str]]:
    """Sorted groups of two or more NFC names that differ only in case.

    Two names of a group cannot both equal their case fold, so each group
    holds a name that folding changes: those are found in a first pass
    (few in any real bag) and only the names folding to one of them are
    kept in the second.
    """
    targets = set()
    for p in names():
        k = _nfc(p)
        if (f := _fold(k)) != k:
            targets.add(f)
    if not targets:
        return []
    groups: dict[str, set[str]] = defaultdict(set)
    for p in names():
        k = _nfc(p)
        if (f := _fold(k)) in targets:
            groups[f].add(k)
    return [sorted(same) for same in groups.values() if len(same) > 1]


def load(root: Path, tree: Tree, report: Report) -> BagView:
    """Read and check the tag files; report structural problems; return the parsed bag."""
    view = BagView()
    view.version = check_declaration(_read(root, tree, view, BAGIT_TXT) or b"", report)
    if PAYLOAD_DIR not in tree.dirs:
        report.add("BAG-005", PAYLOAD_DIR, "the bag has no payload directory 'data/'")
    info_bytes = _read(root, tree, view, BAG_INFO_TXT)
    if info_bytes is not None and len(info_bytes) > MAX_BAG_INFO_BYTES:
        # A few lines in any real bag; parsing a hostile one would cost many times its size.
        report.add("BAG-026", BAG_INFO_TXT, f"{len(info_bytes)} bytes, more than the {MAX_BAG_INFO_BYTES} a "
                                            "bag-info.txt may have here; not parsed")
    elif info_bytes is not None:
        view.info = check_bag_info(_decode(report, BAG_INFO_TXT, info_bytes), tree, report)
    else:
        report.add("BAG-029", BAG_INFO_TXT, "no bag-info.txt, so no Payload-Oxum")
    _manifests(root, tree, view, report)
    if not view.manifest_files:
        report.add("BAG-006", None, "the bag has no payload manifest (manifest-<algorithm>.txt)")
    _completeness(tree, view, report)
    _names(tree, view, report)
    for p in sorted(tree.links):
        report.add("BAG-017", p, "symbolic link; not followed")
    for p in sorted(tree.special):
        report.add("BAG-021", p, "special file (FIFO, socket or device); not opened")
    fetch = _read(root, tree, view, FETCH_TXT)
    if fetch and fetch.strip():
        report.add("BAG-030", FETCH_TXT, "fetch.txt lists files to download; archivist does not fetch")
    return view
