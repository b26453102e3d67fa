"""Content Credentials: each frame's C2PA manifest, its ingredients, and the package seal.

Validation is ``archivist.credentials.validate_manifest`` (the C2PA SDK
plus archivist's binding checks) on bytes already read for fixity, with
the trust anchors given to ``verify``; nothing is fetched from the network.
An invalid credential is an error (C2PA-001), an untrusted signer a
warning (C2PA-002, once per signer and directory). The SDK does not hash
ingredients, so their SHA-256 are compared here with the files as fixity
found them (C2PA-003). What a credential says is compared with its run
record as well (OUT-011): everything but the ingredients' hashes, which
C2PA-003 compares with the files themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from archivist.anchors import check_trust_anchors
from archivist.errors import ArchivistError, InputError
from archivist.package.layout import BAG_INFO_TXT, Layout, tagmanifest_name
from archivist.verify.findings import Findings, Outcome, copy_note, differences, flatten, listing, short
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report
from archivist.verify.sidecars import Expected, RunFacts

if TYPE_CHECKING:
    from archivist.credentials.validate import ValidationResult
    from archivist.verify.outputs import Plan

ASSET_SUFFIXES = (".exr", ".png", ".tif", ".tiff", ".dpx")
_INGREDIENT_PROBLEMS = {
    "archivist.ingredient.missing": "is not in the package",
    "archivist.ingredient.noHash": "carries no SHA-256",
    "archivist.ingredient.noPath": "carries no package path",
    "archivist.ingredient.badPath": "has a path that leaves the package",
}


def check_anchors(pem: bytes | None) -> bytes | None:
    """Refuse trust anchors that are not PEM certificates (a usage error, before anything is checked)."""
    return check_trust_anchors(pem, "VERIFY-TRUST-ANCHOR")


def load_anchors(paths: Iterable[Path | str]) -> bytes | None:
    """The PEM certificates of every file in ``paths``, concatenated."""
    chunks = []
    for p in paths:
        try:
            data = Path(p).read_bytes()
        except OSError as exc:
            raise InputError("VERIFY-TRUST-ANCHOR", f"cannot read the trust anchor {p}: {exc.strerror}") from None
        try:
            check_anchors(data)
        except InputError:
            raise InputError("VERIFY-TRUST-ANCHOR", f"{p} holds no PEM certificate",
                             hint="give CA certificates as PEM, e.g. ca.pem from 'archivist keys init'") from None
        chunks.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(chunks) or None


def signer_of(result: ValidationResult) -> str:
    sig = result.signature or {}
    who = sig.get("common_name") or "an unnamed signer"
    return f"{who!r} ({sig['issuer']})" if sig.get("issuer") else repr(who)


def _failures(result: ValidationResult, explain: bool = True) -> str:
    codes = ", ".join(dict.fromkeys(result.failure_codes)) or f"SDK state {result.sdk_state}"
    first = next((f.get("explanation") for f in result.failures if f.get("explanation")), "") if explain else ""
    return f"{codes}" + (f" ({first})" if first else "")


def validate(root: Path, asset: str, credential: str, anchors: bytes | None, asset_bytes: bytes | None = None,
             manifest_bytes: bytes | None = None) -> ValidationResult:
    from archivist.credentials import INVALID, ValidationResult, validate_manifest
    from archivist.credentials.manifest import mime_type

    try:
        fmt = mime_type(asset)
    except InputError:
        fmt = "application/octet-stream"
    try:
        return validate_manifest(root / asset, root / credential, trust_anchors_pem=anchors, asset_format=fmt,
                                 asset_bytes=asset_bytes, manifest_bytes=manifest_bytes)
    except (ArchivistError, OSError, ValueError, RuntimeError) as exc:  # a hostile manifest must not stop verify
        return ValidationResult(INVALID, None, failures=[{"code": "archivist.manifest.unreadable",
                                                          "explanation": f"{type(exc).__name__}: {exc}"}])


def judge(result: ValidationResult, asset: str, credential: str, plan: Plan, found: Findings,
          outcome: Outcome) -> None:
    """C2PA-001 for an invalid credential; note an untrusted signer for one warning per signer."""
    outcome.credential = result.status
    if result.status == "invalid":
        signed = (result.data_hash or {}).get("hex")
        other = plan.output_sha256.get(signed) if signed else None
        if other and other != asset:
            note = f"; its signed data hash is that of {other}: a credential copied from another frame"
        elif "assertion.dataHash.mismatch" in result.failure_codes:
            note = f"; {asset} changed after it was signed"
        else:
            note = ""
        found.add("C2PA-001", credential, f"does not validate against {asset}: {_failures(result)}{note}")
    elif result.status == "untrusted":
        outcome.untrusted = (str(PurePosixPath(credential).parent), signer_of(result))


def ingredients(outcomes: list[Outcome], actual: dict[str, str], report: Report) -> None:
    """C2PA-003: every ingredient's signed SHA-256 against its file as it was read (by fixity or a frame).

    Reported once per ingredient file and difference: a replaced model is one finding, not one per frame.
    """
    from archivist.credentials import check_ingredients as recompute

    digests = dict(actual)
    for o in outcomes:
        digests.update(o.sha256)
    groups: dict[tuple, list[str]] = defaultdict(list)
    for o in outcomes:
        for credential, signed in o.ingredients:
            only_ingredients: Any = SimpleNamespace(ingredients=signed)  # all that check_ingredients reads
            for c in recompute(only_ingredients, actual=digests):
                if not c.ok:
                    groups[(c.path, c.code, c.recorded, c.actual, c.title, c.relationship)].append(credential)
    for (path, code, recorded, now, title, relationship), creds in sorted(groups.items(), key=lambda kv: (
            kv[0][0] or "", kv[0][1] or "", kv[0][2] or "", kv[0][3] or "")):
        who = creds[0] if len(creds) == 1 else f"{len(creds)} credentials ({creds[0]} and {len(creds) - 1} more)"
        what = f"ingredient {title!r} ({relationship})"
        if code == "archivist.ingredient.hashMismatch":
            report.add("C2PA-003", path, f"{who} signed this {what} with SHA-256 {recorded[:16]}..., the file's is "
                                         f"{now[:16]}...: it changed after signing")
        else:
            report.add("C2PA-003", path or creds[0], f"the {what} of {who} {_INGREDIENT_PROBLEMS.get(code, code)}")


def check_claim(result: ValidationResult, credential: str, exp: Expected, facts: RunFacts, plan: Plan,
                found: Findings) -> None:
    """OUT-011: what the credential says against the run record (ingredient hashes are C2PA-003's)."""
    def by_relationship(pairs: Iterable[tuple[object, object]]) -> dict:
        out: defaultdict[str, list] = defaultdict(list)
        for relationship, path in pairs:
            out[str(relationship)].append(path)
        return {k: sorted(v, key=str) for k, v in out.items()}

    said = {
        "digitalSourceType": result.digital_source_type,
        "softwareAgent": result.software_agent,
        "parameters": result.parameters,
        "title": result.title,
        "ingredients": by_relationship((i.get("relationship"), i.get("path")) for i in result.ingredients),
    }
    wanted = {
        "digitalSourceType": facts.digital_source_type,
        "softwareAgent": facts.agent,
        "parameters": {**facts.c2pa_parameters, "frame": exp.number},
        "title": PurePosixPath(exp.output).name,
        "ingredients": by_relationship([("parentOf", exp.source["path"]), *facts.inputs]),
    }
    diffs = differences(flatten(said), flatten(wanted))
    serial = (result.signature or {}).get("cert_serial_number")
    if facts.signer_serial is not None and serial is not None:
        try:
            if int(serial) != facts.signer_serial:
                diffs.append(f"signed by certificate serial {int(serial):x}, the run record names "
                             f"{facts.signer_serial:x} ({signer_of(result)} signed it)")
        except (TypeError, ValueError):
            diffs.append(f"signing certificate serial {short(serial)} is not a number")
    if diffs:
        params = result.parameters or {}
        origin = plan.other_frame(params.get("run"), params.get("frame"), exp.output)
        found.add("OUT-011", credential, listing(diffs) + copy_note(origin))


def asset_of(credential: str, tree: Tree) -> str | None:
    """The file a credential no run names signs: the one beside it with its name (c2pa-rs convention)."""
    stem = str(PurePosixPath(credential).with_suffix(""))
    found = [stem + s for s in ASSET_SUFFIXES if stem + s in tree.files]
    return found[0] if len(found) == 1 else None


def check_orphans(root: Path, tree: Tree, plan: Plan, anchors: bytes | None) -> list[Outcome]:
    """Credentials no run record names: validated against the asset beside them, from the disk."""
    outcomes = []
    for credential in plan.orphans:
        outcome = Outcome()
        asset = asset_of(credential, tree)
        if asset is None:
            outcome.checks.add("C2PA-001", credential, "signs no file of the package: there is no asset "
                                                       "beside it and no run record names it")
        else:
            result = validate(root, asset, credential, anchors)
            judge(result, asset, credential, plan, outcome.checks, outcome)
            if result.label is not None:
                outcome.ingredients.append((credential, result.ingredients))
        outcomes.append(outcome)
    return outcomes


def untrusted(outcomes: list[Outcome], anchors: bytes | None, report: Report) -> None:
    """One C2PA-002 warning per directory and signer, with the number of credentials."""
    groups: dict[tuple, int] = defaultdict(int)
    for o in outcomes:
        if o.untrusted:
            groups[o.untrusted] += 1
    why = "no trust anchor given with --trust-anchor vouches for it" if anchors else \
        "no trust anchors were given (--trust-anchor)"
    for (where, signer), n in sorted(groups.items()):
        report.add("C2PA-002", where, f"{n} credential{'s' if n != 1 else ''} signed by {signer}, but {why}")


# -- the package seal -------------------------------------------------------------------------------
def check_seal(root: Path, tree: Tree, blobs: dict[str, bytes], anchors: bytes | None, report: Report) -> None:
    seal = Layout.PACKAGE_SEAL
    if seal not in tree.files:
        return
    from archivist.credentials import validate_seal

    try:
        data = read_small(root, seal)
    except OSError as exc:
        report.add("BAG-021", seal, f"cannot be read: {exc}")
        return
    names = (tagmanifest_name("sha256"), tagmanifest_name("sha512"), BAG_INFO_TXT)
    if names[0] not in tree.files:
        report.add("C2PA-005", seal, f"there is no {names[0]} for the seal to sign")
        return

    def tag_file(name: str) -> bytes:
        # bag-info.txt was read by the structure checks; manifests are streamed, so read here.
        if name in blobs:
            return blobs[name]
        try:
            return read_small(root, name) if name in tree.files else b""
        except OSError:
            return b""  # an absent or unreadable file is empty, so it cannot match

    files = {seal: data, **{n: tag_file(n) for n in names}}
    result = validate_seal(root, trust_anchors_pem=anchors, files=files)
    codes = result.failure_codes
    if result.status == "invalid":
        why = ""
        if "assertion.dataHash.mismatch" in codes or "archivist.binding.mismatch" in codes:
            why = f": {names[0]} is not the one that was sealed (the package changed after it was sealed)"
        elif "archivist.seal.otherPackage" in codes:
            why = f": it seals package {short((result.parameters or {}).get('package'))}, not this one"
        report.add("C2PA-005", seal, f"does not validate: {_failures(result, explain=not why)}{why}")
    elif result.status == "untrusted":
        why = "no trust anchor given with --trust-anchor vouches for it" if anchors else \
            "no trust anchors were given (--trust-anchor)"
        report.add("C2PA-006", seal, f"signed by {signer_of(result)}, but {why}")
