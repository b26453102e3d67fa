"""archivist verify on real packages: damage, hostile manifests, interoperability, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections import Counter
from pathlib import Path

import bagit
from support.common import REPO, run_cli, write_shot
from support.verify import ALGS, FRAME, append_line, refresh_tagmanifests, snapshot, watching_opens

from archivist.package.hashing import hash_file
from archivist.package.layout import PROFILE_IDENTIFIER, Layout
from archivist.verify import verify


def flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


# -- a valid package ------------------------------------------------------------------------------

def test_valid_package_verifies_clean(package):
    report = verify(package.root)
    assert report.ok and report.problems == []
    assert report.archivist and report.profile == PROFILE_IDENTIFIER
    payload = [p for p in package.root.rglob("*") if p.is_file() and "data" in p.relative_to(package.root).parts[:1]]
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
    assert report.files == len(payload) + len(tags)
    assert report.bytes == sum(p.stat().st_size for p in payload) + sum((package.root / t).stat().st_size for t in tags)


def test_package_seal_is_an_allowed_unlisted_tag_file(package):
    # Allowed where it is (no BAG-025, no PRO-010), and validated: these bytes are no C2PA manifest.
    (package.root / Layout.PACKAGE_SEAL).write_bytes(b"detached C2PA manifest bytes")
    report = verify(package.root)
    assert [(p.code, p.path) for p in report.problems] == [("C2PA-005", Layout.PACKAGE_SEAL)]
    assert "archivist.manifest.unreadable" in report.problems[0].message


def test_same_report_with_one_or_many_workers(package):
    flip(package.root / FRAME)
    (package.root / "data/sources/print16/shot.1001.exr").unlink()
    one = verify(package.root, workers=1).to_dict()
    many = verify(package.root, workers=4).to_dict()
    assert one == many and not one["ok"]


# -- damage ----------------------------------------------------------------------------------------

def test_flipped_byte_in_a_payload_file(package):
    flip(package.root / FRAME)
    report = verify(package.root)
    assert not report.ok
    assert [(p.code, p.path) for p in report.problems] == [("BAG-010", FRAME)]
    assert "manifest-sha256.txt" in report.problems[0].message and "manifest-sha512.txt" in report.problems[0].message


def test_flipped_byte_in_a_tag_file(package):
    info = package.root / "bag-info.txt"
    flip(info, info.read_bytes().index(b"Test film") + 2)
    report = verify(package.root)
    assert [(p.code, p.path) for p in report.problems] == [("BAG-024", "bag-info.txt")]


def test_flipped_byte_in_a_manifest(package):
    m = package.root / "manifest-sha256.txt"
    text = m.read_text()
    line = next(ln for ln in text.splitlines() if ln.endswith(FRAME))
    m.write_text(text.replace(line, ("1" if line[0] == "0" else "0") + line[1:]))
    report = verify(package.root)
    found = {(p.code, p.path) for p in report.problems}
    # the file no longer matches the manifest, the manifest no longer matches the tag manifests,
    # and the element record no longer matches the manifest
    assert found == {("BAG-010", FRAME), ("BAG-024", "manifest-sha256.txt"), ("CON-001", FRAME)}


def test_missing_file(package):
    (package.root / FRAME).unlink()
    report = verify(package.root)
    assert {(p.code, p.path) for p in report.problems} == {("BAG-007", FRAME), ("BAG-027", "bag-info.txt")}


def test_extra_file(package):
    extra = "data/sources/print16/shot.1005.exr"
    shutil.copy(package.root / FRAME, package.root / extra)
    report = verify(package.root)
    assert {(p.code, p.path) for p in report.problems} == {("BAG-008", extra), ("BAG-027", "bag-info.txt")}


def test_every_problem_is_reported_not_just_the_first(package):
    frames = sorted((package.root / "data/sources/print16").iterdir())
    flip(frames[0])
    flip(frames[1])
    frames[2].unlink()
    (package.root / "data/references/dvd/stray.png").write_bytes(b"stray")
    report = verify(package.root)
    codes = Counter(p.code for p in report.problems)
    assert codes == {"BAG-010": 2, "BAG-007": 1, "BAG-008": 1, "BAG-027": 1}
    assert report.to_dict()["counts"]["errors"] == 5


def test_corrupt_json_record(package):
    rec = package.root / "data/records/elements/dvd.json"
    rec.write_bytes(rec.read_bytes()[:100])
    report = verify(package.root)
    by_code = Counter(p.code for p in report.problems)
    assert {p.path for p in report.problems if p.code == "REC-001"} == {"data/records/elements/dvd.json"}
    assert by_code["BAG-010"] == 1  # the record's own fixity
    # the frames it described are now described by nothing
    assert {p.path for p in report.problems if p.code == "CON-003"} == \
        {f"data/references/dvd/dvd.{i:04d}.png" for i in range(1, 5)}


def test_broken_event_chain(package):
    log = package.root / "data/records/events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    event = json.loads(lines[1])
    event["detail"] = "an edited history"
    lines[1] = json.dumps(event, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    report = verify(package.root)
    chain = [p for p in report.problems if p.code == "REC-004"]
    assert len(chain) == 1 and "line 3" in chain[0].message
    assert "BAG-010" in report.codes() and "REC-003" not in report.codes()


# -- hostile manifests -----------------------------------------------------------------------------

def test_hostile_manifest_entries_are_reported_and_never_opened(package, tmp_path):
    root = package.root
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.exr"
    secret.write_bytes(b"not part of the bag" * 100)
    fx = hash_file(secret)
    os.symlink(outside, root / "data/sources/print16/evil")
    nfc = "data/sources/print16/caf\u00e9.exr"
    (root / nfc).write_bytes(b"x")
    entries = {
        "data/../../outside/secret.exr": "BAG-016",
        str(secret): "BAG-016",
        "data/sources/print16/evil/secret.exr": "BAG-017",
        nfc: "BAG-018",
        unicodedata.normalize("NFD", nfc): "BAG-018",
    }
    for alg in ALGS:
        for path in entries:
            append_line(root, f"manifest-{alg}.txt", f"{fx.digests[alg]}  {path}")
    refresh_tagmanifests(root)
    # where this file system updates access times, they show a read too
    os.utime(secret, (1_000_000, secret.stat().st_mtime))
    with watching_opens() as seen:
        report = verify(root)
    reported = {(p.code, p.path) for p in report.problems}
    for path, code in entries.items():
        assert (code, path) in reported, (code, path, reported)
    assert ("BAG-017", "data/sources/print16/evil") in reported  # the link itself
    assert not report.ok
    # nothing outside the bag but archivist's own files (the built-in profile, schemas)
    touched = [(ev, p) for ev, p in seen if not Path(p).resolve().is_relative_to(root.resolve())
               and not Path(p).resolve().is_relative_to(REPO)]
    assert touched == []
    assert any(p.endswith("shot.1001.exr") for _, p in seen)  # the hook did see verify's reads
    assert secret.stat().st_atime == 1_000_000


# -- package state ---------------------------------------------------------------------------------

def test_killed_add_is_reported_and_recover_restores_a_valid_package(package, tmp_path):
    more = tmp_path / "more"
    write_shot(more, stem="neg", start=1, image="coffee")  # other frames: the same ones are refused
    proc = run_cli("add", package.root, "--role", "source", "--element", "neg35", "--description",
                   "35mm internegative", more, env={"ARCHIVIST_FAULT_INJECT": "payload-moved"})
    assert proc.returncode != 0
    result = run_cli("verify", package.root, "--json")
    assert result.returncode == 1
    assert "PKG-002" in {p["code"] for p in json.loads(result.stdout)["problems"]}
    run_cli("recover", package.root, check=True)
    assert run_cli("verify", package.root).returncode == 0


# -- reading: once, and never writing --------------------------------------------------------------

def test_each_file_is_read_once_and_nothing_is_written(package):
    root = package.root
    flip(root / FRAME)  # damage does not change how files are read
    before = snapshot(root)
    with watching_opens() as seen:
        verify(root, workers=2)
    assert snapshot(root) == before
    # (opening a file that does not exist, like the lock probe, reads nothing)
    inside = [Path(p).resolve() for ev, p in seen
              if ev == "open" and Path(p).resolve().is_relative_to(root.resolve()) and Path(p).exists()]
    opens = Counter(p.relative_to(root.resolve()).as_posix() for p in inside)
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(opens) == files
    assert set(opens.values()) == {1}


def test_progress_counts_the_bytes_hashed(package):
    events = []

    class Bar:
        def __init__(self, total, desc, unit):
            events.append(("start", total, unit))

        def update(self, n=1):
            events.append(("update", n))

        def close(self):
            events.append(("close",))

    verify(package.root, progress=Bar, workers=2)
    frames = [p for p in package.root.rglob("*") if p.suffix in (".exr", ".png")]
    assert events[0] == ("start", sum(p.stat().st_size for p in frames), "B")
    assert sum(e[1] for e in events if e[0] == "update") == events[0][1]
    assert events[-1] == ("close",)


def test_undecodable_file_name_is_reported_readably(package):
    os.close(os.open(os.fsencode(package.root / "data/sources/print16") + b"/caf\xe9.exr", os.O_CREAT | os.O_WRONLY))
    report = verify(package.root)
    stray = [p for p in report.problems if p.code == "BAG-008"]
    assert [p.path for p in stray] == ["data/sources/print16/caf\\xe9.exr"]
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")


# -- interoperability ------------------------------------------------------------------------------

def test_bagit_python_validates_an_archivist_package(package):
    bagit.Bag(str(package.root)).validate()


def test_a_bag_made_by_bagit_python_verifies(tmp_path):
    src = tmp_path / "bag"
    write_shot(src / "scan", ext="tif")
    bagit.make_bag(str(src), {"Source-Organization": "Another Archive"}, checksums=["md5", "sha256"])
    report = verify(src)
    assert report.ok and not report.archivist and report.profile is None
    assert report.codes() == {"BAG-002"}  # BagIt 0.97: a warning
    assert report.files == 4 + 4  # frames, plus bagit.txt, bag-info.txt and the two payload manifests
    proc = run_cli("verify", src)
    assert proc.returncode == 0 and "BAG-002" in proc.stdout


# -- the command line -------------------------------------------------------------------------------

def test_cli_exit_codes_and_json(package, tmp_path):
    ok = run_cli("verify", package.root, "--json")
    assert ok.returncode == 0
    data = json.loads(ok.stdout)
    assert set(data) == {"ok", "path", "archivist", "profile", "counts", "problems", "seal", "unlisted"}
    assert data["ok"] is True and data["problems"] == []
    assert set(data["counts"]) == {"errors", "warnings", "files", "bytes", "outputs", "credentials"}
    assert data["counts"]["outputs"] == data["counts"]["credentials"] == 0

    flip(package.root / FRAME)
    (package.root / "bag-info.txt").write_text((package.root / "bag-info.txt").read_text() + "no colon here\n")
    bad = run_cli("verify", package.root, "--json")
    assert bad.returncode == 1
    problems = json.loads(bad.stdout)["problems"]
    assert {p["code"] for p in problems} == {"BAG-010", "BAG-024", "BAG-026"}
    assert all(set(p) == {"code", "severity", "path", "message", "title"} for p in problems)

    human = run_cli("verify", package.root)
    assert human.returncode == 1
    out = human.stdout
    assert "INVALID" in out and out.index("errors:") < out.index("BAG-010")
    assert "docs/verify-rules.md" in out

    assert run_cli("verify", tmp_path).returncode == 2  # a directory that is not a bag
    assert run_cli("verify", tmp_path / "nowhere").returncode == 2
    assert run_cli("verify").returncode == 2
    profile = tmp_path / "profile.json"
    profile.write_text('{"BagIt-Profile-Info": {}}')
    res = run_cli("verify", package.root, "--profile", profile, "--json")
    assert res.returncode == 2 and json.loads(res.stdout)["error"]["code"] == "VERIFY-PROFILE"


def test_cli_profile_option_checks_a_plain_bag(tmp_path):
    src = tmp_path / "bag"
    write_shot(src, n=2, ext="png")
    bagit.make_bag(str(src), {"BagIt-Profile-Identifier": PROFILE_IDENTIFIER})
    res = run_cli("verify", src, "--json", "--profile",
                  Path(__file__).resolve().parent.parent / "profiles" / "archivist-restoration-v1.json")
    assert res.returncode == 1
    codes = {p["code"] for p in json.loads(res.stdout)["problems"]}
    # a bagit-python bag is BagIt 0.97, misses our bag-info elements, payload layout and records
    assert {"PRO-008", "PRO-002", "PRO-011", "PRO-012"} <= codes


def test_missing_record_is_reported_as_missing_and_its_frames_as_undescribed(package):
    (package.root / "data/records/elements/dvd.json").unlink()
    report = verify(package.root)
    by_code = {}
    for p in report.problems:
        by_code.setdefault(p.code, set()).add(p.path)
    assert by_code.pop("BAG-007") == {"data/records/elements/dvd.json"}
    assert by_code.pop("CON-003") == {f"data/references/dvd/dvd.{i:04d}.png" for i in range(1, 5)}
    assert set(by_code) == {"BAG-027"}
