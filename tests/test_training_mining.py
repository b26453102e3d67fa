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


def _sign_embedded(png, chain: bytes, key: bytes, use: str) -> None:
    """Embed, in place, a signed manifest whose training-mining assertion says ``use`` for AI training."""
    import io

    import c2pa

    from archivist.credentials.context import builder_context
    from archivist.credentials.signer import load_signer

    signer = load_signer(chain, key)
    definition = {"claim_generator_info": [{"name": "a distributor's tool", "version": "1"}], "title": png.name,
                  "format": "image/png", "assertions": [
                      {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType":
                                                                         "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}},
                      {"label": "cawg.training-mining", "data": {"entries": {"cawg.ai_training": {"use": use}}}}]}
    out = io.BytesIO()
    with open(png, "rb") as src, c2pa.Builder(definition, context=builder_context()) as builder:
        builder.sign(signer.native, "image/png", src, out)
    png.write_bytes(out.getvalue())


def test_a_reference_whose_own_credentials_forbid_training_is_refused_unless_authorised(tmp_path):
    import pytest
    from support.credentials import make_chain
    from support.dataset import add_pair_elements, write_pair_elements
    from support.package import snapshot

    from archivist import dataset
    from archivist.credentials.validate import embedded_training_mining
    from archivist.errors import InputError

    src, ref = write_pair_elements(tmp_path / "f", n=2)
    _, chain, key = make_chain()
    frame = sorted(ref.iterdir())[1]
    _sign_embedded(frame, chain, key, "notAllowed")
    assert rights.training_use_of(embedded_training_mining(frame)) == "notAllowed"
    assert embedded_training_mining(sorted(ref.iterdir())[0]) == []  # no credentials: nothing said
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    add_pair_elements(pkg, src, ref, training_use="unknown")
    before = snapshot(pkg.root)
    with pytest.raises(InputError) as err:
        dataset.build(pkg, source="print16", reference="dvd", auto=1, align_mode="none")
    assert err.value.code == "DATASET-CREDENTIAL-RIGHTS" and "dvd" in err.value.message
    assert snapshot(pkg.root) == before
    # The rights holder's authorisation, recorded in the package, overrides the copy's credentials.
    pkg.amend_element("dvd", training_use="authorised", authorised_by="the distributor, letter of 2026-11-02")
    rec = dataset.build(pkg, source="print16", reference="dvd", auto=1, align_mode="none")
    assert rec["reference_training_use"] == "authorised"
