"""Fixtures for ``archivist verify``: one per rule, named after the rule it triggers.

Each fixture starts from a valid bag built with the real library (an
archivist package, or a plain bag written by bagit-python), does one
damage, and repairs everything the damage does not concern (tag
manifests, Payload-Oxum), so the rule under test is the only one raised.
``FIXTURES`` maps each rule code to its fixture.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import unicodedata
from contextlib import contextmanager
from pathlib import Path

import bagit

from archivist.package import Package
from archivist.package.bagfiles import format_manifest, parse_manifest
from archivist.package.hashing import hash_file
from archivist.package.locking import WriteLock
from archivist.verify import profile as profile_mod

ALGS = ("sha512", "sha256")


# -- watching what verify opens ------------------------------------------------------------------

_opened: list | None = None
_lock = threading.Lock()


def _audit(event, args):
    if _opened is not None and event in ("open", "os.scandir", "os.listdir") and args and \
            isinstance(args[0], (str, bytes, os.PathLike)):
        with _lock:
            _opened.append((event, os.fsdecode(args[0])))


sys.addaudithook(_audit)


@contextmanager
def watching_opens():
    """Record every path Python opens or lists while the block runs (all threads)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def snapshot(root: Path) -> dict:
    """Mode, size, mtime and content hash of everything under ``root``: equal before and after means untouched."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            content = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, content)
    return out


# -- building valid bags ---------------------------------------------------------------------

class Bags:
    """Fresh copies of a valid archivist package and of plain bags.

    ``signed`` gives the signed inference package (``helpers_verify_outputs``), built on first use.
    """

    def __init__(self, work: Path, template: Path, signed=None):
        self.work = work
        self.template = template
        self.signed = signed
        self.cleanups: list = []
        self._n = 0

    def _dest(self, name: str) -> Path:
        self._n += 1
        return self.work / f"{name}-{self._n}"

    def package(self) -> Path:
        dest = self._dest("pkg")
        shutil.copytree(self.template, dest, symlinks=True)
        return dest

    def plain(self, files: dict[str, bytes] | None = None, *, version: str = "1.0") -> Path:
        """A bag written by bagit-python (0.97), declared as ``version``."""
        dest = self._dest("bag")
        dest.mkdir()
        for rel, data in (files if files is not None else {"scan/notes.txt": b"telecine notes\n"}).items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(data)
        bagit.make_bag(str(dest), checksums=["sha256", "sha512"])
        if version != "0.97":
            (dest / "bagit.txt").write_text(f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n")
            refresh_tagmanifests(dest)
        return dest

    def close(self) -> None:
        for fn in self.cleanups:
            fn()
        self.cleanups.clear()


def build_template(folder: Path, write_shot) -> Path:
    """An archivist package with a source and a reference element, built with the library."""
    write_shot(folder / "scan")
    write_shot(folder / "dvd", ext="png", stem="dvd", start=1)
    pkg = Package.create(folder / "pkg", title="Test film", organization="Test Archive", recovery="chroma")
    pkg.add_element(role="source", element="print16", paths=[folder / "scan"], description="16mm positive print",
                    training_use="authorised", rights="Archive-owned", gauge="16mm")
    pkg.add_element(role="reference", element="dvd", paths=[folder / "dvd"], description="PAL DVD 2003",
                    training_use="authorised", rights="Licensed for restoration")
    return pkg.root


# -- repairing what a damage does not concern --------------------------------------------------

def manifest(root: Path, alg: str, tag: bool = False) -> dict[str, str]:
    return parse_manifest((root / f"{'tag' if tag else ''}manifest-{alg}.txt").read_text("utf-8")).as_dict()


def write_manifest(root: Path, alg: str, entries: dict[str, str], tag: bool = False) -> None:
    (root / f"{'tag' if tag else ''}manifest-{alg}.txt").write_text(format_manifest(entries), "utf-8")


def append_line(root: Path, name: str, line: str) -> None:
    with open(root / name, "a", encoding="utf-8", newline="") as f:
        f.write(line + "\n")


def rehash(root: Path, rel: str, *, algs=ALGS) -> None:
    """Make the payload manifests agree with ``rel`` as it is now on disk (or drop it if gone)."""
    for alg in algs:
        entries = manifest(root, alg)
        if (root / rel).is_file():
            entries[rel] = hash_file(root / rel, algorithms=[alg]).digests[alg]
        else:
            entries.pop(rel, None)
        write_manifest(root, alg, entries)


def refresh_tagmanifests(root: Path) -> None:
    """List every tag file except the tag manifests, with fresh digests, in every tag manifest."""
    tags = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.relative_to(root).parts[0] not in ("data", ".archivist")
                  and not p.name.startswith("tagmanifest-"))
    for tm in sorted(root.glob("tagmanifest-*.txt")):
        alg = tm.name[len("tagmanifest-"):-4]
        entries = {t: hash_file(root / t, algorithms=[alg]).digests[alg] for t in tags}
        write_manifest(root, alg, entries, tag=True)


def payload_oxum(root: Path) -> str:
    files = [p for p in (root / "data").rglob("*") if p.is_file() and not p.is_symlink()]
    return f"{sum(p.stat().st_size for p in files)}.{len(files)}"


def edit_bag_info(root: Path, fn) -> None:
    """Apply ``fn`` to bag-info.txt's lines (a list it may change) and write it back."""
    lines = (root / "bag-info.txt").read_text("utf-8").splitlines()
    fn(lines)
    (root / "bag-info.txt").write_text("\n".join(lines) + "\n", "utf-8")


def set_info(label: str, value: str | None):
    def fn(lines):
        lines[:] = [ln for ln in lines if not ln.startswith(label + ":")]
        if value is not None:
            lines.append(f"{label}: {value}")
    return fn


def refresh(root: Path) -> None:
    """Payload-Oxum from the payload on disk, then the tag manifests."""
    oxum = payload_oxum(root)
    edit_bag_info(root, lambda lines: lines.__setitem__(
        slice(None), [f"Payload-Oxum: {oxum}" if ln.startswith("Payload-Oxum:") else ln for ln in lines]))
    refresh_tagmanifests(root)


def edit_json(root: Path, rel: str, fn) -> None:
    """Change a record, then make manifests, Payload-Oxum and tag manifests agree with it."""
    data = json.loads((root / rel).read_text("utf-8"))
    fn(data)
    (root / rel).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    rehash(root, rel)
    refresh(root)


def custom_profile(bags: Bags, **changes) -> Path:
    """The built-in profile with top-level keys replaced (``None`` removes a key)."""
    doc = json.loads(profile_mod.builtin_text())
    for key, value in changes.items():
        key = key.replace("__", ".").replace("_", "-")
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    path = bags._dest("profile").with_suffix(".json")
    path.write_text(json.dumps(doc, indent=2))
    return path


FRAME = "data/sources/print16/shot.1002.exr"


# -- one fixture per rule ------------------------------------------------------------------------

def pkg_001_live_writer(bags):
    root = bags.package()
    lock = WriteLock(root, "add").acquire()
    bags.cleanups.append(lock.release)
    return root, {}


def pkg_002_interrupted_command(bags):
    root = bags.package()
    (root / ".archivist" / "staging" / "data").mkdir(parents=True)
    (root / ".archivist" / "journal.json").write_text('{"state": "applying", "new": [], "replaced": []}')
    return root, {}


def pkg_003_stale_working_files(bags):
    root = bags.package()
    (root / ".archivist").mkdir()
    (root / ".archivist" / "lock").write_text('{"pid": 1}')
    return root, {}


def bag_001_malformed_declaration(bags):
    root = bags.package()
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: line\n")
    refresh_tagmanifests(root)
    return root, {}


def bag_002_version_097(bags):
    return bags.plain(version="0.97"), {}


def bag_003_unsupported_version(bags):
    return bags.plain(version="0.96"), {}


def bag_004_tag_file_not_utf8(bags):
    root = bags.plain()
    with open(root / "bag-info.txt", "ab") as f:
        f.write(b"Contact-Name: Jos\xe9 Garc\xeda\n")  # Latin-1
    refresh_tagmanifests(root)
    return root, {}


def bag_005_no_payload_directory(bags):
    root = bags.plain(files={})
    (root / "data").rmdir()
    for alg in ALGS:
        write_manifest(root, alg, {})
    refresh_tagmanifests(root)
    return root, {}


def bag_006_no_payload_manifest(bags):
    # bagit-python writes no payload manifest for an empty payload, which RFC 8493 does not allow.
    return bags.plain(files={}), {}


def bag_007_missing_payload_file(bags):
    root = bags.package()
    (root / FRAME).unlink()
    refresh(root)
    return root, {}


def bag_008_payload_file_in_no_manifest(bags):
    root = bags.package()
    shutil.copy(root / FRAME, root / "data/sources/print16/shot.1005.exr")
    refresh(root)
    return root, {}


def bag_009_payload_file_missing_from_one_manifest(bags):
    root = bags.package()
    entries = manifest(root, "sha512")
    del entries[FRAME]
    write_manifest(root, "sha512", entries)
    refresh_tagmanifests(root)
    return root, {}


def bag_010_payload_content_changed(bags):
    root = bags.package()
    path = root / FRAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return root, {}


def bag_011_entry_outside_data(bags):
    root = bags.package()
    for alg in ALGS:
        append_line(root, f"manifest-{alg}.txt", f"{hash_file(root / 'bagit.txt', algorithms=[alg]).digests[alg]}  bagit.txt")
    refresh_tagmanifests(root)
    return root, {}


def bag_012_malformed_manifest_line(bags):
    root = bags.package()
    append_line(root, "manifest-sha256.txt", "this line is not a manifest entry")
    refresh_tagmanifests(root)
    return root, {}


def bag_013_path_not_percent_encoded(bags):
    # bagit-python writes '%' as it is (a known bug), so its own bag shows the rule.
    return bags.plain(files={"scan/100%.txt": b"full strength\n"}), {}


def bag_014_unknown_algorithm(bags):
    root = bags.plain()
    (root / "manifest-crc32.txt").write_text("cbf43926  data/scan/notes.txt\n")
    refresh_tagmanifests(root)
    return root, {}


def bag_015_md5sum_binary_marker(bags):
    root = bags.plain()
    for alg in ALGS:
        p = root / f"manifest-{alg}.txt"
        p.write_text("".join(ln.replace("  data/", "  *data/", 1) + "\n" for ln in p.read_text().splitlines()))
    refresh_tagmanifests(root)
    return root, {}


def bag_016_unsafe_manifest_path(bags):
    root = bags.package()
    for alg in ALGS:
        append_line(root, f"manifest-{alg}.txt", f"{'0' * (128 if alg == 'sha512' else 64)}  data/../../outside.txt")
    refresh_tagmanifests(root)
    return root, {}


def bag_017_symbolic_link(bags):
    root = bags.package()
    outside = bags._dest("outside")
    outside.write_text("not part of the bag")
    os.symlink(outside, root / "data/sources/print16/shot.1005.exr")
    return root, {}


def bag_018_nfc_collision(bags):
    root = bags.package()
    nfc = "data/sources/print16/caf\u00e9.exr"
    nfd = unicodedata.normalize("NFD", nfc)
    for alg in ALGS:
        zero = "0" * (128 if alg == "sha512" else 64)
        append_line(root, f"manifest-{alg}.txt", f"{zero}  {nfc}")
        append_line(root, f"manifest-{alg}.txt", f"{zero}  {nfd}")
    refresh_tagmanifests(root)
    return root, {}


def bag_019_case_only_collision(bags):
    return bags.plain(files={"scan/Notes.txt": b"a\n", "scan/notes.txt": b"b\n"}), {}


def bag_020_windows_reserved_name(bags):
    return bags.plain(files={"scan/aux.txt": b"auxiliary\n"}), {}


def bag_021_not_a_regular_file(bags):
    root = bags.package()
    frame = root / FRAME
    frame.unlink()
    os.mkfifo(frame)  # opening it would block: verify must not
    refresh(root)
    return root, {}


def bag_022_tag_manifest_omits_payload_manifest(bags):
    root = bags.package()
    for alg in ALGS:
        entries = manifest(root, alg, tag=True)
        del entries["manifest-sha512.txt"]
        write_manifest(root, alg, entries, tag=True)
    return root, {}


def bag_023_tag_file_missing(bags):
    root = bags.plain()
    for alg in ALGS:
        append_line(root, f"tagmanifest-{alg}.txt", f"{'0' * (128 if alg == 'sha512' else 64)}  provenance.txt")
    return root, {}


def bag_024_tag_file_changed(bags):
    root = bags.package()
    path = root / "bag-info.txt"
    path.write_bytes(path.read_bytes().replace(b"Test film: ML", b"Test film; ML"))
    return root, {}


def bag_025_tag_file_not_in_tag_manifest(bags):
    root = bags.plain()
    (root / "provenance.txt").write_text("scanned 2021\n")
    return root, {}


def bag_026_malformed_bag_info_line(bags):
    root = bags.plain()
    with open(root / "bag-info.txt", "a") as f:
        f.write("this line has no label\n")
    refresh_tagmanifests(root)
    return root, {}


def bag_027_payload_oxum_wrong(bags):
    root = bags.package()
    edit_bag_info(root, set_info("Payload-Oxum", "12.3"))
    refresh_tagmanifests(root)
    return root, {}


def bag_028_payload_oxum_repeated(bags):
    root = bags.plain()
    oxum = payload_oxum(root)
    edit_bag_info(root, lambda lines: lines.append(f"Payload-Oxum: {oxum}"))
    refresh_tagmanifests(root)
    return root, {}


def bag_029_no_payload_oxum(bags):
    root = bags.plain()
    edit_bag_info(root, set_info("Payload-Oxum", None))
    refresh_tagmanifests(root)
    return root, {}


def bag_030_fetch_txt(bags):
    root = bags.plain()
    (root / "fetch.txt").write_text("https://example.org/reel2.mov 1024 data/scan/reel2.mov\n")
    refresh_tagmanifests(root)
    return root, {}


def pro_001_profile_not_declared(bags):
    root = bags.package()
    edit_bag_info(root, set_info("BagIt-Profile-Identifier", None))
    refresh_tagmanifests(root)
    return root, {}


def pro_002_required_element_missing(bags):
    root = bags.package()
    edit_bag_info(root, set_info("External-Description", None))
    refresh_tagmanifests(root)
    return root, {}


def pro_003_value_not_allowed(bags):
    doc = json.loads(profile_mod.builtin_text())
    doc["Bag-Info"]["Source-Organization"]["values"] = ["Another Archive"]
    return bags.package(), {"profile_path": custom_profile(bags, Bag_Info=doc["Bag-Info"])}


def pro_004_element_repeated(bags):
    root = bags.package()
    edit_bag_info(root, lambda lines: lines.append(next(ln for ln in lines if ln.startswith("External-Identifier:"))))
    refresh_tagmanifests(root)
    return root, {}


def pro_005_payload_manifest_algorithms(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Manifests_Required=["sha512", "sha256", "md5"],
                                                           Manifests_Allowed=None)}


def pro_006_tag_manifest_algorithms(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Tag_Manifests_Required=["sha1"],
                                                           Tag_Manifests_Allowed=None)}


def pro_007_fetch_not_allowed(bags):
    root = bags.package()
    (root / "fetch.txt").write_bytes(b"")
    refresh_tagmanifests(root)
    return root, {}


def pro_008_version_not_accepted(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Accept_BagIt_Version=["0.97"])}


def pro_009_required_tag_file_missing(bags):
    return bags.package(), {"profile_path": custom_profile(
        bags, Tag_Files_Required=["provenance/scan-report.txt"], Tag_Files_Allowed=None)}


def pro_010_tag_file_not_allowed(bags):
    root = bags.package()
    (root / "notes.txt").write_text("kept beside the bag\n")
    refresh_tagmanifests(root)
    return root, {}


def pro_011_required_payload_file_missing(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Payload_Files_Required=["data/README.txt"],
                                                           Payload_Files_Allowed=None)}


def pro_012_payload_file_not_allowed(bags):
    allowed = [p for p in json.loads(profile_mod.builtin_text())["Payload-Files-Allowed"] if "references" not in p]
    return bags.package(), {"profile_path": custom_profile(bags, Payload_Files_Allowed=allowed)}


def pro_013_payload_must_be_empty(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Data_Empty=True)}


def pro_014_serialisation_required(bags):
    return bags.package(), {"profile_path": custom_profile(bags, Serialization="required")}


def pro_015_unknown_profile_declared(bags):
    root = bags.plain()
    edit_bag_info(root, set_info("BagIt-Profile-Identifier", "https://example.org/profiles/film-v2.json"))
    refresh_tagmanifests(root)
    return root, {}


def rec_001_record_not_json(bags):
    root = bags.package()
    (root / "data/records/package.json").write_bytes(b'{"schema": "archivist/package/1", "title": ')
    rehash(root, "data/records/package.json")
    refresh(root)
    return root, {}


def rec_002_record_fails_schema(bags):
    root = bags.package()
    edit_json(root, "data/records/package.json", lambda r: r.update(recovery_notes="not a field of the schema"))
    return root, {}


def rec_003_event_log_line_damaged(bags):
    root = bags.package()
    append_line(root, "data/records/events.jsonl", "{not json")
    rehash(root, "data/records/events.jsonl")
    refresh(root)
    return root, {}


def rec_004_event_chain_broken(bags):
    root = bags.package()
    log = root / "data/records/events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[1:]))  # history rewritten: the first event removed
    rehash(root, "data/records/events.jsonl")
    refresh(root)
    return root, {}


def con_001_record_hash_differs(bags):
    root = bags.package()

    def fn(rec):
        rec["frames"][1]["sha256"] = "0" * 64
    edit_json(root, "data/records/elements/print16.json", fn)
    return root, {}


def con_002_record_names_absent_file(bags):
    root = bags.package()

    def fn(rec):
        ghost = dict(rec["frames"][-1], number=1005, path="data/sources/print16/shot.1005.exr")
        rec["frames"].append(ghost)
    edit_json(root, "data/records/elements/print16.json", fn)
    return root, {}


def con_003_file_named_by_no_record(bags):
    root = bags.package()
    shutil.copy(root / FRAME, root / "data/sources/print16/shot.1005.exr")
    rehash(root, "data/sources/print16/shot.1005.exr")
    refresh(root)
    return root, {}


def con_004_element_record_misplaced(bags):
    root = bags.package()
    old, new = "data/records/elements/dvd.json", "data/records/elements/dvd2003.json"
    (root / old).rename(root / new)
    rehash(root, old)
    rehash(root, new)
    refresh(root)
    return root, {}


def con_005_package_record_vs_bag_info(bags):
    root = bags.package()
    edit_bag_info(root, set_info("External-Identifier", "urn:uuid:00000000-0000-4000-8000-000000000000"))
    refresh_tagmanifests(root)
    return root, {}


def _described(bags) -> Path:
    from archivist.archive.describe import describe

    root = bags.package()
    describe(Package.open(root))
    return root


def con_006_archive_metadata_stale(bags):
    from support.common import write_shot

    root = _described(bags)
    frames = bags._dest("frames")
    write_shot(frames, n=2, image="coffee")
    Package.open(root).add_element(role="source", element="print16b", paths=[frames],
                                   description="16mm positive print, second scan", training_use="unknown")
    return root, {}


def con_007_archive_metadata_misfit(bags):
    root = _described(bags)
    edit_json(root, "data/records/metadata.json", lambda rec: rec["package"].update(title="Another film"))
    return root, {}


def con_008_archive_metadata_disagrees(bags):
    root = _described(bags)
    rel = "data/metadata/metadata.csv"
    text = (root / rel).read_text("utf-8")
    (root / rel).write_bytes(text.replace(",Test film,", ",Another film,", 1).encode("utf-8"))
    rehash(root, rel)
    sha = hash_file(root / rel, algorithms=["sha256"]).digests["sha256"]

    def fn(rec):
        entry = next(f for f in rec["files"] if f["path"] == rel)
        entry.update(sha256=sha, size=(root / rel).stat().st_size)
    edit_json(root, "data/records/metadata.json", fn)
    return root, {}


FIXTURES = {
    name.split("_", 2)[0].upper() + "-" + name.split("_", 2)[1]: fn
    for name, fn in list(globals().items())
    if callable(fn) and name[:4] in ("pkg_", "bag_", "pro_", "rec_", "con_")
}
