"""Reading and judging detached C2PA manifests.

``validate_manifest`` runs the SDK's validation (signature, certificate
trust, data-hash binding) and adds archivist's own checks: the data hash
must cover the whole file with no exclusions and equal the SHA-256 that
archivist computes itself. The outcome is one of

* ``valid``: signature, binding and trust all hold;
* ``untrusted``: everything holds, but no trust anchor vouches for the
  signer (a warning: common for test identities or unknown CAs);
* ``invalid``: anything else, e.g. ``assertion.dataHash.mismatch`` for a
  changed asset or ``signingCredential.expired`` for an untimestamped
  credential whose certificate has expired (a failure).

Ingredient hashes are not checked by the SDK; ``check_ingredients``
recomputes them against the files (or against hashes the caller already
trusts, such as the package's verified payload manifest).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import c2pa

from archivist.anchors import check_trust_anchors
from archivist.credentials import manifest as mf
from archivist.credentials.context import reader_context
from archivist.credentials.sign import SEAL_FILE, sha256_file
from archivist.errors import ArchivistError, InputError
from archivist.package.bagfiles import parse_bag_info
from archivist.package.layout import BAG_INFO_TXT, Layout, tagmanifest_name

VALID, UNTRUSTED, INVALID = "valid", "untrusted", "invalid"
UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})


@dataclass
class ValidationResult:
    status: str
    sdk_state: str | None
    failures: list[dict] = field(default_factory=list)       # {"code", "explanation"}, SDK's and archivist's
    informational: list[dict] = field(default_factory=list)
    successes: list[str] = field(default_factory=list)
    label: str | None = None
    title: str | None = None
    instance_id: str | None = None
    claim_generator: list[dict] = field(default_factory=list)
    signature: dict = field(default_factory=dict)
    timestamped: bool = False          # an RFC 3161 timestamp is present
    timestamp_trusted: bool = False    # ... and its TSA chains to a trust anchor
    actions: list[dict] = field(default_factory=list)
    digital_source_type: str | None = None
    software_agent: dict | None = None
    parameters: dict | None = None
    ingredients: list[dict] = field(default_factory=list)  # {"title", "format", "relationship", "sha256", "path"}
    data_hash: dict | None = None                           # {"alg", "hex", "exclusions"}
    asset_sha256: str | None = None
    training_mining: list[dict] = field(default_factory=list)  # cawg. / c2pa.training-mining assertions, as read

    @property
    def ok(self) -> bool:
        """Not invalid: an untrusted signer is a warning, not a failure."""
        return self.status != INVALID

    @property
    def failure_codes(self) -> list[str]:
        return [f["code"] for f in self.failures]

    def to_dict(self) -> dict:
        return asdict(self)


def _entries(items) -> list[dict]:
    return [{"code": i.get("code"), "explanation": i.get("explanation", "")} for i in items or []]


def _status(sdk_state: str | None, failures: list[dict]) -> str:
    codes = {f["code"] for f in failures}
    if codes - UNTRUSTED_CODES:
        return INVALID
    if codes & UNTRUSTED_CODES:
        return UNTRUSTED
    # Trusted is the SDK's word for a valid, anchored signature.
    return VALID if sdk_state == "Trusted" else INVALID


def _hash_file(path: Path, alg: str) -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _asset_digest(path: Path, data: bytes | None, alg: str = "sha256") -> str:
    if data is not None:
        return hashlib.new(alg, data).hexdigest()
    return sha256_file(path) if alg == "sha256" else _hash_file(path, alg)


def validate_manifest(asset_path: Path, manifest_path: Path, *, trust_anchors_pem: bytes | None = None,
                      asset_format: str | None = None, asset_bytes: bytes | None = None,
                      manifest_bytes: bytes | None = None) -> ValidationResult:
    """Validate the detached manifest ``manifest_path`` against ``asset_path``.

    A damaged manifest file is reported as ``invalid`` (code
    ``archivist.manifest.unreadable``), not raised: it is a finding.
    ``asset_bytes`` and ``manifest_bytes`` are the files' contents when the
    caller has already read them (``verify`` reads each file once); the
    paths then only name the files.
    """
    asset_path, manifest_path = Path(asset_path), Path(manifest_path)
    for p, what, data in ((asset_path, "asset", asset_bytes), (manifest_path, "manifest", manifest_bytes)):
        if data is None and not p.is_file():
            raise InputError("CREDENTIAL-MISSING", f"the {what} {p} does not exist or is not a file")
    anchors = check_trust_anchors(trust_anchors_pem, "CREDENTIAL-ANCHORS")
    fmt = asset_format or mf.mime_type(asset_path.name)
    store = manifest_bytes if manifest_bytes is not None else manifest_path.read_bytes()
    try:
        with (io.BytesIO(asset_bytes) if asset_bytes is not None else open(asset_path, "rb")) as f, \
                c2pa.Reader(fmt, f, store, context=reader_context(anchors)) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            report = json.loads(reader.json())
            detailed = json.loads(reader.detailed_json())
    except c2pa.C2paError as exc:
        return ValidationResult(INVALID, None, failures=[{
            "code": "archivist.manifest.unreadable", "explanation": f"the C2PA SDK cannot read the manifest: {exc}"}],
            asset_sha256=_asset_digest(asset_path, asset_bytes))

    active = results.get("activeManifest") or {}
    failures = _entries(active.get("failure"))
    informational = _entries(active.get("informational"))
    for delta in results.get("ingredientDeltas") or []:
        for item in (delta.get("validationDeltas") or {}).get("failure") or []:
            failures.append({"code": item.get("code"), "explanation": item.get("explanation", "")})
    label = report.get("active_manifest")
    manifest = (report.get("manifests") or {}).get(label) or {}
    result = ValidationResult(
        status=INVALID, sdk_state=state, failures=failures, informational=informational,
        successes=[s.get("code") for s in active.get("success") or []], label=label,
        title=manifest.get("title"), instance_id=manifest.get("instance_id"),
        claim_generator=manifest.get("claim_generator_info") or [],
        signature=manifest.get("signature_info") or {},
    )
    result.timestamped = bool(result.signature.get("time"))
    result.timestamp_trusted = result.timestamped and not any(
        i["code"] == "timeStamp.untrusted" for i in informational + failures)
    _read_assertions(result, manifest)
    store_detail = ((detailed.get("manifests") or {}).get(label) or {}).get("assertion_store") or {}
    _check_binding(result, asset_path, store_detail, asset_bytes)
    result.status = _status(state, result.failures)
    return result


def embedded_training_mining(asset_path: Path) -> list[dict]:
    """The training-mining assertions of the Content Credentials embedded in a file (none when it carries none).

    Read from the active manifest, signed by anyone: a restriction binds
    whoever states it, so its signer need not be trusted for it to be
    respected. EXR has no embedded manifest, so it is not opened.
    """
    fmt = mf.MIME_TYPES.get(Path(asset_path).suffix.lower())
    if fmt is None or fmt == mf.EXR:
        return []
    try:
        with open(asset_path, "rb") as f, c2pa.Reader(fmt, f, context=reader_context(None)) as reader:
            report = json.loads(reader.json())
    except (c2pa.C2paError, OSError, ValueError):
        return []  # no manifest (or none the SDK can read): nothing is said
    manifest = (report.get("manifests") or {}).get(report.get("active_manifest")) or {}
    result = ValidationResult(INVALID, None)
    _read_assertions(result, manifest)
    return result.training_mining


def _read_assertions(result: ValidationResult, manifest: dict) -> None:
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            result.actions.extend((assertion.get("data") or {}).get("actions") or [])
        elif assertion.get("label") in ("cawg.training-mining", "c2pa.training-mining"):
            result.training_mining.append({"label": assertion["label"], "data": assertion.get("data")})
    for action in result.actions:
        if action.get("action") in ("c2pa.edited", "c2pa.created") and result.digital_source_type is None:
            result.digital_source_type = action.get("digitalSourceType")
            result.software_agent = action.get("softwareAgent")
            params = dict(action.get("parameters") or {})
            for reserved in ("ingredients", "ingredientIds"):
                params.pop(reserved, None)
            result.parameters = params
    for ing in manifest.get("ingredients") or []:
        meta = ing.get("metadata") or {}
        result.ingredients.append({
            "title": ing.get("title"), "format": ing.get("format"), "relationship": ing.get("relationship"),
            "sha256": meta.get("sha256"), "path": meta.get("path"),
        })


def _check_binding(result: ValidationResult, asset_path: Path, store: dict, asset_bytes: bytes | None = None) -> None:
    """The data hash must cover every byte and match archivist's own digest."""
    dh = store.get("c2pa.hash.data")
    result.asset_sha256 = _asset_digest(asset_path, asset_bytes)
    if not isinstance(dh, dict) or "hash" not in dh:
        result.failures.append({"code": "archivist.binding.missing",
                                "explanation": "the manifest has no c2pa.hash.data binding to the file"})
        return
    alg = dh.get("alg") or "sha256"
    try:
        recorded = base64.b64decode(dh["hash"]).hex()
        actual = result.asset_sha256 if alg == "sha256" else _asset_digest(asset_path, asset_bytes, alg)
    except (ValueError, TypeError):
        result.failures.append({"code": "archivist.binding.unreadable", "explanation": "the data hash is malformed"})
        return
    # c2pa-rs writes an empty exclusion ({start: 0, length: 0}) for TIFF; only real ranges count.
    excluded = [e for e in dh.get("exclusions") or [] if not isinstance(e, dict) or e.get("length")]
    result.data_hash = {"alg": alg, "hex": recorded, "exclusions": excluded}
    if excluded:
        result.failures.append({"code": "archivist.binding.partial",
                                "explanation": "the data hash excludes byte ranges; archivist binds whole files"})
    if recorded != actual and "assertion.dataHash.mismatch" not in result.failure_codes:
        result.failures.append({"code": "archivist.binding.mismatch",
                                "explanation": f"the signed {alg} is {recorded}, the file's is {actual}"})


# -- ingredients ----------------------------------------------------------------
@dataclass(frozen=True)
class IngredientCheck:
    title: str | None
    path: str | None
    relationship: str | None
    recorded: str | None
    actual: str | None
    code: str | None  # None when the hashes match

    @property
    def ok(self) -> bool:
        return self.code is None


def check_ingredients(result: ValidationResult, *, root: Path | None = None,
                      actual: Mapping[str, str] | None = None) -> list[IngredientCheck]:
    """Recompute every ingredient's SHA-256 and compare it with the signed one.

    ``actual`` maps package paths to SHA-256 digests the caller already
    trusts (a verified payload manifest); other paths are hashed under
    ``root``, through ``Layout`` so a path in a manifest can never point
    outside the package.
    """
    layout = Layout(Path(root)) if root is not None else None
    checks = []
    for ing in result.ingredients:
        path, recorded = ing.get("path"), ing.get("sha256")

        def done(code, digest=None):
            checks.append(IngredientCheck(ing.get("title"), path, ing.get("relationship"), recorded, digest, code))  # noqa: B023 (called within the iteration)

        if not recorded:
            done("archivist.ingredient.noHash")
            continue
        if not path:
            done("archivist.ingredient.noPath")
            continue
        if actual is not None and path in actual:
            digest = actual[path]
        elif layout is not None:
            try:
                file = layout.path(path)
            except ArchivistError:
                done("archivist.ingredient.badPath")
                continue
            if not file.is_file():
                done("archivist.ingredient.missing")
                continue
            digest = sha256_file(file)
        else:
            done("archivist.ingredient.missing")
            continue
        done(None if digest == recorded else "archivist.ingredient.hashMismatch", digest)
    return checks


# -- the package seal -----------------------------------------------------------------
def validate_seal(package_root: Path, *, trust_anchors_pem: bytes | None = None,
                  seal_path: Path | None = None, files: Mapping[str, bytes] | None = None) -> ValidationResult:
    """Validate a package seal against the package's current tag manifests and bag-info.

    ``files`` holds the contents of tag files the caller has already read,
    by name (``tagmanifest-sha256.txt``, ``tagmanifest-sha512.txt``,
    ``bag-info.txt`` and, unless ``seal_path`` is given, the seal).
    """
    root = Path(package_root)
    files = files or {}
    seal = Path(seal_path) if seal_path is not None else root / SEAL_FILE
    result = validate_manifest(root / tagmanifest_name("sha256"), seal, trust_anchors_pem=trust_anchors_pem,
                               asset_format=mf.TEXT, asset_bytes=files.get(tagmanifest_name("sha256")),
                               manifest_bytes=files.get(SEAL_FILE) if seal_path is None else None)
    if result.failures and result.failure_codes == ["archivist.manifest.unreadable"]:
        return result
    params = result.parameters or {}
    info_bytes = files.get(BAG_INFO_TXT)
    info_text = info_bytes.decode("utf-8", "replace") if info_bytes is not None else (root / BAG_INFO_TXT).read_text("utf-8")
    info = dict(parse_bag_info(info_text)[0])
    if params.get("package") != info.get("External-Identifier"):
        result.failures.append({"code": "archivist.seal.otherPackage",
                                "explanation": f"the seal is for {params.get('package')!r}, the package is"
                                               f" {info.get('External-Identifier')!r}"})
    tm512 = root / tagmanifest_name("sha512")
    tm512_bytes = files.get(tagmanifest_name("sha512"))
    signed512 = (params.get("tagmanifest-sha512.txt") or {}).get("sha512")
    if signed512 is not None and (hashlib.sha512(tm512_bytes).hexdigest() if tm512_bytes is not None else
                                  _hash_file(tm512, "sha512") if tm512.is_file() else None) != signed512:
        result.failures.append({"code": "archivist.seal.tagmanifestMismatch",
                                "explanation": "tagmanifest-sha512.txt is not the one that was sealed"})
    result.status = _status(result.sdk_state, result.failures)
    return result
