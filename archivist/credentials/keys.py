"""Signing certificates: a local test identity, and the checks a signer needs.

``init_test_identity`` makes a throw-away certificate authority and one
signing certificate issued by it, for trying archivist without a real
identity. Everything it makes says TEST in the subject and in a README, and
the CA's private key is discarded once the leaf is issued, so the test CA
can never vouch for anything else.

``check_chain`` states the rules c2pa-rs applies to a signing certificate
(measured with c2pa-python 0.38.1), plus one it does not enforce (no
self-signed signer), so that a bad certificate is refused with a clear
message before any output is written, not deep inside the SDK.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from archivist.errors import InputError

TEST_ORGANIZATION = "archivist TEST identity - not for production"
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
INIT_ALGORITHMS = ("es256", "ps256", "ed25519")
INIT_EKUS = ("emailProtection", "documentSigning")

CA_FILE = "ca.pem"
CHAIN_FILE = "chain.pem"
KEY_FILE = "key.pem"
README_FILE = "README.txt"

# EKUs c2pa-rs accepts by default for claim signing.
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SIGNING_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "emailProtection",
    DOCUMENT_SIGNING.dotted_string: "documentSigning",
    C2PA_CLAIM_SIGNING.dotted_string: "c2paClaimSigning",
}

_EC_CURVES = {"es256": ec.SECP256R1, "es384": ec.SECP384R1, "es512": ec.SECP521R1}
_EC_ALG = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


# -- algorithms ------------------------------------------------------------------
def generate_key(alg: str):
    """A new private key for a C2PA algorithm name."""
    if alg in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[alg]())
    if alg.startswith("ps"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048 if alg == "ps256" else 3072)
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise InputError("SIGN-ALG", f"unknown signing algorithm {alg!r}", hint="one of: " + ", ".join(ALGORITHMS))


def algorithms_for_key(public_key) -> tuple[str, ...]:
    """C2PA algorithm names a key can sign with (the first is the default)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        alg = _EC_ALG.get(public_key.curve.name)
        return (alg,) if alg else ()
    if isinstance(public_key, rsa.RSAPublicKey):
        return ("ps256", "ps384", "ps512")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return ("ed25519",)
    return ()


# -- reading ------------------------------------------------------------------
def load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    """Certificates from a PEM chain, leaf first."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise InputError("SIGN-CERT-UNREADABLE", f"the certificate chain is not PEM certificates ({exc})",
                         hint="give the chain as PEM: the signing certificate first, then its issuers") from None
    return certs


def load_private_key(key_pem: bytes, password: bytes | None = None):
    try:
        return serialization.load_pem_private_key(key_pem, password=password)
    except TypeError as exc:  # encrypted without password, or password on a plain key
        raise InputError("SIGN-KEY-PASSWORD", f"the private key cannot be opened: {exc}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError("SIGN-KEY-UNREADABLE", "the private key is not a readable PEM private key"
                         f" ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def unencrypted_pem(key) -> bytes:
    """PKCS#8 PEM without encryption, as the C2PA SDK takes it (kept in memory only)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# -- checks -------------------------------------------------------------------
@dataclass(frozen=True)
class CertificateInfo:
    """What a run record says about the signing certificate."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str  # fingerprint of the leaf's DER
    ekus: tuple[str, ...]
    chain_length: int
    algorithms: tuple[str, ...]
    test_identity: bool
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "subject": self.subject, "issuer": self.issuer, "serial": self.serial,
            "not_before": self.not_before, "not_after": self.not_after, "sha256": self.sha256,
            "ekus": list(self.ekus), "chain_length": self.chain_length, "test_identity": self.test_identity,
        }


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ext(cert: x509.Certificate, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _fail(message: str, hint: str | None = None):
    raise InputError("SIGN-CERT-REQUIREMENTS", message,
                     hint=hint or "C2PA needs a leaf certificate issued by a CA, with KeyUsage digitalSignature,"
                     " an emailProtection or documentSigning EKU, an Authority Key Identifier and CA=false;"
                     " 'archivist keys init' makes one for testing")


def check_chain(chain_pem: bytes, *, key=None, alg: str | None = None,
                now: dt.datetime | None = None) -> CertificateInfo:
    """Check a chain (leaf first) against what a C2PA signer needs.

    ``key`` (a private key object) must match the leaf when given; ``alg``
    must suit the leaf's key. Raises ``InputError`` naming the first problem.
    """
    certs = load_chain(chain_pem)
    if not certs:
        raise InputError("SIGN-CERT-UNREADABLE", "the certificate chain holds no certificate")
    leaf = certs[0]
    now = now or dt.datetime.now(dt.UTC)
    subject = leaf.subject.rfc4514_string()

    if leaf.not_valid_after_utc <= now:
        raise InputError("SIGN-CERT-EXPIRED", f"the signing certificate ({subject}) expired on "
                         f"{_iso(leaf.not_valid_after_utc)}", hint="renew the certificate; nothing was signed")
    if leaf.not_valid_before_utc > now:
        raise InputError("SIGN-CERT-NOT-YET-VALID", f"the signing certificate ({subject}) is valid only from "
                         f"{_iso(leaf.not_valid_before_utc)}", hint="check the clock of this machine")
    bc = _ext(leaf, x509.BasicConstraints)
    if bc is not None and bc.ca:
        _fail(f"the signing certificate ({subject}) is a CA certificate (CA=true)")
    if leaf.issuer == leaf.subject:
        _fail(f"the signing certificate ({subject}) is self-signed; C2PA needs one issued by a CA")
    ku = _ext(leaf, x509.KeyUsage)
    if ku is None or not ku.digital_signature:
        _fail(f"the signing certificate ({subject}) lacks KeyUsage digitalSignature")
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    eku_oids = tuple(o.dotted_string for o in eku) if eku is not None else ()
    if not any(o in SIGNING_EKUS for o in eku_oids):
        _fail(f"the signing certificate ({subject}) has no emailProtection, documentSigning or C2PA"
              " claim-signing extended key usage")
    if _ext(leaf, x509.AuthorityKeyIdentifier) is None:
        _fail(f"the signing certificate ({subject}) has no Authority Key Identifier")
    for child, parent in zip(certs, certs[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise InputError("SIGN-CERT-CHAIN", f"{child.subject.rfc4514_string()} is not issued by the next"
                             f" certificate in the chain ({parent.subject.rfc4514_string()})",
                             hint="order the chain leaf first, then each issuer") from None
    for cert in certs[1:]:
        if cert.not_valid_after_utc <= now:
            raise InputError("SIGN-CERT-EXPIRED", f"the issuing certificate {cert.subject.rfc4514_string()}"
                             f" expired on {_iso(cert.not_valid_after_utc)}")

    algs = algorithms_for_key(leaf.public_key())
    if not algs:
        _fail(f"the signing certificate's key type ({type(leaf.public_key()).__name__}) has no C2PA algorithm")
    if alg is not None and alg not in algs:
        raise InputError("SIGN-ALG", f"algorithm {alg!r} does not suit the certificate's key",
                         hint="use one of: " + ", ".join(algs))
    if key is not None and key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != leaf.public_key(
            ).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise InputError("SIGN-KEY-MISMATCH", "the private key does not belong to the signing certificate",
                         hint="give the key that was issued with the first certificate of the chain")
    warnings = []
    if len(certs) == 1:
        warnings.append("the chain holds only the signing certificate; readers also need its issuer")
    orgs = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return CertificateInfo(
        subject=subject, issuer=leaf.issuer.rfc4514_string(), serial=format(leaf.serial_number, "x"),
        not_before=_iso(leaf.not_valid_before_utc), not_after=_iso(leaf.not_valid_after_utc),
        sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        ekus=tuple(SIGNING_EKUS.get(o, o) for o in eku_oids), chain_length=len(certs), algorithms=algs,
        test_identity=TEST_ORGANIZATION in orgs, warnings=tuple(warnings),
    )


# -- where keys may live ------------------------------------------------------------
def enclosing_package(path: Path) -> Path | None:
    """The archivist/BagIt package that ``path`` is inside (or is), if any.

    Symbolic links are resolved first, so a link pointing into a package
    is caught too. A path that does not exist yet is judged by its parents.
    """
    p = Path(os.path.realpath(Path(path).expanduser()))
    for candidate in (p, *p.parents):
        if (candidate / "bagit.txt").is_file():
            return candidate
    return None


def refuse_inside_package(path: Path, what: str) -> None:
    pkg = enclosing_package(path)
    if pkg is not None:
        raise InputError("KEYS-INSIDE-PACKAGE", f"{what} {path} is inside the package {pkg}",
                         hint="signing keys never go into a package; keep them in a directory of their own")


# -- the test identity ------------------------------------------------------------
@dataclass(frozen=True)
class TestIdentity:
    directory: Path
    ca: Path
    chain: Path
    key: Path
    readme: Path
    algorithm: str
    info: CertificateInfo

    def to_dict(self) -> dict:
        return {"directory": str(self.directory), "ca": str(self.ca), "chain": str(self.chain),
                "key": str(self.key), "readme": str(self.readme), "algorithm": self.algorithm,
                "certificate": self.info.to_dict()}


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Test identity made by 'archivist keys init'"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def build_test_identity(name: str = "archivist test signer", *, days: int = 365, alg: str = "es256",
                        eku: str = "emailProtection", now: dt.datetime | None = None) -> tuple[bytes, bytes, bytes]:
    """(CA PEM, chain PEM leaf-then-CA, leaf key PEM) for a new test identity, in memory.

    The CA key exists only inside this function.
    """
    if alg not in INIT_ALGORITHMS:
        raise InputError("SIGN-ALG", f"keys init makes {', '.join(INIT_ALGORITHMS)} identities, not {alg!r}")
    if not 1 <= days <= 3650:
        raise InputError("KEYS-DAYS", f"--days must be between 1 and 3650, not {days}")
    if not name.strip() or len(name) > 64:
        raise InputError("KEYS-NAME", "--name must be 1 to 64 characters")
    eku_oid = {v: ObjectIdentifier(k) for k, v in SIGNING_EKUS.items()}.get(eku)
    if eku_oid is None:
        raise InputError("KEYS-EKU", f"unknown extended key usage {eku!r}", hint="one of: " + ", ".join(INIT_EKUS))
    now = now or dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    ca_key, leaf_key = generate_key(alg), generate_key(alg)
    # An Ed25519 signature takes no separate hash.
    sig_hash = None if alg == "ed25519" else hashes.SHA256()
    ca_name = _name(f"{name} - TEST CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, sig_hash))
    leaf = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_name)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku_oid]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, sig_hash))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain_pem = leaf.public_bytes(serialization.Encoding.PEM) + ca_pem
    return ca_pem, chain_pem, unencrypted_pem(leaf_key)


README = """\
archivist TEST identity - NOT FOR PRODUCTION
============================================

These files were made by 'archivist keys init' for trying archivist. They
are not a real identity. Every certificate here says

    O={org}

in its subject, and any reader that is not given {ca} as a trust
anchor reports what they sign as untrusted.

  {ca:<10} the test certificate authority (give it to --trust-anchor)
  {chain:<10} the signing certificate, then the CA (--sign-cert)
  {key:<10} the signing key (--sign-key); private, mode 0600

Algorithm {alg}, valid until {not_after}. The CA's own private key was
discarded once it had issued the signing certificate.

Credentials signed without a timestamp authority (--tsa-url) become invalid
when this certificate expires.

Never copy {key} into an archivist package, and never archive it. For
production, use a certificate from a CA your readers trust and keep the key
in an HSM or key service (archivist can sign through a callback).
"""


def init_test_identity(directory: Path, *, name: str = "archivist test signer", days: int = 365,
                       alg: str = "es256", eku: str = "emailProtection") -> TestIdentity:
    """Write a new test CA, signing chain and key to ``directory``.

    Refuses a directory inside a package, and any existing identity files:
    keys are never overwritten.
    """
    directory = Path(directory)
    refuse_inside_package(directory, "the key directory")
    paths = {n: directory / n for n in (CA_FILE, CHAIN_FILE, KEY_FILE, README_FILE)}
    if directory.exists() and not directory.is_dir():
        raise InputError("KEYS-NOT-A-DIR", f"{directory} exists and is not a directory")
    existing = [str(p) for p in paths.values() if p.exists() or p.is_symlink()]
    if existing:
        raise InputError("KEYS-EXISTS", f"{existing[0]} already exists; keys are never overwritten",
                         hint="choose a new directory, or remove the old identity yourself")
    ca_pem, chain_pem, key_pem = build_test_identity(name, days=days, alg=alg, eku=eku)
    info = check_chain(chain_pem, key=load_private_key(key_pem), alg=alg)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_new(paths[KEY_FILE], key_pem, 0o600)
    _write_new(paths[CA_FILE], ca_pem, 0o644)
    _write_new(paths[CHAIN_FILE], chain_pem, 0o644)
    _write_new(paths[README_FILE], README.format(org=TEST_ORGANIZATION, ca=CA_FILE, chain=CHAIN_FILE,
                                                 key=KEY_FILE, alg=alg, not_after=info.not_after).encode(), 0o644)
    return TestIdentity(directory, paths[CA_FILE], paths[CHAIN_FILE], paths[KEY_FILE], paths[README_FILE], alg, info)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never follow or replace something already there; the mode is
    # set at creation so the key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
