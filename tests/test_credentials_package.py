"""Credentials inside a real package: keys never end up there, and the package seal."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives import serialization
from support.common import run_cli
from support.credentials import sha256, tiny_onnx, write_frame
from support.package import snapshot

from archivist.credentials import (
    INVALID,
    SEAL_FILE,
    UNTRUSTED,
    VALID,
    check_ingredients,
    keys,
    seal_bytes,
    sidecar_name,
    sign_frame,
    sign_tag_manifest,
    signer_from_files,
    validate_manifest,
    validate_seal,
)
from archivist.errors import ArchivistError, InputError, LockedError
from archivist.package import events
from archivist.package.layout import Layout, tagmanifest_name
from archivist.package.locking import WriteLock
from archivist.package.transaction import utcnow


@pytest.fixture
def ident(tmp_path):
    return keys.init_test_identity(tmp_path / "keys" / "lab")


def _sign_outputs_into(package, signer, tmp_path, run="run1", n=2) -> list[tuple[str, str]]:
    """Write n output frames with their credentials into the package, as inference would."""
    src = package.element("print16")["frames"]
    model_rel, dataset_rel = Layout.onnx_model("m1"), f"{Layout.stage_dir('dataset', 'd1')}/pairs.json"
    written = []
    with package.transaction("test-infer") as txn:
        model = txn.add_files([(model_rel, tiny_onnx(tmp_path / "model.onnx"))])[0]
        dataset = txn.write_bytes(dataset_rel, b'{"pairs": [[1001, 1]]}\n')
        for i, frame in enumerate(src[:n]):
            name = Path(frame["path"]).name
            rel = Layout.output_file(run, name)
            write_frame(txn.staging_path(rel), offset=i + 1)
            fx = txn.adopt(rel)
            crel = sidecar_name(rel)
            sign_frame(signer, txn.staged_path(rel), source_frame=(frame["path"], frame["sha256"], name),
                       ingredients=[
                           {"title": "model.onnx", "format": "application/onnx", "sha256": model.sha256,
                            "path": model_rel},
                           {"title": "pairs.json", "format": "application/json", "sha256": dataset.sha256,
                            "path": dataset_rel}],
                       digital_source_type="compositeWithTrainedAlgorithmicMedia", software_agent=None,
                       parameters={"mode": "chroma", "model": "m1", "run": run},
                       out_manifest_path=txn.staging_path(crel), asset_sha256=fx.sha256, title=name)
            txn.adopt(crel)
            written.append((rel, crel))
        events.append(txn, events.new_event("test-infer", "creation", utcnow(), [
            {"path": r, "role": "created", "sha256": txn.staged[r].fixity.sha256} for pair in written for r in pair]))
        txn.commit()
    return written


def test_keys_never_end_up_in_the_package(package, ident, tmp_path):
    with signer_from_files(ident.chain, ident.key) as signer:
        outputs = _sign_outputs_into(package, signer, tmp_path)
        sign_tag_manifest(signer, package.root)

    key = serialization.load_pem_private_key(ident.key.read_bytes(), None)
    secrets = {
        "key file": ident.key.read_bytes(),
        "key PKCS#8 DER": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()),
        "private scalar": key.private_numbers().private_value.to_bytes(32, "big"),
        "key directory": str(ident.directory).encode(),
    }
    files = [p for p in package.root.rglob("*") if p.is_file()]
    assert len(files) > 15 and (package.root / SEAL_FILE) in files
    for path in files:
        data = path.read_bytes()
        assert not re.search(rb"PRIVATE KEY", data), path
        for what, secret in secrets.items():
            assert secret not in data, f"{what} found in {path}"

    # The credentials in the package validate, and their ingredients are the package's files.
    manifest = package.manifest("sha256")
    for rel, crel in outputs:
        r = validate_manifest(package.layout.path(rel), package.layout.path(crel),
                              trust_anchors_pem=ident.ca.read_bytes())
        assert r.status == VALID, r.failures
        checks = check_ingredients(r, root=package.root)
        assert [c.ok for c in checks] == [True, True, True]
        assert all(manifest[c.path] == c.actual for c in checks)
    assert validate_seal(package.root, trust_anchors_pem=ident.ca.read_bytes()).status == VALID


def test_the_seal_signs_the_tag_manifest(package, ident, tmp_path):
    anchors = ident.ca.read_bytes()
    with signer_from_files(ident.chain, ident.key) as signer:
        sealed = sign_tag_manifest(signer, package.root)
    assert sealed.path == package.root / SEAL_FILE
    assert sealed.asset_sha256 == sha256(package.root / tagmanifest_name("sha256"))
    r = validate_seal(package.root, trust_anchors_pem=anchors)
    assert r.status == VALID and r.data_hash["hex"] == sealed.asset_sha256
    assert r.digital_source_type.endswith("/algorithmicMedia")
    assert r.parameters["package"] == package.record()["identifier"]
    assert r.parameters["tagmanifest-sha512.txt"]["sha512"]
    assert validate_seal(package.root).status == UNTRUSTED

    # The sealed package is still a valid bag, for archivist and for bagit-python.
    assert run_cli("verify", package.root).returncode == 0
    bagit.Bag(str(package.root)).validate()

    # Changing either tag manifest breaks the seal.
    tm256 = package.root / tagmanifest_name("sha256")
    original = tm256.read_bytes()
    tm256.write_bytes(original + b"\n")
    assert "assertion.dataHash.mismatch" in validate_seal(package.root, trust_anchors_pem=anchors).failure_codes
    tm256.write_bytes(original)
    tm512 = package.root / tagmanifest_name("sha512")
    tm512.write_bytes(tm512.read_bytes().replace(b"  bagit.txt", b"  bagit.txt "))
    r = validate_seal(package.root, trust_anchors_pem=anchors)
    assert r.status == INVALID and "archivist.seal.tagmanifestMismatch" in r.failure_codes


def test_a_seal_from_another_package_or_an_older_state_is_invalid(package, ident, tmp_path, shot):
    anchors = ident.ca.read_bytes()
    with signer_from_files(ident.chain, ident.key) as signer:
        sign_tag_manifest(signer, package.root)
    other = type(package).create(tmp_path / "other", title="Other film", organization="Test Archive")
    shutil.copy(package.root / SEAL_FILE, other.root / SEAL_FILE)
    r = validate_seal(other.root, trust_anchors_pem=anchors)
    assert r.status == INVALID and "assertion.dataHash.mismatch" in r.failure_codes

    # A later commit changes the tag manifest and removes the seal; put back, the old seal no longer holds.
    old_seal = (package.root / SEAL_FILE).read_bytes()
    with package.transaction("test") as txn:
        txn.write_bytes("data/metadata/m1/note.txt", b"later\n")
        txn.commit()
    assert not (package.root / SEAL_FILE).exists()
    (package.root / SEAL_FILE).write_bytes(old_seal)
    assert validate_seal(package.root, trust_anchors_pem=anchors).status == INVALID


def test_seal_bytes_for_a_commit_in_progress(package, ident):
    """What a commit can call with the tag manifest it is about to write."""
    root = package.root
    with signer_from_files(ident.chain, ident.key) as signer:
        data = seal_bytes(signer, tagmanifest_sha256=(root / tagmanifest_name("sha256")).read_bytes(),
                          tagmanifest_sha512=(root / tagmanifest_name("sha512")).read_bytes(),
                          package_identifier=package.record()["identifier"],
                          payload_oxum=package.bag_info()["Payload-Oxum"])
    (root / SEAL_FILE).write_bytes(data)
    r = validate_seal(root, trust_anchors_pem=ident.ca.read_bytes())
    assert r.status == VALID and r.parameters["payload_oxum"] == package.bag_info()["Payload-Oxum"]


def test_the_seal_goes_only_where_it_cannot_sign_itself(package, ident, tmp_path):
    before = snapshot(package.root)
    with signer_from_files(ident.chain, ident.key) as signer:
        for place in ("data/credentials/package.c2pa", "bag-info.txt", "credentials/package.c2pa"):
            with pytest.raises(InputError) as err:
                sign_tag_manifest(signer, package.root, package.root / place)
            assert err.value.code == "SIGN-SEAL-PLACE"
        assert snapshot(package.root) == before

        # A copy kept outside the package is fine, and validates against it.
        outside = sign_tag_manifest(signer, package.root, tmp_path / "seal-copy.c2pa")
        assert snapshot(package.root) == before
        r = validate_seal(package.root, trust_anchors_pem=ident.ca.read_bytes(), seal_path=outside.path)
        assert r.status == VALID

        lock = WriteLock(package.root, "someone else").acquire()
        try:
            with pytest.raises(LockedError):
                sign_tag_manifest(signer, package.root)
        finally:
            lock.release()
        assert not (package.root / SEAL_FILE).exists()


def test_a_failed_frame_signature_leaves_the_package_untouched(package, ident, tmp_path):
    before = snapshot(package.root)
    with signer_from_files(ident.chain, ident.key) as signer:
        with pytest.raises(ArchivistError):
            _sign_outputs_into_with_retired_term(package, signer)
    assert snapshot(package.root) == before
    assert not (package.root / ".archivist").exists()


def _sign_outputs_into_with_retired_term(package, signer):
    frame = package.element("print16")["frames"][0]
    with package.transaction("test-infer") as txn:
        rel = Layout.output_file("run1", "bad.exr")
        write_frame(txn.staging_path(rel))
        txn.adopt(rel)
        sign_frame(signer, txn.staged_path(rel), source_frame=(frame["path"], frame["sha256"], "x.exr"),
                   ingredients=[], digital_source_type="softwareImage", software_agent=None, parameters={},
                   out_manifest_path=txn.staging_path(sidecar_name(rel)))
        txn.commit()
