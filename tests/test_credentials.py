"""Detached C2PA credentials for frames: real EXR, real certificates, the real SDK."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import c2pa
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from support.credentials import LocalTSA, closed_port, sha256, tiny_onnx, write_frame

from archivist.credentials import (
    INVALID,
    UNTRUSTED,
    VALID,
    check_ingredients,
    keys,
    load_signer,
    preflight,
    sidecar_name,
    sign_frame,
    signer_from_callback,
    signer_from_files,
    validate_manifest,
)
from archivist.credentials.validate import ValidationResult
from archivist.errors import InputError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE = "data/sources/print16/shot.1001.exr"
MODEL = "data/models/m1/model.onnx"
DATASET = "data/records/dataset/d1.json"


@pytest.fixture(scope="module")
def ident(tmp_path_factory):
    return keys.init_test_identity(tmp_path_factory.mktemp("keys") / "id")


@pytest.fixture
def signer(ident):
    with signer_from_files(ident.chain, ident.key) as s:
        yield s


@pytest.fixture
def tree(tmp_path):
    """A package-shaped folder: a source frame, a model, a dataset record and an output frame."""
    root = tmp_path / "pkg"
    write_frame(root / SOURCE)
    tiny_onnx(root / MODEL)
    (root / DATASET).parent.mkdir(parents=True)
    (root / DATASET).write_text('{"pairs": [[1001, 1]]}\n')
    out = write_frame(root / "data/outputs/run1/shot.1001.exr", offset=2)
    return root, out


def _sign(signer, root, out, **overrides):
    args = dict(
        source_frame=(SOURCE, sha256(root / SOURCE), "shot.1001.exr"),
        ingredients=[
            {"title": "model.onnx", "format": "application/onnx", "sha256": sha256(root / MODEL),
             "relationship": "inputTo", "path": MODEL},
            {"title": "d1.json", "format": "application/json", "sha256": sha256(root / DATASET),
             "relationship": "inputTo", "path": DATASET},
        ],
        digital_source_type="compositeWithTrainedAlgorithmicMedia",
        software_agent={"name": "archivist", "version": "0.1.0"},
        parameters={"mode": "chroma", "model": "m1", "run": "run1"},
        out_manifest_path=Path(sidecar_name(str(out))),
    )
    args.update(overrides)
    return sign_frame(signer, out, **args)


def test_sign_and_validate_with_the_ca_as_anchor(signer, ident, tree):
    root, out = tree
    signed = _sign(signer, root, out)
    assert signed.path == out.with_suffix(".c2pa") and signed.path.is_file()
    assert signed.asset_sha256 == sha256(out) and signed.asset_format == "image/x-exr"
    assert signed.timestamped is False
    assert signed.size < 20_000  # no thumbnails

    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == VALID and r.ok and r.failures == [], r.failures
    assert "assertion.dataHash.match" in r.successes
    assert r.data_hash == {"alg": "sha256", "hex": sha256(out), "exclusions": []}  # the whole file
    assert r.label == signed.label and r.title == "shot.1001.exr" and r.instance_id.startswith("xmp.iid:")

    assert [a["action"] for a in r.actions] == ["c2pa.opened", "c2pa.edited"]
    assert r.digital_source_type == IPTC + "compositeWithTrainedAlgorithmicMedia"
    assert r.software_agent == {"name": "archivist", "version": "0.1.0"}
    assert r.parameters == {"mode": "chroma", "model": "m1", "run": "run1"}
    assert [(i["title"], i["format"], i["relationship"], i["path"]) for i in r.ingredients] == [
        ("shot.1001.exr", "image/x-exr", "parentOf", SOURCE),
        ("model.onnx", "application/onnx", "inputTo", MODEL),
        ("d1.json", "application/json", "inputTo", DATASET),
    ]
    # c2pa.opened points at the parent ingredient, c2pa.edited at the inputs.
    opened, edited = r.actions
    assert opened["parameters"]["ingredients"][0]["url"].endswith("c2pa.ingredient.v3")
    assert len(edited["parameters"]["ingredients"]) == 2

    # An independent reader (the SDK's own Reader, no archivist code) agrees.
    with open(out, "rb") as f, c2pa.Reader("image/x-exr", f, signed.path.read_bytes()) as reader:
        assert reader.get_validation_state() in ("Valid", "Trusted")


def test_untrusted_without_a_matching_anchor(signer, tree, tmp_path):
    root, out = tree
    signed = _sign(signer, root, out)
    r = validate_manifest(out, signed.path)
    assert r.status == UNTRUSTED and r.ok and r.failure_codes == ["signingCredential.untrusted"]
    other = keys.init_test_identity(tmp_path / "other")
    r = validate_manifest(out, signed.path, trust_anchors_pem=other.ca.read_bytes())
    assert r.status == UNTRUSTED
    with pytest.raises(InputError) as err:
        validate_manifest(out, signed.path, trust_anchors_pem=b"not pem")
    assert err.value.code == "CREDENTIAL-ANCHORS"


@pytest.mark.parametrize("tamper", ["flip", "append", "truncate"])
def test_any_change_to_the_frame_is_invalid(signer, ident, tree, tamper):
    root, out = tree
    signed = _sign(signer, root, out)
    data = bytearray(out.read_bytes())
    if tamper == "flip":
        data[len(data) // 2] ^= 0x01
    elif tamper == "append":
        data += b"\0"
    else:
        del data[-1]
    out.write_bytes(bytes(data))
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == INVALID and not r.ok
    assert "assertion.dataHash.mismatch" in r.failure_codes


def test_a_credential_copied_from_another_frame_is_invalid(signer, ident, tree):
    root, out = tree
    signed = _sign(signer, root, out)
    other = write_frame(root / "data/outputs/run1/shot.1002.exr", offset=5)
    r = validate_manifest(other, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == INVALID and "assertion.dataHash.mismatch" in r.failure_codes


def test_a_changed_manifest_is_invalid(signer, ident, tree):
    root, out = tree
    signed = _sign(signer, root, out)
    anchors = ident.ca.read_bytes()
    store = signed.path.read_bytes()

    # Rewriting the recorded model hash (same length, still hex) breaks the signed assertion.
    model_sha = sha256(root / MODEL).encode()
    assert store.count(model_sha) == 1
    forged = model_sha[:-1] + (b"0" if model_sha[-1:] != b"0" else b"1")
    signed.path.write_bytes(store.replace(model_sha, forged))
    r = validate_manifest(out, signed.path, trust_anchors_pem=anchors)
    assert r.status == INVALID and "assertion.hashedURI.mismatch" in r.failure_codes

    # Garbage is a finding, not a crash.
    signed.path.write_bytes(store[: len(store) // 3])
    r = validate_manifest(out, signed.path, trust_anchors_pem=anchors)
    assert r.status == INVALID and r.failure_codes[0] in ("archivist.manifest.unreadable", "claimSignature.missing")


def test_unsigned_padding_is_not_covered_by_the_signature(signer, ident, tree):
    """Why verify also checks each .c2pa file's checksum in the payload manifest.

    The COSE signature reserves padding that no signature covers; c2pa-rs
    accepts a changed byte there. docs/credentials.md relies on this finding.
    """
    root, out = tree
    signed = _sign(signer, root, out)
    store = bytearray(signed.path.read_bytes())
    pad = store.rfind(b"pad")
    assert pad > 0 and store[pad + 10:pad + 40] == bytes(30)
    store[pad + 20] ^= 0x01
    signed.path.write_bytes(bytes(store))
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == VALID


def test_ingredient_hashes_are_recomputed(signer, ident, tree):
    root, out = tree
    signed = _sign(signer, root, out)
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    checks = check_ingredients(r, root=root)
    assert [c.ok for c in checks] == [True, True, True]
    assert checks[0].actual == sha256(root / SOURCE)

    # The model is replaced: the credential still validates (the SDK does not
    # hash ingredients), but the recomputed hash says what changed.
    tiny = (root / MODEL).read_bytes()
    (root / MODEL).write_bytes(tiny + b"\0")
    (root / DATASET).unlink()
    assert validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes()).status == VALID
    by_path = {c.path: c for c in check_ingredients(r, root=root)}
    assert by_path[MODEL].code == "archivist.ingredient.hashMismatch"
    assert by_path[MODEL].actual == sha256(root / MODEL) != by_path[MODEL].recorded
    assert by_path[DATASET].code == "archivist.ingredient.missing"
    assert by_path[SOURCE].ok

    # Hashes the caller already trusts (a verified payload manifest) are used as given.
    trusted = {SOURCE: "0" * 64}
    assert {c.path: c.code for c in check_ingredients(r, actual=trusted)}[SOURCE] == "archivist.ingredient.hashMismatch"

    # A path in a manifest never leads outside the package.
    hostile = ValidationResult(status=VALID, sdk_state="Trusted", ingredients=[
        {"title": "x", "format": "text/plain", "relationship": "inputTo", "sha256": "0" * 64,
         "path": "../../etc/passwd"}])
    assert check_ingredients(hostile, root=root)[0].code == "archivist.ingredient.badPath"


def _hsm_callback(key_pem: bytes):
    """Stands in for an HSM: the key object stays inside the closure."""
    key = keys.load_private_key(key_pem)
    return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))


def test_callback_signer(ident, tree, tmp_path):
    root, out = tree
    with signer_from_callback(_hsm_callback(ident.key.read_bytes()), ident.chain.read_bytes(), "es256") as signer:
        assert signer.key_source == "callback"
        signed = _sign(signer, root, out)
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == VALID and r.signature["common_name"] == "archivist test signer"

    # A callback holding another key signs, but nothing it signs validates.
    other = keys.init_test_identity(tmp_path / "other")
    with signer_from_callback(_hsm_callback(other.key.read_bytes()), ident.chain.read_bytes(), "es256") as bad:
        with pytest.raises(InputError) as err:
            preflight(bad)
        assert err.value.code == "SIGN-FAILED"

    def broken(data):
        raise RuntimeError("HSM session closed")

    with signer_from_callback(broken, ident.chain.read_bytes(), "es256") as bad:
        with pytest.raises(InputError) as err:
            _sign(bad, root, out, out_manifest_path=tmp_path / "never.c2pa")
        assert err.value.code == "SIGN-CALLBACK" and "HSM session closed" in err.value.message
    assert not (tmp_path / "never.c2pa").exists()


@pytest.mark.parametrize("term", ["softwareImage", "minorHumanEdits", IPTC + "digitalArt", "aiGenerated"])
def test_retired_and_unknown_iptc_terms_are_rejected(signer, tree, term):
    root, out = tree
    with pytest.raises(InputError) as err:
        _sign(signer, root, out, digital_source_type=term)
    assert err.value.code == ("IPTC-UNKNOWN" if term == "aiGenerated" else "IPTC-RETIRED")
    assert not out.with_suffix(".c2pa").exists()


def test_bad_ingredients_and_parameters_are_refused(signer, tree):
    root, out = tree
    cases = [
        ({"ingredients": [{"title": "m", "format": "application/onnx", "sha256": "XYZ", "path": MODEL}]},
         "CREDENTIAL-SHA256"),
        ({"ingredients": [{"title": "m", "format": "application/onnx", "sha256": "0" * 64, "path": MODEL,
                           "relationship": "parentOf"}]}, "CREDENTIAL-INGREDIENT"),
        ({"ingredients": [{"title": "m", "format": "application/onnx", "sha256": "0" * 64, "path": "../m.onnx"}]},
         "PATH-001"),
        ({"parameters": {"ingredientIds": ["x"]}}, "CREDENTIAL-PARAMETERS"),
        ({"parameters": {"when": object()}}, "CREDENTIAL-PARAMETERS"),
        ({"software_agent": {"name": "archivist"}}, "CREDENTIAL-AGENT"),
    ]
    for override, code in cases:
        with pytest.raises(Exception) as err:
            _sign(signer, root, out, **override)
        assert getattr(err.value, "code", None) == code, (override, err.value)
    assert not out.with_suffix(".c2pa").exists()


def test_existing_manifest_is_not_overwritten(signer, tree):
    root, out = tree
    first = _sign(signer, root, out)
    before = first.path.read_bytes()
    with pytest.raises(InputError) as err:
        _sign(signer, root, out)
    assert err.value.code == "CREDENTIAL-EXISTS" and first.path.read_bytes() == before
    assert _sign(signer, root, out, overwrite=True).path == first.path


def test_labels_are_derived_from_content_and_signer(signer, tree, tmp_path):
    root, out = tree
    a = _sign(signer, root, out, out_manifest_path=tmp_path / "a.c2pa")
    b = _sign(signer, root, out, out_manifest_path=tmp_path / "b.c2pa")
    assert a.label == b.label  # same inputs, same manifest identity
    c = _sign(signer, root, out, out_manifest_path=tmp_path / "c.c2pa", parameters={"mode": "chroma", "run": "run2"})
    assert c.label != a.label
    other = keys.init_test_identity(tmp_path / "other")
    with signer_from_files(other.chain, other.key) as s2:
        assert _sign(s2, root, out, out_manifest_path=tmp_path / "d.c2pa").label != a.label


@pytest.mark.parametrize("ext,mime", [(".png", "image/png"), (".tif", "image/tiff")])
def test_other_frame_formats(signer, ident, tree, ext, mime):
    root, _ = tree
    frame = write_frame(root / f"data/outputs/run1/shot.1001{ext}", offset=3)
    signed = _sign(signer, root, frame)
    assert signed.asset_format == mime
    assert validate_manifest(frame, signed.path, trust_anchors_pem=ident.ca.read_bytes()).status == VALID
    frame.write_bytes(frame.read_bytes() + b"\0")
    assert validate_manifest(frame, signed.path, trust_anchors_pem=ident.ca.read_bytes()).status == INVALID


@pytest.mark.parametrize("alg", ["ps256", "ed25519"])
def test_other_algorithms(tmp_path, tree, alg):
    root, out = tree
    ident = keys.init_test_identity(tmp_path / alg, alg=alg)
    with signer_from_files(ident.chain, ident.key) as signer:
        signed = _sign(signer, root, out)
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == VALID and r.signature["alg"].lower() == alg


# -- timestamps ---------------------------------------------------------------------
def test_absence_of_a_timestamp_is_recorded(signer, ident, tree):
    root, out = tree
    described = signer.describe()
    assert described["timestamp"]["used"] is False and described["timestamp"]["authority"] is None
    assert ident.info.not_after in described["timestamp"]["consequence"]
    signed = _sign(signer, root, out)
    assert signed.timestamped is False and signed.to_dict()["timestamped"] is False
    r = validate_manifest(out, signed.path, trust_anchors_pem=ident.ca.read_bytes())
    assert r.timestamped is False and "time" not in r.signature


def test_an_unreachable_tsa_is_a_clear_error(ident, tree):
    root, out = tree
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    with signer_from_files(ident.chain, ident.key, tsa_url=url) as signer:
        with pytest.raises(InputError) as err:
            preflight(signer)
        assert err.value.code == "SIGN-TSA" and url in err.value.message
        with pytest.raises(InputError) as err:
            _sign(signer, root, out)
        assert err.value.code == "SIGN-TSA"
    assert not out.with_suffix(".c2pa").exists()


@pytest.mark.skipif(not LocalTSA.available(), reason="needs the openssl command for a local RFC 3161 TSA")
def test_a_timestamp_keeps_credentials_valid_after_the_certificate_expires(tree, tmp_path):
    """The archival case: without a TSA a credential dies with its certificate."""
    root, out = tree
    lifetime = 4  # seconds left on the signing certificate
    ca, chain, key = keys.build_test_identity(
        days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1, seconds=-lifetime))
    expires = time.time() + lifetime
    with LocalTSA(tmp_path / "tsa") as tsa:
        with load_signer(chain, key, tsa_url=tsa.url) as stamped, load_signer(chain, key) as plain:
            assert preflight(stamped)["timestamp"]
            with_ts = _sign(stamped, root, out, out_manifest_path=tmp_path / "ts.c2pa")
            without = _sign(plain, root, out, out_manifest_path=tmp_path / "plain.c2pa")
        anchors = ca + tsa.ca_pem
        r = validate_manifest(out, with_ts.path, trust_anchors_pem=anchors)
        assert with_ts.timestamped and r.timestamped and r.timestamp_trusted and r.status == VALID
        assert validate_manifest(out, without.path, trust_anchors_pem=anchors).status == VALID
    time.sleep(max(0.0, expires - time.time()) + 1.0)
    r = validate_manifest(out, without.path, trust_anchors_pem=anchors)
    assert r.status == INVALID and "signingCredential.expired" in r.failure_codes
    r = validate_manifest(out, with_ts.path, trust_anchors_pem=anchors)
    assert r.status == VALID, r.failures
