"""Strict RFC 8493 structure: declaration, bag-info, manifests, paths.

``load`` reads the tag files once, reports every structural problem and
returns a ``BagView``: the parsed tag files and, per manifest, only the
entries that are safe to check. Hostile entries are reported here and
dropped, so no later step can open them.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from archivist.errors import UnsafePathError
from archivist.package.bagfiles import Manifest, parse_bag_info, parse_manifest
from archivist.package.layout import BAG_INFO_TXT, BAGIT_TXT, PAYLOAD_DIR, Layout
from archivist.package.safepath import check_relpath, is_windows_reserved, nfc_key
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report

FETCH_TXT = "fetch.txt"
KNOWN_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
NON_REPEATABLE = ("Bagging-Date", "Bag-Size", "Payload-Oxum", "Bag-Group-Identifier", "Bag-Count")
_MANIFEST = re.compile(r"^(tag)?manifest-([^/]+)\.txt$")
_VERSION_LINE = re.compile(r"^BagIt-Version: ([0-9]+\.[0-9]+)$")
_ENCODING_LINE = re.compile(r"^Tag-File-Character-Encoding: (\S+)$")
MAX_BAG_INFO_BYTES = 1 << 20
# Digits bounded: no real payload has 10^30 octets, and int() of a 5,000-digit string raises.
_OXUM = re.compile(r"^([0-9]{1,30})\.([0-9]{1,30})$")


@dataclass
class BagView:
    version: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)
    manifest_files: list[str] = field(default_factory=list)  # every manifest-*.txt present
    tag_manifest_files: list[str] = field(default_factory=list)
    payload: dict[str, dict[str, str]] = field(default_factory=dict)  # alg -> {safe path: digest}
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    hostile: set[str] = field(default_factory=set)
    blobs: dict[str, bytes] = field(default_factory=dict)  # small files already read: reused for fixity
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

def _safe_entries(name: str, alg: str, manifest: Manifest, tree: Tree, payload_side: bool, report: Report,
                  hostile: set[str]) -> dict[str, str]:
    """Report bad entries of one manifest; return {path: digest} of the entries safe to check."""
    width = hashlib.new(alg).digest_size * 2
    for n, line in manifest.malformed:
        report.add("BAG-012", name, f"line {n} is not 'digest path': {line[:80]!r}")
    marked = [e.line for e in manifest.entries if e.binary_marker]
    if marked:
        report.add("BAG-015", name, f"{len(marked)} lines use the md5sum '*' marker (first: line {marked[0]})")
    out: dict[str, str] = {}
    for e in manifest.entries:
        if not e.encoding_ok:
            report.add("BAG-013", e.path, f"{name} line {e.line}: '%' in the path is not percent-encoded")
        try:
            check_relpath(e.path)
        except UnsafePathError as exc:
            report.add("BAG-016", e.path, f"{name} line {e.line}: {exc.message}; not opened")
            hostile.add(e.path)
            continue
        if Layout.is_payload(e.path) != payload_side:
            where = "outside data/" if payload_side else "inside data/ (tag manifests list tag files only)"
            report.add("BAG-011", e.path, f"{name} line {e.line}: entry {where}")
            continue
        link = tree.link_on_path(e.path)
        if link is not None:
            report.add("BAG-017", e.path, f"{name} line {e.line}: path passes through symbolic link {link}; "
                                          "not opened")
            hostile.add(e.path)
            continue
        if len(e.digest) != width:
            report.add("BAG-012", e.path, f"{name} line {e.line}: {alg} digest has {len(e.digest)} hex digits, "
                                          f"expected {width}")
            continue
        if e.path in out:
            same = "same" if out[e.path] == e.digest else "a different"
            report.add("BAG-012", e.path, f"{name} line {e.line}: path listed again with {same} digest")
            continue
        out[e.path] = e.digest
    return out


def _nfc_collisions(view: BagView, report: Report) -> None:
    """Entries of any manifests that are equal after NFC: ambiguous, so none of them is opened."""
    by_nfc: dict[str, set[str]] = defaultdict(set)
    for group in (view.payload, view.tags):
        for entries in group.values():
            for p in entries:
                by_nfc[nfc_key(p)].add(p)
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
        manifest = parse_manifest(_decode(report, rel, _read(root, tree, view, rel) or b""))
        safe = _safe_entries(rel, alg, manifest, tree, not is_tag, report, view.hostile)
        (view.tags if is_tag else view.payload)[alg] = safe
    _nfc_collisions(view, report)
    for group in (view.payload, view.tags):  # a path bad in one manifest is not opened for any
        for alg, entries in group.items():
            group[alg] = {p: d for p, d in entries.items() if p not in view.hostile}


def _completeness(tree: Tree, view: BagView, report: Report) -> None:
    payload = tree.payload()
    by_nfc = {nfc_key(p): p for p in tree.files}
    listed: dict[str, list[str]] = defaultdict(list)
    for alg, entries in view.payload.items():
        for p in entries:
            listed[p].append(f"manifest-{alg}.txt")
    for p, names in sorted(listed.items()):
        if p in tree.files:
            continue
        if p in tree.special:
            continue  # reported once, with the other special files
        if p in tree.dirs:
            report.add("BAG-021", p, f"listed in {', '.join(names)} but is a directory")
            continue
        hint = ""
        twin = by_nfc.get(nfc_key(p))
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
    names = set(tree.files)
    for group in (view.payload, view.tags):
        for entries in group.values():
            names.update(entries)
    nfc: dict[str, set[str]] = defaultdict(set)
    for p in tree.files:
        nfc[nfc_key(p)].add(p)
    for same in nfc.values():
        for p in sorted(same) if len(same) > 1 else ():
            if p not in view.hostile:  # not reported already as a manifest entry
                others = ", ".join(repr(o) for o in sorted(same) if o != p)
                report.add("BAG-018", p, f"file name equal after Unicode normalisation to {others}")
    folded: dict[str, set[str]] = defaultdict(set)
    for p in names:
        folded[nfc_key(p).casefold()].add(nfc_key(p))
    for same in folded.values():
        if len(same) > 1:
            listed = sorted(same)
            report.add("BAG-019", listed[0], "names differ only in case: " + ", ".join(repr(p) for p in listed))
    for p in sorted(names):
        bad = [part for part in p.split("/") if is_windows_reserved(part)]
        if bad:
            report.add("BAG-020", p, f"{bad[0]!r} cannot be a file name on Windows")


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
