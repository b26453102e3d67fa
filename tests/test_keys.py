"""keys init, certificate rules and signers: real certificates, the real C2PA SDK."""

from __future__ import annotations

import io
import json
import os
import re
import stat

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.common import run_cli
from support.credentials import make_chain

from archivist.credentials import keys, preflight
from archivist.credentials.context import builder_context
from archivist.credentials.signer import (
    ENV_CERT,
    ENV_KEY,
    ENV_TSA,
    load_signer,
    resolve_signer,
    signer_from_env,
    signer_from_files,
)
from archivist.errors import InputError


def _ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls).value


# -- keys init -------------------------------------------------------------------
def test_init_writes_a_labelled_test_identity(tmp_path):
    d = tmp_path / "keys"
    ident = keys.init_test_identity(d, name="Film lab test")
    assert sorted(p.name for p in d.iterdir()) == ["README.txt", "ca.pem", "chain.pem", "key.pem"]
    assert stat.S_IMODE(os.stat(d / "key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700

    leaf, ca = x509.load_pem_x509_certificates((d / "chain.pem").read_bytes())
    assert (d / "ca.pem").read_bytes() == ca.public_bytes(serialization.Encoding.PEM)
    for cert in (leaf, ca):
        orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        assert orgs == ["archivist TEST identity - not for production"]
    assert "TEST" in ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert "NOT FOR PRODUCTION" in (d / "README.txt").read_text()

    # The leaf is what a C2PA signer needs, issued by the CA.
    assert _ext(leaf, x509.BasicConstraints).ca is False
    assert _ext(leaf, x509.KeyUsage).digital_signature
    assert list(_ext(leaf, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert _ext(leaf, x509.AuthorityKeyIdentifier).key_identifier == _ext(ca, x509.SubjectKeyIdentifier).digest
    assert _ext(leaf, x509.SubjectKeyIdentifier)
    leaf.verify_directly_issued_by(ca)
    assert _ext(ca, x509.BasicConstraints).ca is True

    # Only the leaf's private key exists on disk: the CA's was discarded.
    texts = [p.read_bytes() for p in d.iterdir()]
    assert sum(len(re.findall(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", t)) for t in texts) == 1
    key = serialization.load_pem_private_key((d / "key.pem").read_bytes(), None)
    assert key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        == leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ident.info.test_identity and ident.info.chain_length == 2


@pytest.mark.parametrize("alg", keys.INIT_ALGORITHMS)
def test_init_output_passes_the_signers_requirements(tmp_path, alg):
    ident = keys.init_test_identity(tmp_path / alg, alg=alg)
    with signer_from_files(ident.chain, ident.key) as signer:
        assert signer.algorithm == alg
        assert signer.warnings == []
        assert preflight(signer)["ok"]


def test_init_document_signing_eku(tmp_path):
    ident = keys.init_test_identity(tmp_path / "k", eku="documentSigning")
    assert ident.info.ekus == ("documentSigning",)
    with signer_from_files(ident.chain, ident.key) as signer:
        assert preflight(signer)["ok"]  # needs trust_config in the signing context


def test_init_never_overwrites(tmp_path):
    d = tmp_path / "keys"
    keys.init_test_identity(d)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(InputError) as err:
        keys.init_test_identity(d)
    assert err.value.code == "KEYS-EXISTS"
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


@pytest.mark.parametrize("where", [".", "data", "data/records/new/keys", "link"])
def test_init_refuses_a_directory_inside_a_package(package, tmp_path, where):
    if where == "link":
        target = tmp_path / "link"
        target.symlink_to(package.root / "data", target_is_directory=True)
    else:
        target = package.root / where
    before = sorted(str(p) for p in package.root.rglob("*"))
    with pytest.raises(InputError) as err:
        keys.init_test_identity(target)
    assert err.value.code == "KEYS-INSIDE-PACKAGE"
    assert sorted(str(p) for p in package.root.rglob("*")) == before


def test_cli_keys_init_and_check(tmp_path, package):
    d = tmp_path / "ids"
    proc = run_cli("keys", "init", d, "--algorithm", "ed25519", "--days", "30", "--json", check=True)
    out = json.loads(proc.stdout)
    assert out["identity"]["algorithm"] == "ed25519" and out["identity"]["certificate"]["test_identity"]

    proc = run_cli("keys", "check", "--json", env={ENV_CERT: str(d / "chain.pem"), ENV_KEY: str(d / "key.pem")},
                   check=True)
    report = json.loads(proc.stdout)
    assert report["signer"]["timestamp"]["used"] is False
    assert "expires" in report["signer"]["timestamp"]["consequence"]
    assert str(d) not in proc.stdout  # no local paths in what a run record would store

    refused = run_cli("keys", "init", package.root / "data" / "keys")
    assert refused.returncode == 2 and "KEYS-INSIDE-PACKAGE" in refused.stderr
    assert not (package.root / "data" / "keys").exists()


# -- certificate rules ------------------------------------------------------------------
def _sdk_signs(chain: bytes, key: bytes) -> bool:
    """Whether the C2PA SDK itself signs with this chain (no archivist checks)."""
    definition = {"title": "x.txt", "format": "text/plain", "claim_generator_info": [{"name": "t", "version": "1"}],
                  "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
                      "action": "c2pa.created",
                      "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"}]}}]}
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo("es256", chain, key, None))
        builder = c2pa.Builder(definition, context=builder_context())
        builder.set_no_embed()
        builder.sign(signer, "text/plain", io.BytesIO(b"probe"), io.BytesIO())
        return True
    except c2pa.C2paError:
        return False


@pytest.mark.parametrize("defect", ["eku", "aki", "leaf_ca", "digital_signature"])
def test_certificate_rules_match_the_sdk(defect):
    _, chain, key = make_chain(**({"leaf_ca": True} if defect == "leaf_ca" else {defect: False}))
    assert not _sdk_signs(chain, key)
    with pytest.raises(InputError) as err:
        load_signer(chain, key)
    assert err.value.code == "SIGN-CERT-REQUIREMENTS"
    # The same generator without the defect is accepted by both.
    _, good_chain, good_key = make_chain()
    assert _sdk_signs(good_chain, good_key)
    load_signer(good_chain, good_key).close()


def test_self_signed_and_expired_certificates_are_refused():
    _, chain, key = make_chain(self_signed=True)
    with pytest.raises(InputError) as err:
        load_signer(chain, key)
    assert err.value.code == "SIGN-CERT-REQUIREMENTS" and "self-signed" in err.value.message
    _, chain, key = make_chain(expired=True)
    with pytest.raises(InputError) as err:
        load_signer(chain, key)
    assert err.value.code == "SIGN-CERT-EXPIRED"


def test_key_chain_and_algorithm_mismatches():
    ca, chain, key = make_chain()
    _, _, other_key = make_chain()
    with pytest.raises(InputError) as err:
        load_signer(chain, other_key)
    assert err.value.code == "SIGN-KEY-MISMATCH"
    with pytest.raises(InputError) as err:
        load_signer(chain, key, "ps256")
    assert err.value.code == "SIGN-ALG"
    leaf_pem, ca_pem = chain[:chain.index(b"-----END CERTIFICATE-----") + 26], ca
    with pytest.raises(InputError) as err:
        load_signer(ca_pem + leaf_pem, key)  # CA first: wrong order
    assert err.value.code in ("SIGN-CERT-REQUIREMENTS", "SIGN-CERT-CHAIN")
    with pytest.raises(InputError) as err:
        load_signer(b"not a certificate", key)
    assert err.value.code == "SIGN-CERT-UNREADABLE"
    with pytest.raises(InputError) as err:
        load_signer(chain, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert err.value.code == "SIGN-KEY-UNREADABLE"


def test_encrypted_key_needs_its_password(tmp_path):
    ident = keys.init_test_identity(tmp_path / "k")
    key = keys.load_private_key(ident.key.read_bytes())
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"s3cret"))
    chain = ident.chain.read_bytes()
    with pytest.raises(InputError) as err:
        load_signer(chain, encrypted)
    assert err.value.code == "SIGN-KEY-PASSWORD"
    with load_signer(chain, encrypted, key_password=b"s3cret") as signer:
        assert preflight(signer)["ok"]


# -- where signers come from ------------------------------------------------------------
def test_signer_from_env_and_options(tmp_path, monkeypatch):
    ident = keys.init_test_identity(tmp_path / "k")
    with pytest.raises(InputError) as err:
        signer_from_env({})
    assert err.value.code == "SIGN-NO-KEY" and "keys init" in err.value.hint
    env = {ENV_CERT: str(ident.chain), ENV_KEY: str(ident.key)}
    with signer_from_env(env) as signer:
        assert signer.key_source == "environment" and not signer.timestamped
    with signer_from_env({**env, ENV_TSA: "http://127.0.0.1:9/tsa"}) as signer:
        assert signer.timestamped and signer.describe()["timestamp"]["authority"] == "http://127.0.0.1:9/tsa"
    with pytest.raises(InputError) as err:
        resolve_signer(ident.chain, None, environ=env)
    assert err.value.code == "SIGN-INCOMPLETE"
    with resolve_signer(ident.chain, ident.key, environ={}) as signer:
        assert signer.key_source == "files"
    with pytest.raises(InputError) as err:
        resolve_signer(ident.chain, ident.key, tsa_url="ftp://example.org", environ={})
    assert err.value.code == "SIGN-TSA-URL"
    with pytest.raises(InputError) as err:
        signer_from_files(ident.chain, tmp_path / "missing.pem")
    assert err.value.code == "SIGN-KEY-MISSING"


def test_signer_warns_about_a_readable_key(tmp_path):
    ident = keys.init_test_identity(tmp_path / "k")
    os.chmod(ident.key, 0o644)
    with signer_from_files(ident.chain, ident.key) as signer:
        assert any("readable by other users" in w for w in signer.warnings)


def test_a_key_inside_a_package_is_refused(tmp_path, package):
    ident = keys.init_test_identity(tmp_path / "k")
    stray = package.root / "data" / "key.pem"
    stray.write_bytes(ident.key.read_bytes())
    try:
        with pytest.raises(InputError) as err:
            signer_from_files(ident.chain, stray)
        assert err.value.code == "KEYS-INSIDE-PACKAGE"
    finally:
        stray.unlink()
