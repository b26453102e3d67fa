"""Trust anchors given by a user: PEM CA certificates, checked before use.

Kept outside ``archivist.credentials`` so that ``verify`` can check its
options without loading the C2PA SDK.
"""

from __future__ import annotations

from archivist.errors import InputError


def check_trust_anchors(pem: bytes | None, code: str) -> bytes | None:
    """``pem`` unchanged if it holds at least one PEM certificate; None for none given."""
    if not pem:
        return None
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certs = []
    if not certs:
        raise InputError(code, "the trust anchors are not PEM certificates",
                         hint="give the CA certificate(s) as PEM, e.g. ca.pem from 'archivist keys init'")
    return pem
