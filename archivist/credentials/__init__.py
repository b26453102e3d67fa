"""C2PA Content Credentials for outputs and packages, and the keys that sign them.

* ``keys``: a local test identity (``archivist keys init``) and the checks
  a signing certificate must pass;
* ``signer``: signers from PEM bytes, files, the environment or a callback;
* ``manifest``: what a credential says (pure functions);
* ``sign``: detached ``.c2pa`` manifests for frames, and the package seal;
* ``validate``: validation with trust anchors, and ingredient re-hashing.

Signing keys are only ever read; nothing here writes a key into a package.
"""

from archivist.credentials.keys import CertificateInfo, check_chain, enclosing_package, init_test_identity
from archivist.credentials.manifest import EXR, mime_type
from archivist.credentials.sign import (
    SEAL_FILE,
    SignedManifest,
    preflight,
    seal_bytes,
    sign_asset,
    sign_frame,
    sign_tag_manifest,
)
from archivist.credentials.signer import (
    Signer,
    load_signer,
    resolve_signer,
    signer_from_callback,
    signer_from_env,
    signer_from_files,
)
from archivist.credentials.validate import (
    INVALID,
    UNTRUSTED,
    VALID,
    IngredientCheck,
    ValidationResult,
    check_ingredients,
    validate_manifest,
    validate_seal,
)
from archivist.package.layout import credential_name as sidecar_name

__all__ = [
    "CertificateInfo", "check_chain", "enclosing_package", "init_test_identity",
    "EXR", "mime_type", "sidecar_name",
    "SEAL_FILE", "SignedManifest", "preflight", "seal_bytes", "sign_asset", "sign_frame", "sign_tag_manifest",
    "Signer", "load_signer", "resolve_signer", "signer_from_callback", "signer_from_env", "signer_from_files",
    "INVALID", "UNTRUSTED", "VALID", "IngredientCheck", "ValidationResult", "check_ingredients",
    "validate_manifest", "validate_seal",
]
