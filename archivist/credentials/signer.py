"""Signers: who signs the credentials, and with what.

A ``Signer`` wraps the C2PA SDK's signer together with what a run record
must say about it: the algorithm, the certificate, and whether a
timestamp authority (TSA) countersigns. Without a TSA timestamp a C2PA
credential turns invalid once its certificate expires, so ``describe()``
says so explicitly.

The private key is read, checked against the certificate and handed to
the SDK in memory; archivist never writes it anywhere. With
``signer_from_callback`` the key never reaches archivist at all (an HSM
or key service signs the bytes it is given).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import c2pa

from archivist.credentials import keys
from archivist.errors import InputError

ENV_CERT = "ARCHIVIST_SIGN_CERT"
ENV_KEY = "ARCHIVIST_SIGN_KEY"
ENV_ALG = "ARCHIVIST_SIGN_ALG"
ENV_TSA = "ARCHIVIST_TSA_URL"

_SDK_ALG = {name: getattr(c2pa.C2paSigningAlg, name.upper()) for name in keys.ALGORITHMS}


@dataclass
class Signer:
    """A ready signer; use it for many frames, then ``close()`` it."""

    algorithm: str
    chain_pem: bytes
    tsa_url: str | None
    certificate: keys.CertificateInfo
    key_source: str  # "memory", "files", "environment" or "callback"
    native: c2pa.Signer = field(repr=False)
    warnings: list[str] = field(default_factory=list)
    callback_error: list[BaseException] = field(default_factory=list, repr=False)

    @property
    def timestamped(self) -> bool:
        return self.tsa_url is not None

    def describe(self) -> dict:
        """What a run record stores about this signer (no secrets, no local paths)."""
        out = {
            "algorithm": self.algorithm,
            "key_source": self.key_source,
            "certificate": self.certificate.to_dict(),
            "timestamp": {"used": self.timestamped, "authority": self.tsa_url},
            "test_identity": self.certificate.test_identity,
        }
        if not self.timestamped:
            out["timestamp"]["consequence"] = (
                "no trusted timestamp: these credentials become invalid when the signing certificate "
                f"expires on {self.certificate.not_after}")
        return out

    def close(self) -> None:
        self.native.close()

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_tsa(tsa_url: str | None) -> str | None:
    if tsa_url is None or tsa_url == "":
        return None
    if not tsa_url.startswith(("http://", "https://")) or any(c.isspace() for c in tsa_url):
        raise InputError("SIGN-TSA-URL", f"the timestamp authority URL {tsa_url!r} is not an http(s) URL",
                         hint="an RFC 3161 TSA, e.g. http://timestamp.digicert.com")
    return tsa_url


def _native_from_info(alg: str, chain_pem: bytes, key_pem: bytes, tsa_url: str | None) -> c2pa.Signer:
    try:
        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, chain_pem, key_pem, tsa_url))
    except c2pa.C2paError as exc:
        raise InputError("SIGN-FAILED", f"the C2PA SDK refused the certificate or key: {exc}") from None


def load_signer(cert_chain_pem: bytes, key_pem: bytes, alg: str | None = None, tsa_url: str | None = None, *,
                key_password: bytes | None = None, key_source: str = "memory") -> Signer:
    """A signer from a PEM chain (leaf first) and its PEM private key.

    ``alg`` defaults to what the key supports (es256 for P-256, ps256 for
    RSA, ed25519). Everything is checked here, so a bad certificate or key
    fails before anything is signed.
    """
    if alg is not None and alg not in keys.ALGORITHMS:
        raise InputError("SIGN-ALG", f"unknown signing algorithm {alg!r}", hint="one of: " + ", ".join(keys.ALGORITHMS))
    key = keys.load_private_key(key_pem, key_password)
    info = keys.check_chain(cert_chain_pem, key=key, alg=alg)
    alg = alg or info.algorithms[0]
    tsa_url = _check_tsa(tsa_url)
    native = _native_from_info(alg, cert_chain_pem, keys.unencrypted_pem(key), tsa_url)
    return Signer(alg, cert_chain_pem, tsa_url, info, key_source, native, list(info.warnings))


def _read(path: Path, what: str, code: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(code, f"the {what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(code, f"the {what} {path} is a directory, not a file") from None
    except PermissionError:
        raise InputError(code, f"the {what} {path} cannot be read (permission denied)") from None


def signer_from_files(cert_path: Path, key_path: Path, alg: str | None = None, tsa_url: str | None = None, *,
                      key_password: bytes | None = None, key_source: str = "files") -> Signer:
    """A signer from a PEM chain file and a PEM key file.

    A key stored inside a package is refused: keys never belong there.
    """
    key_path = Path(key_path)
    keys.refuse_inside_package(key_path, "the signing key")
    chain = _read(Path(cert_path), "certificate chain", "SIGN-CERT-MISSING")
    key_pem = _read(key_path, "signing key", "SIGN-KEY-MISSING")
    signer = load_signer(chain, key_pem, alg, tsa_url, key_password=key_password, key_source=key_source)
    mode = os.stat(key_path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        signer.warnings.append(f"the signing key file is readable by other users (mode {stat.filemode(mode)})")
    return signer


def signer_from_env(environ: Mapping[str, str] | None = None) -> Signer:
    """A signer from ``ARCHIVIST_SIGN_CERT`` and ``ARCHIVIST_SIGN_KEY`` (file paths).

    ``ARCHIVIST_SIGN_ALG`` and ``ARCHIVIST_TSA_URL`` are optional.
    """
    env = os.environ if environ is None else environ
    cert, key = env.get(ENV_CERT), env.get(ENV_KEY)
    if not cert or not key:
        missing = " and ".join(n for n, v in ((ENV_CERT, cert), (ENV_KEY, key)) if not v)
        raise InputError("SIGN-NO-KEY", f"no signing identity: {missing} not set",
                         hint=f"set {ENV_CERT} (PEM chain, leaf first) and {ENV_KEY} (PEM key) to file paths,"
                         " or pass --sign-cert and --sign-key; 'archivist keys init DIR' makes a test identity")
    return signer_from_files(Path(cert), Path(key), env.get(ENV_ALG) or None, env.get(ENV_TSA) or None,
                             key_source="environment")


def resolve_signer(cert_path: Path | None = None, key_path: Path | None = None, alg: str | None = None,
                   tsa_url: str | None = None, environ: Mapping[str, str] | None = None) -> Signer:
    """Command-line options first, then the environment."""
    env = os.environ if environ is None else environ
    if cert_path is None and key_path is None:
        merged = dict(env)
        if alg:
            merged[ENV_ALG] = alg
        if tsa_url:
            merged[ENV_TSA] = tsa_url
        return signer_from_env(merged)
    if cert_path is None or key_path is None:
        raise InputError("SIGN-INCOMPLETE", "--sign-cert and --sign-key go together")
    return signer_from_files(cert_path, key_path, alg or env.get(ENV_ALG) or None,
                             tsa_url if tsa_url is not None else env.get(ENV_TSA) or None)


def signer_from_callback(callback: Callable[[bytes], bytes], cert_chain_pem: bytes, alg: str,
                         tsa_url: str | None = None) -> Signer:
    """A signer whose private key stays elsewhere (an HSM, a key service).

    ``callback(data) -> signature`` signs ``data`` with the key of the
    chain's first certificate using ``alg`` (ECDSA signatures as DER).
    The certificate is checked here; the key is checked by signing.
    """
    if alg not in keys.ALGORITHMS:
        raise InputError("SIGN-ALG", f"unknown signing algorithm {alg!r}", hint="one of: " + ", ".join(keys.ALGORITHMS))
    info = keys.check_chain(cert_chain_pem, alg=alg)
    tsa_url = _check_tsa(tsa_url)
    errors: list[BaseException] = []

    def guarded(data: bytes) -> bytes:
        # The SDK swallows exceptions from the callback; keep them to explain the failure.
        try:
            return bytes(callback(data))
        except BaseException as exc:
            errors.append(exc)
            raise

    try:
        native = c2pa.Signer.from_callback(guarded, _SDK_ALG[alg], cert_chain_pem.decode("ascii"), tsa_url)
    except (c2pa.C2paError, UnicodeDecodeError) as exc:
        raise InputError("SIGN-FAILED", f"the C2PA SDK refused the callback signer: {exc}") from None
    return Signer(alg, cert_chain_pem, tsa_url, info, "callback", native, list(info.warnings), errors)
