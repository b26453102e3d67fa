"""``archivist demo --quick``: the whole story completes, and leaves a valid, signed, sealed, judged package."""

from __future__ import annotations

import json

from support.common import run_cli
from support.qc import quick_demo  # noqa: F401 (fixture)

from archivist import verify
from archivist.credentials import validate_seal
from archivist.package import Package

STAGES = ["material", "init", "add", "dataset", "train", "export", "keys", "infer", "qc", "describe", "seal", "verify",
          "report"]


def test_demo_runs_every_stage_and_reports_where_things_are(quick_demo):  # noqa: F811
    out, summary = quick_demo
    assert summary["stages"] == STAGES and set(summary["timings"]) == set(STAGES)
    assert summary["package"] == str(out / "package") and summary["report"] == str(out / "report.html")
    assert (out / "report.html").is_file() and (out / "demo.json").is_file()
    assert json.loads((out / "demo.json").read_text())["verdict"] == summary["verdict"]
    assert summary["config"]["name"] == "quick" and summary["config"]["shot"]["frames"] >= 24
    assert {r["candidate"] for r in summary["qc_table"]} == {"source as scanned", "LUT baseline", "ML result"}
    assert {r["basis"] for r in summary["qc_table"]} == {"ground_truth", "original"}


def test_demo_package_is_valid_signed_and_sealed(quick_demo):  # noqa: F811
    out, summary = quick_demo
    root = out / "package"
    report = verify.verify(root)
    assert report.ok and summary["verify_ok"] is True, report.to_dict()["problems"]
    pkg = Package.open(root)
    elements = {e["id"]: e for e in pkg.elements()}
    assert elements["print16"]["role"] == "source" and elements["dvd"]["role"] == "reference"
    assert elements["dvd"]["scan"]["width"] < elements["print16"]["scan"]["width"]  # the DVD is the smaller picture
    assert elements["dvd"]["scan"]["bit_depth"] == 8 and elements["print16"]["scan"]["pixel_type"] == "half"
    commands = [e["command"] for e in pkg.events()]
    for c in ("init", "add", "dataset", "train", "export", "infer", "qc", "describe"):
        assert c in commands, c
    assert commands[-1] == "describe" and "CON-006" not in report.codes()  # the metadata is current
    assert (root / "data/metadata/mets.xml").is_file()
    ca = (out / "test-identity" / "ca.pem").read_bytes()
    assert validate_seal(root, trust_anchors_pem=ca).status == "valid"
    # The signing key lives beside the package, never in it.
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in root.rglob("*") if p.is_file() and p.stat().st_size < 1 << 20)


def test_demo_keeps_the_true_original_outside_the_package(quick_demo):  # noqa: F811
    out, summary = quick_demo
    originals = sorted((out / "original").glob("*.exr"))
    assert len(originals) == summary["config"]["shot"]["frames"]
    manifest = Package.open(out / "package").manifest("sha256")
    assert not any("original" in rel for rel in manifest)
    qc = json.loads((out / "package" / "data" / "records" / "qc" / f"{summary['qc_id']}.json").read_text())
    assert {f["name"] for f in qc["original"]["frames"]} <= {p.name for p in originals}


def test_demo_refuses_a_directory_with_something_in_it(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = run_cli("demo", tmp_path, "--quick")
    assert proc.returncode == 2 and "DEMO-EXISTS" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
