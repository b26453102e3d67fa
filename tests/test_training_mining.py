"""Rights travel with the work: the CAWG training-and-data-mining assertion in every output's credential."""

from __future__ import annotations

from support.verify_outputs import FRAMES, out, signed_package

from archivist.credentials.validate import validate_manifest
from archivist.inference import runner
from archivist.package import Package, rights
from archivist.package.layout import Layout


def test_each_signed_output_carries_the_training_permission_of_its_inputs(tmp_path_factory):
    signed = signed_package(tmp_path_factory)
    pkg = Package.open(signed.root)
    rec = pkg.read_record(Layout.record("inference", "infer-01"))
    used = runner.training_rights(signed.root, rec)
    assert {r["element"] for r in used} >= {rec["source"]["element"]} and len(used) >= 2  # source and reference
    want = rights.training_mining(used)
    for n in FRAMES[:2]:
        result = validate_manifest(signed.root / out(n, "exr"), signed.root / out(n, "c2pa"),
                                   trust_anchors_pem=signed.ca)
        assert result.ok, result.failures
        assert result.training_mining == [{"label": "cawg.training-mining", "data": want}]
        assert rights.training_use_of(result.training_mining) == "constrained"  # authorised for restoration only


def test_the_most_restrictive_element_decides():
    ok = {"element": "p", "training_use": "authorised", "authorised_by": "Archive"}
    entries = rights.training_mining([ok])["entries"]
    assert set(entries) == set(rights.TRAINING_ENTRIES)
    assert entries["cawg.ai_training"]["use"] == "constrained" and "by Archive" in entries["cawg.ai_training"][
        "constraint_info"]
    unknown = rights.training_mining([ok, {"element": "r", "training_use": "unknown"}])["entries"]
    assert "element(s) r" in unknown["cawg.ai_generative_training"]["constraint_info"]
    no = rights.training_mining([ok, {"element": "r", "training_use": "not-authorised"}])["entries"]
    assert all(e == {"use": "notAllowed"} for e in no.values())
    assert rights.training_use_of([{"label": "cawg.training-mining", "data": {"entries": no}}]) == "notAllowed"
    assert rights.training_use_of([{"label": "other", "data": {}}]) is None
