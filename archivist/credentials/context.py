"""C2PA SDK settings shared by signing and validation.

Measured with c2pa-python 0.38.1 (c2pa-rs 0.91.3):

* thumbnails are off, or each manifest grows by hundreds of KB;
* a certificate with the documentSigning EKU is refused at signing and
  reported invalid at reading unless ``trust.trust_config`` lists its OID,
  in both contexts, so both get the same list;
* nothing is fetched from the network when reading (no remote manifests,
  no OCSP): verification of an archive must not depend on a server.
"""

from __future__ import annotations

import threading

import c2pa

# One OID per line, the format c2pa-rs reads.
TRUST_CONFIG = "\n".join((
    "1.3.6.1.5.5.7.3.4",       # emailProtection
    "1.3.6.1.5.5.7.3.36",      # documentSigning
    "1.3.6.1.4.1.62558.2.1",   # C2PA claim signing
)) + "\n"

_VERIFY = {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True}

_lock = threading.Lock()
_builder_context: c2pa.Context | None = None


def builder_context() -> c2pa.Context:
    """The (shared, signer-less) context every Builder is made with."""
    global _builder_context
    with _lock:
        if _builder_context is None:
            _builder_context = c2pa.Context.from_dict({
                "builder": {"thumbnail": {"enabled": False}},
                "trust": {"trust_config": TRUST_CONFIG},
                "verify": dict(_VERIFY),
            })
        return _builder_context


def reader_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    """A context that trusts exactly ``trust_anchors_pem`` (PEM certificates), or nothing."""
    trust = {"trust_config": TRUST_CONFIG}
    if trust_anchors_pem:
        trust["user_anchors"] = trust_anchors_pem.decode("ascii")
    return c2pa.Context.from_dict({"trust": trust, "verify": dict(_VERIFY)})
