"""verify on a signed inference package: tampering at three depths, copies between frames, trust, reading once.

Every tamper case is run against three attackers:

* ``plain``: the damage alone; fixity sees it;
* ``bagit``: the damage, then the payload manifests, ``Payload-Oxum`` and tag manifests re-computed and the
  seal removed, like someone who knows BagIt; fixity passes, the records disagree with the manifests;
* ``thorough``: ``cover_up``: every digest of a changed file replaced wherever a record or sidecar mentions it,
  then the manifests; fixity and the records agree, and only provenance (lineage, headers, sidecars,
  credentials) can tell.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from support.common import run_cli
from support.verify import snapshot, watching_opens
from support.verify_outputs import (
    FRAMES,
    RUN_RECORD,
    copy_signed,
    cover_up,
    edit_json,
    flip,
    out,
    read_json,
    rehash_manifests,
    sha256,
    signed_package,
)

from archivist import credentials
from archivist.imaging import oiio
from archivist.package.layout import Layout
from archivist.verify import verify

ATTACKERS = ("plain", "bagit", "thorough")


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return signed_package(tmp_path_factory)


@pytest.fixture
def pkg(signed, tmp_path) -> Path:
    return copy_signed(signed, tmp_path / "pkg", seal=True)


def found(report) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in report.problems}


def attack(root: Path, attacker: str, changed: list[str]) -> None:
    if attacker == "bagit":
        rehash_manifests(root, changed)
    elif attacker == "thorough":
        cover_up(root, changed)


def flip_in(path: Path, marker: bytes, skip: int) -> None:
    """Flip the lowest bit of the byte ``skip`` bytes after ``marker`` (a digit stays a digit)."""
    data = path.read_bytes()
    flip(path, data.index(marker) + len(marker) + skip)


def source_of(root: Path, number: int) -> str:
    return next(f["source"]["path"] for f in read_json(root, RUN_RECORD)["frames"] if f["number"] == number)


# -- a clean package ------------------------------------------------------------------------------

def test_a_signed_package_verifies_clean_reading_each_file_once(pkg, signed):
    before = snapshot(pkg)
    with watching_opens() as seen:
        report = verify(pkg, trust_anchors_pem=signed.ca, workers=2)
    assert report.ok and report.problems == [], report.to_dict()
    assert (report.outputs, report.credentials) == (4, 4)
    assert snapshot(pkg) == before
    opens = Counter(Path(p).resolve().relative_to(pkg.resolve()).as_posix() for ev, p in seen
                    if ev == "open" and Path(p).resolve().is_relative_to(pkg.resolve()) and Path(p).exists())
    files = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()}
    assert set(opens) == files  # the seal and every credential included
    assert set(opens.values()) == {1}, {p: n for p, n in opens.items() if n != 1}


def test_untrusted_signers_are_warnings(pkg, tmp_path):
    for anchors in (None, credentials.init_test_identity(tmp_path / "stranger").ca.read_bytes()):
        report = verify(pkg, trust_anchors_pem=anchors)
        assert report.ok and found(report) == {("C2PA-002", Layout.stage_dir("outputs", "infer-01")),
                                               ("C2PA-006", Layout.PACKAGE_SEAL)}
        assert "4 credentials" in next(p.message for p in report.problems if p.code == "C2PA-002")


def test_bad_trust_anchors_are_a_usage_error(pkg, signed):
    with pytest.raises(Exception) as exc:
        verify(pkg, trust_anchors_pem=b"not a certificate")
    assert exc.value.code == "VERIFY-TRUST-ANCHOR" and exc.value.exit_code == 2


# -- a flipped byte in each kind of file ----------------------------------------------------------

EXR, JSON_, TXT, XMP, C2PA = (out(1002, k) for k in ("exr", "json", "txt", "xmp", "c2pa"))


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_flipped_byte_in_an_output_exr(pkg, signed, attacker):
    flip(pkg / EXR, at=-50)  # in the pixel data: the header still reads
    attack(pkg, attacker, [EXR])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    assert not report.ok
    assert found(report) == {"plain": {("BAG-010", EXR), ("C2PA-001", C2PA)},
                             "bagit": {("CON-001", EXR), ("C2PA-001", C2PA)},
                             "thorough": {("C2PA-001", C2PA)}}[attacker]
    assert "assertion.dataHash.mismatch" in next(p.message for p in report.problems if p.code == "C2PA-001")


@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("rel, marker, skip, code", [
    (JSON_, b'"frame": ', 3, "OUT-008"),
    (TXT, b"Source SHA-256:", 10, "OUT-009"),
    (XMP, b"<archivist:FrameNumber>", 3, "OUT-010"),
])
def test_flipped_byte_in_a_sidecar(pkg, signed, attacker, rel, marker, skip, code):
    flip_in(pkg / rel, marker, skip)
    attack(pkg, attacker, [rel])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    fixity = {"plain": {("BAG-010", rel)}, "bagit": {("CON-001", rel)}, "thorough": set()}[attacker]
    assert found(report) == fixity | {(code, rel)}
    assert "the run record says" in next(p.message for p in report.problems if p.code == code)


def test_every_flipped_byte_of_a_credential_is_reported(pkg, signed):
    """About a fifth of a .c2pa file is not covered by its signature; fixity and the run record cover it."""
    path = pkg / C2PA
    size = path.stat().st_size
    still_valid = 0
    for at in range(7, size, size // 48):
        flip(path, at)
        report = verify(pkg, trust_anchors_pem=signed.ca)
        assert not report.ok and ("BAG-010", C2PA) in found(report), at
        alone = credentials.validate_manifest(pkg / EXR, path, trust_anchors_pem=signed.ca)
        still_valid += alone.status == credentials.VALID
        flip(path, at)
    assert still_valid, "no sampled byte was outside the signature; the sample does not show the point"
    # With the manifests re-computed, the run record still names the credential's old digest.
    flip(path, size // 2)
    rehash_manifests(pkg, [C2PA])
    assert ("CON-001", C2PA) in found(verify(pkg, trust_anchors_pem=signed.ca))


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_flipped_byte_in_the_onnx_model(pkg, signed, attacker):
    onnx = read_json(pkg, RUN_RECORD)["model"]["onnx"]["path"]
    flip(pkg / onnx)
    attack(pkg, attacker, [onnx])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    ingredient = {("C2PA-003", onnx)}  # one finding for the four credentials that name it
    assert found(report) == {
        "plain": {("BAG-010", onnx)} | ingredient,
        "bagit": {("CON-001", onnx)} | ingredient,
        # the card, run record and sidecars now name the new model; the headers and credentials cannot
        "thorough": ingredient | {("OUT-007", out(n, "exr")) for n in FRAMES} | {("OUT-011", out(n, "c2pa"))
                                                                                  for n in FRAMES},
    }[attacker]
    if attacker == "thorough":
        assert all("ModelSHA256" in p.message for p in report.problems if p.code == "OUT-007")


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_flipped_byte_in_the_dataset_record(pkg, signed, attacker):
    ds = read_json(pkg, RUN_RECORD)["dataset"]["path"]
    flip_in(pkg / ds, b'"created": "', 3)  # a digit of the year: still valid JSON, another dataset record
    attack(pkg, attacker, [ds])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    assert not report.ok
    got = found(report)
    assert ("C2PA-003", ds) in got
    assert {"plain": ("BAG-010", ds), "bagit": ("CON-001", ds), "thorough": ("C2PA-003", ds)}[attacker] in got
    if attacker == "thorough":
        assert got == {("C2PA-003", ds)}
    assert not {p.code for p in report.problems if p.code.startswith("BAG")} - {"BAG-010"}


# -- copies between frames ------------------------------------------------------------------------

@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("kind, code", [("json", "OUT-008"), ("txt", "OUT-009"), ("xmp", "OUT-010")])
def test_a_sidecar_copied_from_another_frame_is_named(pkg, signed, attacker, kind, code):
    shutil.copyfile(pkg / out(1003, kind), pkg / out(1001, kind))
    attack(pkg, attacker, [out(1001, kind)])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    fixity = {"plain": {("BAG-010", out(1001, kind))}, "bagit": {("CON-001", out(1001, kind))},
              "thorough": set()}[attacker]
    assert found(report) == fixity | {(code, out(1001, kind))}
    message = next(p.message for p in report.problems if p.code == code)
    assert f"it describes {out(1003, 'exr')}: copied from another frame" in message


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_a_credential_copied_from_another_frame_is_named(pkg, signed, attacker):
    shutil.copyfile(pkg / out(1003, "c2pa"), pkg / out(1001, "c2pa"))
    attack(pkg, attacker, [out(1001, "c2pa")])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    fixity = {"plain": {("BAG-010", out(1001, "c2pa"))}, "bagit": {("CON-001", out(1001, "c2pa"))},
              "thorough": set()}[attacker]
    assert found(report) == fixity | {("C2PA-001", out(1001, "c2pa")), ("OUT-011", out(1001, "c2pa"))}
    by_code = {p.code: p.message for p in report.problems}
    assert f"signed data hash is that of {out(1003, 'exr')}: a credential copied from another frame" in \
        by_code["C2PA-001"]
    assert "parameters.frame is 1003, the run record says 1001" in by_code["OUT-011"]
    assert f"it describes {out(1003, 'exr')}" in by_code["OUT-011"]


def test_an_output_exr_copied_from_another_frame_is_named(pkg, signed):
    shutil.copyfile(pkg / out(1003, "exr"), pkg / out(1001, "exr"))
    cover_up(pkg, [out(1001, "exr")])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    assert found(report) == {("OUT-007", out(1001, "exr")), ("C2PA-001", out(1001, "c2pa"))}
    assert f"it describes {out(1003, 'exr')}" in next(p.message for p in report.problems if p.code == "OUT-007")


# -- a replaced source frame ----------------------------------------------------------------------

@pytest.mark.parametrize("attacker", ATTACKERS + ("element",))
def test_an_output_whose_source_frame_was_replaced(pkg, signed, attacker):
    src = source_of(pkg, 1002)
    pixels = oiio.read(pkg / src)
    oiio.write(pkg / src, pixels[:, ::-1].copy(), pixel_type="half", compression="piz")  # another picture
    if attacker == "element":  # the manifests and the element record updated, nothing else
        new = sha256(pkg / src)
        edit_json(pkg, Layout.element_record("print16"),
                  lambda r: next(f for f in r["frames"] if f["path"] == src).update(sha256=new))
        rehash_manifests(pkg, [src, Layout.element_record("print16")])
    else:
        attack(pkg, attacker, [src])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    parent = ("C2PA-003", src)  # the credential's parentOf ingredient no longer matches
    got = found(report)
    if attacker == "plain":  # the new picture has another size: the records and Payload-Oxum say so too
        assert got == {("BAG-010", src), ("BAG-027", "bag-info.txt"), ("CON-001", src), parent}
    elif attacker == "bagit":
        assert got == {("CON-001", src), parent}
    elif attacker == "element":
        assert got == {("CON-001", src), ("OUT-002", out(1002, "exr")), parent}
        assert "the source frame was replaced after the run" in \
            next(p.message for p in report.problems if p.code == "OUT-002")
    else:
        # The records and sidecars all name the new frame now (the dataset record too, so it changed):
        # the EXR header and the credential still name the frame the output was made from.
        ds = read_json(pkg, RUN_RECORD)["dataset"]["path"]
        assert got == {("OUT-007", out(1002, "exr")), parent, ("C2PA-003", ds)}
        assert "SourceFrameSHA256" in next(p.message for p in report.problems if p.code == "OUT-007")


def test_a_run_record_copied_to_claim_another_runs_outputs(pkg, signed):
    copy = Layout.record("inference", "infer-02")
    rec = read_json(pkg, RUN_RECORD)
    rec["id"] = "infer-02"
    (pkg / copy).write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    cover_up(pkg, [copy])
    report = verify(pkg, trust_anchors_pem=signed.ca)
    codes = Counter(p.code for p in report.problems)
    assert codes == {"OUT-001": 1, "OUT-007": 4, "OUT-008": 4, "OUT-009": 4, "OUT-010": 4, "OUT-011": 4}
    assert "lie outside data/outputs/infer-02/" in next(p.message for p in report.problems if p.code == "OUT-001")
    assert all("InferenceRun is 'infer-01', the run record says 'infer-02'" in p.message
               for p in report.problems if p.code == "OUT-007")


def test_damaged_files_are_findings_not_crashes(pkg, signed):
    exr = pkg / out(1001, "exr")
    exr.write_bytes(exr.read_bytes()[:200])  # the header cut short
    (pkg / out(1002, "c2pa")).write_bytes(b"\x00" * 64)  # no manifest at all
    (pkg / out(1003, "xmp")).write_bytes(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    (pkg / out(1004, "json")).write_bytes(b"{not json")
    changed = [out(1001, "exr"), out(1002, "c2pa"), out(1003, "xmp"), out(1004, "json")]
    cover_up(pkg, changed)
    report = verify(pkg, trust_anchors_pem=signed.ca)
    assert found(report) == {("OUT-007", out(1001, "exr")), ("C2PA-001", out(1001, "c2pa")),
                             ("C2PA-001", out(1002, "c2pa")), ("OUT-010", out(1003, "xmp")),
                             ("OUT-008", out(1004, "json"))}
    by_path = {p.path: p.message for p in report.problems}
    assert "the EXR header cannot be read" in by_path[out(1001, "exr")]
    assert "archivist.manifest.unreadable" in by_path[out(1002, "c2pa")]
    assert "not an XMP packet" in by_path[out(1003, "xmp")] and "root:" not in by_path[out(1003, "xmp")]
    assert "not valid UTF-8 JSON" in by_path[out(1004, "json")]


def test_the_seal_catches_an_attacker_who_leaves_it(pkg, signed):
    flip(pkg / EXR, at=-50)
    rehash_manifests(pkg, [EXR])
    shutil.copyfile(signed.root / Layout.PACKAGE_SEAL, pkg / Layout.PACKAGE_SEAL)
    report = verify(pkg, trust_anchors_pem=signed.ca)
    assert ("C2PA-005", Layout.PACKAGE_SEAL) in found(report)
    assert "changed after it was sealed" in next(p.message for p in report.problems if p.code == "C2PA-005")


# -- everything at once, in any order ---------------------------------------------------------------

def test_every_problem_is_reported_the_same_with_one_or_many_workers(pkg, signed):
    flip(pkg / EXR, at=-50)
    shutil.copyfile(pkg / out(1003, "json"), pkg / out(1001, "json"))
    shutil.copyfile(pkg / out(1004, "c2pa"), pkg / out(1003, "c2pa"))
    cover_up(pkg, [EXR, out(1001, "json"), out(1003, "c2pa")])
    one = verify(pkg, trust_anchors_pem=signed.ca, workers=1).to_dict()
    many = verify(pkg, trust_anchors_pem=signed.ca, workers=4).to_dict()
    assert one == many and not one["ok"]
    assert Counter(p["code"] for p in one["problems"]) == {"C2PA-001": 2, "OUT-008": 1, "OUT-011": 1}


# -- an unsigned run ------------------------------------------------------------------------------------

def test_an_unsigned_run_is_checked_without_credentials(tmp_path_factory, tmp_path):
    from support.infer import model_package_copy

    from archivist.inference import runner

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    runner.infer(root, runner.InferOptions(frames="1001-1002"))
    report = verify(root)
    assert report.ok and report.problems == [] and (report.outputs, report.credentials) == (2, 0)
    shutil.copyfile(root / out(1002, "json"), root / out(1001, "json"))
    cover_up(root, [out(1001, "json")])
    report = verify(root)
    assert found(report) == {("OUT-008", out(1001, "json"))}


# -- the command line -----------------------------------------------------------------------------------

def test_cli_trust_anchor_and_exit_codes(pkg, signed, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(signed.ca)
    ok = run_cli("verify", pkg, "--trust-anchor", ca, "--json")
    assert ok.returncode == 0, ok.stdout
    data = json.loads(ok.stdout)
    assert data["problems"] == [] and data["counts"]["outputs"] == data["counts"]["credentials"] == 4
    key = tmp_path / "key.pem"
    key.write_bytes((signed.keys / "key.pem").read_bytes())
    bad = run_cli("verify", pkg, "--trust-anchor", key, "--json")
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"]["code"] == "VERIFY-TRUST-ANCHOR"
    shutil.copyfile(pkg / out(1003, "c2pa"), pkg / out(1001, "c2pa"))
    cover_up(pkg, [out(1001, "c2pa")])
    stranger = credentials.init_test_identity(tmp_path / "stranger").ca  # anchors add up: one of them vouches
    tampered = run_cli("verify", pkg, "--trust-anchor", stranger, "--trust-anchor", ca)
    assert tampered.returncode == 1
    assert "INVALID archivist package" in tampered.stdout and "4 output frames, 4 credentials" in tampered.stdout
    assert f"C2PA-001  {out(1001, 'c2pa')}: does not validate" in tampered.stdout
    assert f"OUT-011  {out(1001, 'c2pa')}:" in tampered.stdout
    assert "C2PA-002" not in tampered.stdout and "C2PA-006" not in tampered.stdout


# -- the auditor stands apart from the engine -------------------------------------------------------------

_AUDIT = """
import json, sys
from archivist.cli import cli
try:
    cli(["verify", sys.argv[1], "--trust-anchor", sys.argv[2], "--pixels", "--json"], standalone_mode=False)
finally:
    wanted = ("torch", "onnxruntime", "archivist.inference.runner", "archivist.inference.task",
              "archivist.inference.backends", "archivist.training")
    print(json.dumps(sorted(m for m in wanted if m in sys.modules)), file=sys.stderr)
"""


def test_verify_does_not_import_the_engine(pkg, signed, tmp_path):
    import subprocess
    import sys

    ca = tmp_path / "ca.pem"
    ca.write_bytes(signed.ca)
    proc = subprocess.run([sys.executable, "-c", _AUDIT, str(pkg), str(ca)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["problems"] == [] and data["counts"]["outputs"] == data["counts"]["credentials"] == 4
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
