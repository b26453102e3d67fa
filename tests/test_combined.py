"""Combined recovery: ``archivist demo --combined --quick`` builds a two-stage chain; verify walks it, reproduce re-runs it.

One demo run per module (the real pipeline: two datasets, two trainings and exports, a signed chain);
the tamper tests work on copies of its package.
"""

from __future__ import annotations

import json
import shutil

import pytest
from support.common import run_cli
from support.package import snapshot

from archivist import verify
from archivist.credentials import validate_manifest
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.inference import runner
from archivist.inference.reproduce import reproduce_chain
from archivist.package import Package, derived, kinds
from archivist.package.layout import Layout

STAGES = ["material", "init", "add", "spatial dataset", "spatial train", "spatial export", "keys", "spatial infer",
          "derive", "chroma dataset", "chroma train", "chroma export", "chain", "spatial qc", "chroma qc", "describe",
          "seal", "verify", "report"]


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    out = tmp_path_factory.mktemp("combined") / "demo-output"
    proc = run_cli("demo", out, "--combined", "--quick", "--json")
    assert proc.returncode == 0, f"demo failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return out, json.loads(proc.stdout)


def _runs(root):
    pkg = Package.open(root)
    return pkg, runner.read_run(pkg, "infer-01"), runner.read_run(pkg, "infer-02")


def _copy(combined, tmp_path):
    out, _ = combined
    dest = tmp_path / "pkg"
    shutil.copytree(out / "package", dest, symlinks=True)
    return dest, (out / "test-identity" / "ca.pem").read_bytes()


def test_demo_runs_both_stages_and_ends_verified_signed_and_reported(combined):
    out, summary = combined
    assert summary["stages"] == STAGES and summary["verify_ok"] is True
    assert summary["runs"] == {"spatial": "infer-01", "chroma": "infer-02"}
    assert summary["verify_counts"]["credentials"] == summary["verify_counts"]["outputs"] == 24
    assert summary["qc"]["spatial"]["mode"] == "spatial" and "sharpen_verdict" in summary["qc"]["spatial"]
    assert summary["qc"]["chroma"]["mode"] == "chroma" and "sharpen_verdict" not in summary["qc"]["chroma"]
    assert {r["candidate"] for r in summary["qc"]["spatial"]["sharpen_table"]} == {
        "source as given", "resize and sharpen", "ML result"}
    html = (out / "report.html").read_text("utf-8")
    assert "last stage of a combined recovery" in html and "against a plain resize and sharpen" in html
    assert (out / "package" / Layout.PACKAGE_SEAL).is_file()
    pkg = Package.open(out / "package")
    assert pkg.record()["recovery"] == "combined" and pkg.derived_ids() == ["print16-sharp"]


def test_second_stage_frames_name_the_first_stage_frames_and_both_models(combined):
    out, _ = combined
    root = out / "package"
    pkg, first, second = _runs(root)
    d = pkg.element("print16-sharp")
    assert d["schema"] == kinds.DERIVED_ELEMENT.label and d["derived_from"]["run"] == "infer-01"
    firsts = {f["number"]: f for f in first["frames"]}
    assert [f["path"] for f in d["frames"]] == [firsts[n]["output"]["path"] for n in sorted(firsts)]
    assert all(f["parent"]["path"].startswith("data/sources/print16/") for f in d["frames"])
    assert not any(rel.startswith("data/sources/print16-sharp") for rel in pkg.manifest())  # nothing copied
    assert [m["id"] for m in second["upstream"]["models"]] == [first["model"]["id"]]
    assert second["digital_source_type"]["term"] == "trainedAlgorithmicMedia"
    assert "spatial" in second["digital_source_type"]["rule"]
    entry = second["frames"][0]
    parent = firsts[entry["number"]]
    assert entry["source"] == {"path": parent["output"]["path"], "sha256": parent["output"]["sha256"]}
    header = oiio.header(root / entry["output"]["path"])
    assert header["SourceFrame"] == parent["output"]["path"] and header["RecoveryType"] == "Combined"
    sidecar = json.loads((root / entry["sidecars"]["json"]["path"]).read_text())
    assert sidecar["source"]["element"] == "print16-sharp" and sidecar["source"]["sha256"] == parent["output"]["sha256"]
    ca = (out / "test-identity" / "ca.pem").read_bytes()
    cred = validate_manifest(root / entry["output"]["path"], root / entry["credential"]["path"], trust_anchors_pem=ca)
    assert cred.status == "valid"
    by_rel = {(i["relationship"], i["path"]) for i in cred.ingredients}
    assert ("parentOf", parent["output"]["path"]) in by_rel
    assert {("inputTo", first["model"]["onnx"]["path"]), ("inputTo", second["model"]["onnx"]["path"])} <= by_rel
    # The first stage's credential names the scan's frame and the spatial model.
    up = validate_manifest(root / parent["output"]["path"], root / parent["credential"]["path"], trust_anchors_pem=ca)
    assert {(i["relationship"], i["path"]) for i in up.ingredients} >= {
        ("parentOf", parent["source"]["path"]), ("inputTo", first["model"]["onnx"]["path"])}


@pytest.mark.parametrize("stage", ["infer-01", "infer-02"])
def test_a_tampered_frame_of_either_stage_is_named(combined, tmp_path, stage):
    root, ca = _copy(combined, tmp_path)
    rec = runner.read_run(Package.open(root), stage)
    target = rec["frames"][1]["output"]["path"]
    data = bytearray((root / target).read_bytes())
    data[-10] ^= 0x01
    (root / target).write_bytes(bytes(data))
    report = verify.verify(root, trust_anchors_pem=ca)
    assert not report.ok
    assert target in {p.path for p in report.problems}, [p.to_dict() for p in report.problems]


def test_reproduce_of_the_chain_is_bit_identical_stage_by_stage(combined):
    out, _ = combined
    r = reproduce_chain(out / "package", run="infer-02", sample=2)
    assert r["ok"] and r["runs"] == ["infer-01", "infer-02"]
    assert [s["expectation"] for s in r["stages"]] == ["bit-identical", "bit-identical"]
    assert all(f["ok"] for s in r["stages"] for f in s["frames"])


def test_derive_and_chain_refuse_bad_input_and_leave_the_package_as_it_was(combined, tmp_path):
    root, _ = _copy(combined, tmp_path)
    before = snapshot(root)
    pkg = Package.open(root)
    with pytest.raises(InputError) as exc:
        derived.derive(pkg, "infer-99")
    assert exc.value.code == "DERIVE-NO-RUN"
    with pytest.raises(InputError) as exc:
        derived.derive(pkg, "infer-01", element="print16-sharp")
    assert exc.value.code == "DERIVE-EXISTS"
    with pytest.raises(InputError) as exc:
        runner.infer_chain(root, ["chroma-01-s60"])
    assert exc.value.code == "INFER-CHAIN"
    assert snapshot(root) == before


def test_derive_command_records_a_run_as_a_reference_without_copies(combined, tmp_path):
    root, ca = _copy(combined, tmp_path)
    files = set(Package.open(root).manifest())
    proc = run_cli("derive", root, "--run", "infer-02", "--role", "reference", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)["element"]
    assert rec["id"] == "infer-02-derived" and rec["role"] == "reference" and len(rec["frames"]) == 12
    assert set(Package.open(root).manifest()) - files == {Layout.record(kinds.DERIVED_ELEMENT, "infer-02-derived")}
    report = verify.verify(root, trust_anchors_pem=ca)
    assert report.ok, [p.to_dict() for p in report.problems]


def test_a_derived_element_whose_run_is_gone_is_named(combined, tmp_path):
    root, ca = _copy(combined, tmp_path)
    (root / Layout.record(kinds.INFERENCE_RUN, "infer-01")).unlink()
    report = verify.verify(root, trust_anchors_pem=ca)
    found = [p for p in report.problems if p.code == "DER-001"]
    assert found and found[0].path == Layout.record(kinds.DERIVED_ELEMENT, "print16-sharp")
    assert "infer-01" in found[0].message


def test_chain_and_reproduce_chain_from_the_command_line(combined, tmp_path):
    root, _ = _copy(combined, tmp_path)
    pkg, first, second = _runs(root)
    models = f"{first['model']['id']},{second['model']['id']}"
    proc = run_cli("infer", root, "--chain", models, "--frames", "1001-1002", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [s["model"] for s in out["stages"]] == models.split(",") and len(out["derived"]) == 1
    proc = run_cli("reproduce", root, "--chain", "--run", out["run"], "--json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["ok"] and rep["runs"] == [out["stages"][0]["run"], out["run"]] and rep["checked"] == 4
    assert verify.verify(root).ok
