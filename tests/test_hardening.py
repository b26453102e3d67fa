"""Hostile packages: nothing outside the package is read, written or deleted, and never a traceback.

Each test builds the hostile package for real (links, crafted journals, crafted models, crafted
JSON) and checks the exact error code, exit status and ``--json`` shape, that a canary folder
outside the package is byte-for-byte unchanged, and where it matters that the package is too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from support.common import run_cli, write_shot
from support.fuzz import tree_state
from support.package import snapshot

from archivist.package.layout import Layout
from archivist.package.model import Package

ADD_ARGS = ("--role", "reference", "--element", "dvd", "--description", "PAL DVD 2003")


@pytest.fixture
def base(tmp_path, shot):
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    pkg.add_element(role="source", element="print16", paths=[shot], description="16mm positive print")
    write_shot(tmp_path / "ref", ext="png", stem="dvd", start=1, n=2)
    return pkg


@pytest.fixture
def canary(tmp_path):
    """A folder outside the package with files a hostile package points at."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "v1.txt").write_bytes(b"precious outside file\n")
    (folder / "manifest-sha256.txt").write_bytes(b"not the package's\n")
    return folder


def failed_json(proc, code: str) -> dict:
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == code, doc
    assert set(doc["error"]) <= {"code", "message", "hint"}
    return doc


def write_journal(root: Path, journal: object | bytes) -> None:
    (root / ".archivist").mkdir(exist_ok=True)
    data = journal if isinstance(journal, bytes) else json.dumps(journal).encode()
    (root / Layout.JOURNAL).write_bytes(data)


# -- defect 1: recover outside the package ------------------------------------------------------------
@pytest.mark.parametrize("how", ["new", "replaced"])
def test_defect_1_recover_never_deletes_or_overwrites_outside(base, canary, how):
    root = base.root
    (root / "data" / "qc").mkdir(exist_ok=True)
    os.symlink(canary, root / "data" / "qc" / "link")
    journal = {"command": "add", "pid": 1, "started": "2026-01-01T00:00:00Z", "state": "applying",
               "new": [], "replaced": [], "new_dirs": []}
    journal[how].append("data/qc/link/v1.txt")
    write_journal(root, journal)
    if how == "replaced":
        (root / Layout.BACKUP / "data/qc/link").mkdir(parents=True)
        (root / Layout.BACKUP / "data/qc/link/v1.txt").write_bytes(b"attacker's bytes\n")
    outside, inside = tree_state(canary), tree_state(root)

    proc = run_cli("recover", root, "--json")
    assert proc.returncode == 2
    doc = failed_json(proc, "RECOVER-JOURNAL")
    assert "data/qc/link/v1.txt" in doc["error"]["message"]
    assert tree_state(canary) == outside and tree_state(root) == inside


@pytest.mark.parametrize("journal", [
    {"state": "applying", "new": ["data/x"]},  # keys missing
    {"state": "applying", "new": [1], "replaced": [], "new_dirs": []},  # not paths
    {"state": "rolling", "new": [], "replaced": [], "new_dirs": []},  # unknown state
    {"state": "applying", "new": ["../outside/v1.txt"], "replaced": [], "new_dirs": []},
    {"state": "applying", "new": [".archivist/lock"], "replaced": [], "new_dirs": []},
    ["a list"],
    b"[" * 100_000,  # deeply nested
    b'{"state": "applying", "new": [], "replaced": [], "new_dirs": [], "pid": ' + b"9" * 5000 + b"}",
    b"\xff\xfe not utf-8",
], ids=["missing-keys", "not-paths", "state", "dotdot", "work-dir", "list", "nested", "huge-int", "bytes"])
def test_defect_1_recover_refuses_a_journal_it_cannot_validate(base, canary, journal):
    root = base.root
    write_journal(root, journal)
    inside = tree_state(root)
    proc = run_cli("recover", root, "--json")
    assert proc.returncode == 2
    failed_json(proc, "RECOVER-JOURNAL")
    assert tree_state(root) == inside and (canary / "v1.txt").read_bytes() == b"precious outside file\n"


def test_defect_1_recover_refuses_a_symlinked_journal(base, canary):
    root = base.root
    (root / ".archivist").mkdir()
    (canary / "journal.json").write_text(json.dumps({"state": "applying", "new": [], "replaced": [],
                                                     "new_dirs": []}))
    os.symlink(canary / "journal.json", root / Layout.JOURNAL)
    outside = tree_state(canary)
    proc = run_cli("recover", root, "--json")
    assert proc.returncode == 2
    failed_json(proc, "PACKAGE-WORK-LINK")
    assert tree_state(canary) == outside


def test_recover_still_rolls_back_a_real_interrupted_add(base, tmp_path):
    before = snapshot(base.root)
    killed = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", env={"ARCHIVIST_FAULT_INJECT": "payload-moved"})
    assert killed.returncode != 0
    out = json.loads(run_cli("recover", base.root, "--json", check=True).stdout)
    assert out["state"] == "applying" and out["restored"] and out["removed"]
    assert snapshot(base.root) == before


# -- defect 3: a symlinked working directory -------------------------------------------------------
@pytest.mark.parametrize("which", [".archivist", ".archivist/staging", ".archivist/lock", ".archivist/runs"])
def test_defect_3_add_refuses_a_symlinked_work_dir(base, canary, tmp_path, which):
    root = base.root
    if which != ".archivist":
        (root / ".archivist").mkdir()
    target = canary / "lockfile" if which.endswith("lock") else canary
    os.symlink(target, root / which)
    outside, before = tree_state(canary), tree_state(root)
    proc = run_cli("add", root, *ADD_ARGS, tmp_path / "ref", "--json")
    assert proc.returncode == 2
    failed_json(proc, "PACKAGE-WORK-LINK")
    assert tree_state(canary) == outside and tree_state(root) == before


def test_defect_3_add_refuses_a_symlinked_manifest(base, canary, tmp_path):
    root = base.root
    real = (root / "manifest-sha256.txt").read_bytes()
    (canary / "manifest-sha256.txt").write_bytes(real)
    (root / "manifest-sha256.txt").unlink()
    os.symlink(canary / "manifest-sha256.txt", root / "manifest-sha256.txt")
    outside, before = tree_state(canary), tree_state(root)
    proc = run_cli("add", root, *ADD_ARGS, tmp_path / "ref", "--json")
    assert proc.returncode == 2
    failed_json(proc, "PATH-006")
    assert tree_state(canary) == outside and tree_state(root) == before
    assert (root / "manifest-sha256.txt").is_symlink()


# -- defect 2: ONNX external data ----------------------------------------------------------------------
def test_defect_2_a_model_with_external_data_is_refused_before_any_session(tmp_path, monkeypatch):
    import numpy as np
    import onnxruntime as ort
    from support.hostile import external_data_model

    from archivist.errors import InputError
    from archivist.inference import archived, backends

    data, raw = external_data_model("big.bin")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "big.bin").write_bytes(np.full(len(raw) // 4, 7.0, np.float32).tobytes())
    # The hazard is real: given the bytes, onnxruntime takes its weights from ./big.bin.
    ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for call in (lambda: archived.check_onnx(data, "data/models/m/model.onnx"),
                 lambda: backends.create("ort-cpu", data), lambda: backends.create("torch-cpu", data)):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.code == "INFER-MODEL-EXTERNAL" and "big.bin" in err.value.message


def test_defect_2_a_model_with_a_custom_domain_is_refused():
    from support.hostile import custom_domain_model

    from archivist.errors import InputError
    from archivist.inference import archived

    with pytest.raises(InputError) as err:
        archived.check_onnx(custom_domain_model(), "model.onnx")
    assert err.value.code == "INFER-MODEL-DOMAIN" and "com.example.ops" in err.value.message


def test_defect_2_verify_reports_external_data_and_never_opens_it(tmp_path):
    import bagit
    from support.hostile import external_data_model
    from support.verify import watching_opens

    from archivist.verify import verify

    data, raw = external_data_model("../../outside/v1.txt")
    bag = tmp_path / "bag"
    (bag / "model").mkdir(parents=True)
    (bag / "model" / "model.onnx").write_bytes(data)
    bagit.make_bag(str(bag), checksums=["sha256", "sha512"])
    proc = run_cli("verify", bag, "--json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert {p["code"] for p in doc["problems"]} == {"MOD-001", "BAG-002"}  # bagit-python writes 0.97
    with watching_opens() as opened:
        verify(bag)
    assert not [p for _, p in opened if "outside" in p or p.endswith("v1.txt")]


# -- defect 4: never a traceback ----------------------------------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b'{"n": ' + b"9" * 5000 + b"}"


def _dup_key(data: bytes) -> bytes:
    assert b'"schema":' in data
    return data.replace(b'"schema":', b'"schema": "archivist/other/1", "schema":', 1)


def verify_json(root: Path) -> tuple[int, set[str], dict]:
    proc = run_cli("verify", root, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    return proc.returncode, {p["code"] for p in doc["problems"]}, doc


@pytest.mark.parametrize("payload", ["deep", "huge-int", "duplicate-key"])
@pytest.mark.parametrize("rel", [Layout.PACKAGE_RECORD, "data/records/elements/print16.json"])
def test_defect_4_hostile_json_record_is_rec_001_and_record_json(base, rel, payload):
    from support.verify import refresh, rehash

    root = base.root
    path = root / rel
    path.write_bytes({"deep": DEEP, "huge-int": HUGE_INT, "duplicate-key": _dup_key(path.read_bytes())}[payload])
    rehash(root, rel)
    refresh(root)
    code, codes, doc = verify_json(root)
    assert code == 1 and "REC-001" in codes
    assert any(p["code"] == "REC-001" and p["path"] == rel for p in doc["problems"])
    before = tree_state(root)
    for args in (("info",), ("log",), ("report", "--output", root.parent / "r.html")):
        proc = run_cli(*args[:1], root, *args[1:], "--json")
        assert proc.returncode in (0, 2), (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        json.loads(proc.stdout)
    assert tree_state(root) == before


@pytest.mark.parametrize("line", [DEEP, HUGE_INT, b'{"a": 1, "a": 2}', b"\xff\xfe{}"],
                         ids=["deep", "huge-int", "duplicate-key", "not-utf8"])
def test_defect_4_hostile_event_line_is_rec_003(base, line):
    from support.verify import refresh, rehash

    root = base.root
    with open(root / Layout.EVENT_LOG, "ab") as f:
        f.write(line + b"\n")
    rehash(root, Layout.EVENT_LOG)
    refresh(root)
    code, codes, _ = verify_json(root)
    assert code == 1 and codes == {"REC-003"}
    proc = run_cli("log", root, "--json")
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 2)


def test_defect_4_a_huge_payload_oxum_is_bag_027(base):
    from support.verify import edit_bag_info, refresh_tagmanifests, set_info

    root = base.root
    edit_bag_info(root, set_info("Payload-Oxum", "9" * 5000 + ".1"))
    refresh_tagmanifests(root)
    code, codes, _ = verify_json(root)
    assert code == 1 and codes == {"BAG-027"}
    # info reads the same value: no size, not a traceback (the fuzz run found 1.<5,000 digits>)
    for oxum in ("9" * 5000 + ".1", "1." + "9" * 5000, "\u00b2.1"):
        edit_bag_info(root, set_info("Payload-Oxum", oxum))
        proc = run_cli("info", root, "--json")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert json.loads(proc.stdout)["payload"] == {"bytes": None, "files": None}


def _checkpoint_bytes(header: bytes) -> bytes:
    import struct

    return struct.pack("<Q", len(header)) + header + b"\0" * 16


@pytest.mark.parametrize("header", [
    b"[1, 2, 3]",
    b'{"__metadata__": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"__metadata__": {"format": "archivist-checkpoint/1", "step": "1"}, "t": {"data_offsets": [0, '
    + b"9" * 5000 + b"]}}",
    b'{"__metadata__": "not an object"}',
], ids=["list", "nested", "huge-int", "metadata-string"])
def test_defect_4_a_hostile_safetensors_header_is_checkpoint_format(header):
    from archivist.errors import InputError
    from archivist.training import checkpoints

    with pytest.raises(InputError) as err:
        checkpoints.unpack(_checkpoint_bytes(header))
    assert err.value.code == "CHECKPOINT-FORMAT"


# Header fields the checkpoint reader checked before the hardening too: kept refused (not the defect's cases).
@pytest.mark.parametrize("header", [
    b'{"__metadata__": {"format": "archivist-checkpoint/1", "step": "' + b"9" * 5000 + b'"}}',
    b'{"__metadata__": {"format": "archivist-checkpoint/1", "step": 7}}',
    b'{"__metadata__": {"format": "archivist-checkpoint/1", "step": "1", "param_groups": "[[[["}}',
], ids=["huge-step", "step-not-string", "groups-not-json"])
def test_a_bad_safetensors_header_field_is_still_checkpoint_format(header):
    from archivist.errors import InputError
    from archivist.training import checkpoints

    with pytest.raises(InputError) as err:
        checkpoints.unpack(_checkpoint_bytes(header))
    assert err.value.code == "CHECKPOINT-FORMAT"


def test_defect_4_a_huge_safetensors_header_is_refused_before_it_is_parsed():
    import struct

    from archivist.errors import InputError
    from archivist.training import checkpoints

    # A header that is all there and well-formed, only larger than any real one (17 MiB): refused unparsed.
    pad = b"x" * (17 << 20)
    header = b'{"__metadata__": {"format": "archivist-checkpoint/1", "step": "1", "pad": "' + pad + b'"}}'
    with pytest.raises(InputError) as err:
        checkpoints.header_metadata(struct.pack("<Q", len(header)) + header)
    assert err.value.code == "CHECKPOINT-FORMAT" and "header of" in err.value.message
    claimed = struct.pack("<Q", 90 << 20) + b"{" + b" " * 64  # and one that claims 90 MB the file does not hold
    with pytest.raises(InputError) as err:
        checkpoints.header_metadata(claimed)
    assert err.value.code == "CHECKPOINT-FORMAT" and "header of" in err.value.message


def test_a_real_checkpoint_still_loads_after_the_header_bounds(tmp_path):
    import torch

    from archivist.training import checkpoints

    model = torch.nn.Conv2d(3, 3, 3)
    opt = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 3, 8, 8)).sum().backward()
    opt.step()
    data = checkpoints.pack(model, opt, torch.Generator(), step=5, architecture={"name": "x"}, digest="d")
    meta, tensors = checkpoints.unpack(data)
    assert meta["step"] == "5" and "model/weight" in tensors


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    from support.verify_outputs import signed_package

    return signed_package(tmp_path_factory)


XMP_DOCTYPE = b"<!DOCTYPE x:xmpmeta [<!ENTITY e SYSTEM 'file:///etc/hostname'>]>\n"


@pytest.mark.parametrize("how", ["comment", "pi", "entity", "external-entity", "undeclared-entity"])
def test_defect_4_xmp_with_comments_pis_or_entities_never_a_traceback(signed, tmp_path, how):
    from support.verify_outputs import copy_signed, out, rehash_manifests

    root = copy_signed(signed, tmp_path / "pkg")
    rel = out(1002, "xmp")
    data = (root / rel).read_bytes()
    head, sep, body = data.partition(b"?>\n")
    tag = b"<archivist:"
    if how == "comment":
        data = data.replace(tag, b"<!-- a comment -->" + tag, 1)
    elif how == "pi":
        data = data.replace(tag, b"<?archivist ignore?>" + tag, 1)
    elif how == "undeclared-entity":
        data = data.replace(tag, b"&e;" + tag, 1)
    else:
        decl = XMP_DOCTYPE if how == "external-entity" else b"<!DOCTYPE x:xmpmeta [<!ENTITY e 'text'>]>\n"
        data = head + sep + decl + body.replace(tag, b"&e;" + tag, 1)
    (root / rel).write_bytes(data)
    rehash_manifests(root, [rel])
    code, codes, doc = verify_json(root)
    assert code == 1  # the record's hash of the sidecar no longer matches, whatever the parser made of it
    if how not in ("comment", "pi"):
        assert "OUT-010" in codes
    if how in ("entity", "external-entity"):
        assert any(p["code"] == "OUT-010" and "document type" in p["message"] for p in doc["problems"])


@pytest.mark.parametrize("payload", [DEEP, HUGE_INT], ids=["deep", "huge-int"])
def test_defect_4_hostile_json_sidecar_is_out_008(signed, tmp_path, payload):
    from support.verify_outputs import copy_signed, out, rehash_manifests

    root = copy_signed(signed, tmp_path / "pkg")
    rel = out(1003, "json")
    (root / rel).write_bytes(payload)
    rehash_manifests(root, [rel])
    code, codes, doc = verify_json(root)
    assert code == 1 and "OUT-008" in codes
    assert any(p["code"] == "OUT-008" and p["path"] == rel for p in doc["problems"])
    before = tree_state(root)
    proc = run_cli("report", root, "--output", tmp_path / "report.html", "--json")
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), proc.stderr
    json.loads(proc.stdout)
    assert tree_state(root) == before


# -- defect 5: seal stripping ------------------------------------------------------------------------
def _ca_file(signed, tmp_path) -> Path:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(signed.ca)
    return ca


def test_defect_5_a_stripped_seal_and_a_rewritten_log_fail_require_seal(signed, tmp_path):
    from support.verify import refresh, rehash
    from support.verify_outputs import copy_signed, unseal

    root = copy_signed(signed, tmp_path / "pkg", seal=True)
    ca = _ca_file(signed, tmp_path)
    ok = run_cli("verify", root, "--trust-anchor", ca, "--require-seal", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["seal"] == "trusted", ok.stdout
    # The attacker strips the seal, drops the last event and re-hashes what names the log.
    unseal(root)
    log = root / Layout.EVENT_LOG
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    rehash(root, Layout.EVENT_LOG)
    refresh(root)
    plain = run_cli("verify", root, "--trust-anchor", ca, "--json")
    assert plain.returncode == 0, plain.stdout  # nothing else can tell
    assert json.loads(plain.stdout)["seal"] == "absent"
    proc = run_cli("verify", root, "--trust-anchor", ca, "--require-seal", "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert {p["code"] for p in doc["problems"]} == {"C2PA-008"} and doc["seal"] == "absent"


def test_defect_5_require_seal_without_a_trust_anchor_fails(signed, tmp_path):
    from support.verify_outputs import copy_signed

    root = copy_signed(signed, tmp_path / "pkg", seal=True)
    proc = run_cli("verify", root, "--require-seal", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and {p["code"] for p in doc["problems"]} == {"C2PA-002", "C2PA-006", "C2PA-008"}
    assert doc["seal"] == "untrusted"


def test_defect_5_a_command_that_removes_the_seal_says_so_and_verify_warns(signed, tmp_path):
    from support.verify_outputs import copy_signed

    root = copy_signed(signed, tmp_path / "pkg", seal=True)
    write_shot(tmp_path / "tc", ext="png", stem="tc", start=1, n=1)
    args = ("--role", "reference", "--element", "telecine", "--description", "PAL telecine 1998", tmp_path / "tc")
    proc = run_cli("add", root, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    removed = json.loads(proc.stdout)["seal_removed"]
    assert removed["command"] == "add" and removed["package"] == str(root)
    assert not (root / Layout.PACKAGE_SEAL).exists()
    last = json.loads((root / Layout.EVENT_LOG).read_bytes().splitlines()[-1])
    assert last["command"] == "add" and len(last["seal_removed"]["sha256"]) == 64
    ca = _ca_file(signed, tmp_path)
    check = run_cli("verify", root, "--trust-anchor", ca, "--json")
    doc = json.loads(check.stdout)
    assert check.returncode == 0 and {p["code"] for p in doc["problems"]} == {"C2PA-007"}
    assert "'add'" in doc["problems"][0]["message"] and last["time"] in doc["problems"][0]["message"]
    human = run_cli("verify", root, "--trust-anchor", ca)
    assert "C2PA-007" in human.stdout and "seal absent" in human.stdout


def test_defect_5_the_human_output_of_a_command_says_the_seal_was_removed(signed, tmp_path):
    from support.verify_outputs import copy_signed

    root = copy_signed(signed, tmp_path / "pkg", seal=True)
    write_shot(tmp_path / "tc", ext="png", stem="tc", start=1, n=1)
    proc = run_cli("add", root, "--role", "reference", "--element", "telecine", "--description",
                   "PAL telecine 1998", tmp_path / "tc")
    assert proc.returncode == 0 and "package seal" in proc.stdout and "archivist seal" in proc.stdout


# -- the fuzz harness: a fast slice (benchmarks/fuzz_verify.py runs the long one) ------------------------
FUZZ_SEEDS = int(os.environ.get("ARCHIVIST_FUZZ_CASES", "12"))
FUZZ_FOUND = [784, 1016]  # the long run's finds: a record lacking an optional field (report), a record FIFO (info)


def test_fuzzed_packages_never_give_a_traceback_or_touch_anything_outside(signed, tmp_path):
    from support.fuzz import Tally, run_case
    from support.verify_outputs import copy_signed

    base = copy_signed(signed, tmp_path / "base", seal=True)
    tally = Tally()
    seeds = list(range(FUZZ_SEEDS)) + FUZZ_FOUND
    for seed in seeds:
        run_case(base, tmp_path / "cases", seed, tally)
    report = tally.summary()
    assert tally.cases == len(seeds)
    assert tally.tracebacks == [], tally.tracebacks[0]["traceback"]
    assert (tally.bad_json, tally.bad_exit, tally.outside_changed) == ([], [], []), report


def test_defect_2_infer_refuses_an_archived_model_with_external_data(tmp_path_factory, tmp_path):
    """A package whose model (hash-consistent everywhere) takes its weights from ./big.bin: refused, nothing written."""
    import onnx
    from support.infer import model_package_copy
    from support.verify import refresh, rehash

    from archivist.package import Package

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    pkg = Package.open(root)
    card_rel = Layout.record("models", pkg.record_ids("models")[0])
    card = json.loads((root / card_rel).read_text())
    model_rel = card["model"]["path"]
    run = tmp_path / "run"
    run.mkdir()
    onnx.save_model(onnx.load_from_string((root / model_rel).read_bytes()), run / "model.onnx",
                    save_as_external_data=True, location="big.bin", size_threshold=0)
    (root / model_rel).write_bytes((run / "model.onnx").read_bytes())
    (run / "model.onnx").unlink()
    rehash(root, model_rel)
    card["model"]["sha256"] = hashlib.sha256((root / model_rel).read_bytes()).hexdigest()
    card["model"]["size"] = (root / model_rel).stat().st_size
    (root / card_rel).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    rehash(root, card_rel)
    refresh(root)
    outside, before = tree_state(run), tree_state(root)
    assert [p["code"] for p in json.loads(run_cli("verify", root, "--json").stdout)["problems"]] == ["MOD-001"]
    proc = run_cli("infer", root, "--json", cwd=run)
    assert proc.returncode == 2
    failed_json(proc, "INFER-MODEL-EXTERNAL")
    assert tree_state(run) == outside and tree_state(root) == before


def test_export_writes_one_self_contained_model(tmp_path_factory, tmp_path):
    import onnx
    from support.infer import model_package_copy

    from archivist.inference import modelcheck
    from archivist.package import Package

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    pkg = Package.open(root)
    card = json.loads((root / Layout.record("models", pkg.record_ids("models")[0])).read_text())
    model = onnx.load_from_string((root / card["model"]["path"]).read_bytes())
    assert modelcheck.problems(model) == ([], [])
    folder = (root / card["model"]["path"]).parent
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "training-run.json"]


@pytest.mark.parametrize("which", ["tagmanifest-sha256.txt", "bag-info.txt", "tagmanifest-sha256.c2pa"])
def test_defect_3_seal_never_reads_or_writes_through_a_link(base, canary, signed, which):
    root = base.root
    target = canary / which
    if (root / which).exists():
        target.write_bytes((root / which).read_bytes())
        (root / which).unlink()
    os.symlink(target, root / which)
    outside, before = tree_state(canary), tree_state(root)
    proc = run_cli("seal", root, "--sign-cert", signed.keys / "chain.pem", "--sign-key", signed.keys / "key.pem",
                   "--json")
    assert proc.returncode == 2
    failed_json(proc, "PATH-006")
    assert tree_state(canary) == outside and tree_state(root) == before


# -- defect 6: bounded output on hostile input --------------------------------------------------------
def test_defect_6_bogus_manifest_lines_are_counted_past_the_listing_cap(tmp_path):
    import bagit

    MAX_LISTED = 1000  # problems listed per rule (docs/package-format.md, Limits); the rest only counted

    bag = tmp_path / "bag"
    (bag / "notes").mkdir(parents=True)
    (bag / "notes" / "a.txt").write_bytes(b"real\n")
    bagit.make_bag(str(bag), checksums=["sha256"])
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    extra = MAX_LISTED + 500
    with open(bag / "manifest-sha256.txt", "a") as f:
        for i in range(extra):
            f.write(f"{i:064x}  data/missing/frame.{i:07d}.exr\n")
    from support.verify import refresh_tagmanifests

    refresh_tagmanifests(bag)
    proc = run_cli("verify", bag, "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    missing = [p for p in doc["problems"] if p["code"] == "BAG-007"]
    assert len(missing) == MAX_LISTED and doc["unlisted"] == {"BAG-007": 500}
    assert doc["counts"]["errors"] == len(doc["problems"]) + 500
    human = run_cli("verify", bag)
    assert "BAG-007  and 500 more of this rule" in human.stdout


@pytest.mark.parametrize("which", [".archivist", ".archivist/runs", ".archivist/runs/infer-01"])
def test_defect_3_infer_refuses_a_linked_run_folder(tmp_path_factory, tmp_path, canary, which):
    from support.infer import model_package_copy

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    (root / which).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(canary, root / which)
    outside, before = tree_state(canary), tree_state(root)
    proc = run_cli("infer", root, "--run", "infer-01", "--json")
    assert proc.returncode == 2
    failed_json(proc, "PACKAGE-WORK-LINK")
    assert tree_state(canary) == outside and tree_state(root) == before


def test_defect_6_a_huge_bag_info_is_bag_026_and_not_parsed(base):
    from support.verify import refresh_tagmanifests

    root = base.root
    with open(root / "bag-info.txt", "a") as f:
        f.write("Notes: " + "x" * (2 << 20) + "\n")
    refresh_tagmanifests(root)
    code, codes, doc = verify_json(root)
    assert code == 1 and "BAG-026" in codes
    assert any(p["code"] == "BAG-026" and "not parsed" in p["message"] for p in doc["problems"])


@pytest.mark.parametrize("line", [DEEP, HUGE_INT, b'{"step": 1, "step": 2, "loss": 0.1}', b'{"step": "1", "loss": 0.1}'],
                         ids=["deep", "huge-int", "duplicate-key", "not-an-entry"])
def test_defect_4_a_hostile_loss_log_is_qc_loss_log(signed, tmp_path, line):
    from support.verify_outputs import copy_signed, cover_up

    root = copy_signed(signed, tmp_path / "pkg")
    log = next((root / "data" / "training").glob("*/loss.jsonl"))
    with open(log, "ab") as f:
        f.write(line + b"\n")
    cover_up(root, [str(log.relative_to(root))])
    before = tree_state(root)
    proc = run_cli("qc", root, "--json")
    assert proc.returncode == 2, proc.stderr
    failed_json(proc, "QC-LOSS-LOG")
    assert tree_state(root) == before


def test_defect_4_a_frame_swapped_for_a_fifo_is_refused_not_waited_on(tmp_path_factory, tmp_path):
    import subprocess
    import sys

    from support.infer import model_package_copy

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    frame = sorted((root / "data" / "sources" / "print16").glob("*.exr"))[0]
    frame.unlink()
    os.mkfifo(frame)
    before = tree_state(root)
    proc = subprocess.run([sys.executable, "-m", "archivist", "infer", str(root), "--json"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    failed_json(proc, "PATH-NOT-FILE")
    assert tree_state(root) == before


@pytest.mark.parametrize("journal, backup_dir", [
    ({"state": "applying", "new": ["data"], "replaced": [], "new_dirs": []}, False),
    ({"state": "applying", "new": [], "replaced": [], "new_dirs": ["bagit.txt"]}, False),
    ({"state": "applying", "new": [], "replaced": ["bagit.txt"], "new_dirs": []}, True),
], ids=["new-is-a-folder", "new-dir-is-a-file", "backup-is-a-folder"])
def test_defect_4_recover_refuses_journal_entries_of_the_wrong_kind(base, journal, backup_dir):
    root = base.root
    write_journal(root, journal)
    if backup_dir:
        (root / Layout.BACKUP / "bagit.txt").mkdir(parents=True)
    inside = tree_state(root)
    proc = run_cli("recover", root, "--json")
    assert proc.returncode == 2
    failed_json(proc, "RECOVER-JOURNAL")
    assert tree_state(root) == inside
