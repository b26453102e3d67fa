"""Detached C2PA signing: one ``.c2pa`` manifest store beside each asset.

EXR cannot carry an embedded manifest, so every credential is a sidecar
bound to the whole asset by ``c2pa.hash.data`` (the SHA-256 of every
byte, no exclusions). Any change to the asset, even one appended byte,
then fails validation with ``assertion.dataHash.mismatch``.

The same mechanism seals a package: the signature binds the exact bytes of
``tagmanifest-sha256.txt``, which lists the payload manifests, which list
every payload file. See docs/credentials.md for where the seal lives and
why it cannot be inside ``data/``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import c2pa

from archivist.credentials import manifest as mf
from archivist.credentials.context import builder_context, reader_context
from archivist.credentials.signer import Signer
from archivist.errors import InputError, PackageError, UnsafePathError
from archivist.package.bagfiles import parse_bag_info
from archivist.package.layout import BAG_INFO_TXT, BAGIT_TXT, WORK_DIR, Layout, tagmanifest_name
from archivist.package.locking import WriteLock
from archivist.package.safepath import read_inside

SEAL_FILE = Layout.PACKAGE_SEAL  # the c2pa-rs sidecar name of tagmanifest-sha256.txt


@dataclass(frozen=True)
class SignedManifest:
    """What was written, for the run record and the package manifests."""

    path: Path
    sha256: str          # of the .c2pa file
    size: int
    label: str           # the manifest's urn:c2pa: label
    asset_sha256: str    # the bytes the signature binds
    asset_format: str
    algorithm: str
    timestamped: bool

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "size": self.size, "label": self.label,
                "asset_sha256": self.asset_sha256, "asset_format": self.asset_format,
                "algorithm": self.algorithm, "timestamped": self.timestamped}


class _Discard(io.RawIOBase):
    """Where the SDK copies the asset to; a detached manifest needs no copy."""

    def __init__(self):
        self.pos = self.size = 0

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return True

    def write(self, b):
        self.pos += len(b)
        self.size = max(self.size, self.pos)
        return len(b)

    def seek(self, offset, whence=0):
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def tell(self):
        return self.pos

    def readinto(self, b):
        return 0


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _explain(signer: Signer, exc: Exception) -> InputError:
    msg = str(exc)
    if signer.callback_error:
        err = signer.callback_error[-1]
        return InputError("SIGN-CALLBACK", f"the signing callback failed: {type(err).__name__}: {err}")
    low = msg.lower()
    if signer.tsa_url and any(w in low for w in ("http", "timestamp", "tsa", "time stamp")):
        return InputError("SIGN-TSA", f"the timestamp authority {signer.tsa_url} could not timestamp the"
                          f" signature ({msg})", hint="check the URL and the network; without --tsa-url the"
                          " credentials are signed untimestamped and expire with the certificate")
    if "notsupported" in low.replace(" ", "") or "unsupported" in low:
        return InputError("CREDENTIAL-FORMAT", f"the C2PA SDK cannot sign this format: {msg}")
    return InputError("SIGN-FAILED", f"signing failed: {msg}")


def sign_stream(signer: Signer, stream, definition: dict, asset_format: str, asset_sha256: str) -> tuple[bytes, dict]:
    """Sign the asset read from ``stream``; return (manifest store bytes, definition used)."""
    definition = mf.with_identity(definition, asset_sha256, signer.certificate.sha256)
    try:
        builder = c2pa.Builder(definition, context=builder_context())
    except c2pa.C2paError as exc:
        raise InputError("CREDENTIAL-DEFINITION", f"the C2PA SDK rejected the manifest definition: {exc}") from None
    try:
        builder.set_no_embed()
        signer.callback_error.clear()
        data = builder.sign(signer.native, asset_format, stream, _Discard())
    except c2pa.C2paError as exc:
        raise _explain(signer, exc) from None
    finally:
        builder.close()
    # The hash.data assertion holds the raw digest: make sure the SDK bound
    # the bytes we hashed (the asset did not change under us).
    if bytes.fromhex(asset_sha256) not in data:
        raise InputError("SIGN-BINDING", "the signed data hash is not the asset's SHA-256; the asset changed"
                         " while it was being signed", hint="sign again once nothing else writes the file")
    return data, definition


MAX_TAG_BYTES = 1 << 20  # a tag manifest lists four tag files; bag-info.txt is a few lines


def write_new(path: Path, data: bytes, *, overwrite: bool = False, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``path`` atomically; never replace a file unless asked.

    ``tmp_dir`` (on the same file system) holds the temporary file instead of ``path``'s folder.
    """
    path = Path(path)
    tmp = (Path(tmp_dir) if tmp_dir is not None else path.parent) / f".{path.name}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if something is there already
    except FileExistsError:
        raise InputError("CREDENTIAL-EXISTS", f"{path} already exists") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def sign_asset(signer: Signer, asset_path: Path, definition: dict, *, asset_format: str, out_path: Path,
               asset_sha256: str | None = None, overwrite: bool = False) -> SignedManifest:
    """Sign ``asset_path`` with a detached manifest written to ``out_path``."""
    asset_path = Path(asset_path)
    if not asset_path.is_file():
        raise InputError("CREDENTIAL-MISSING", f"{asset_path} does not exist or is not a file")
    asset_sha256 = asset_sha256 or sha256_file(asset_path)
    with open(asset_path, "rb") as f:
        data, final = sign_stream(signer, f, definition, asset_format, asset_sha256)
    write_new(out_path, data, overwrite=overwrite)
    return SignedManifest(Path(out_path), hashlib.sha256(data).hexdigest(), len(data), final["label"],
                          asset_sha256, asset_format, signer.algorithm, signer.timestamped)


def _ingredient_spec(value, what: str) -> dict:
    if isinstance(value, (tuple, list)):
        if len(value) != 3:
            raise InputError("CREDENTIAL-INGREDIENT", f"{what} must be (path, sha256, title)")
        value = {"path": value[0], "sha256": value[1], "title": value[2]}
    if not isinstance(value, dict):
        raise InputError("CREDENTIAL-INGREDIENT", f"{what} must be a dict or (path, sha256, title)")
    spec = dict(value)
    spec["path"] = str(spec["path"]) if spec.get("path") is not None else None
    spec.setdefault("format", mf.mime_type(spec.get("path") or spec.get("title") or ""))
    return spec


def sign_frame(signer: Signer, asset_path: Path, *, source_frame, ingredients: list[dict], digital_source_type: str,
               software_agent: dict | None, parameters: dict, out_manifest_path: Path,
               asset_format: str | None = None, asset_sha256: str | None = None, title: str | None = None,
               overwrite: bool = False, training_mining: dict | None = None) -> SignedManifest:
    """Sign one output frame with a detached manifest (``<frame>.c2pa``).

    ``source_frame`` is ``(package path, sha256, title)`` (or a dict with
    those keys and optionally ``format``); ``ingredients`` are dicts with
    ``title, format, sha256, path`` and ``relationship`` (``inputTo``).
    ``digital_source_type`` is an IPTC term or URI; retired terms are refused.
    """
    asset_path = Path(asset_path)
    definition = mf.frame_definition(
        title=title or asset_path.name, asset_format=asset_format or mf.mime_type(asset_path.name),
        source=_ingredient_spec(source_frame, "source_frame"),
        inputs=[_ingredient_spec(i, f"ingredient {n}") for n, i in enumerate(ingredients)],
        digital_source_type=digital_source_type, agent=software_agent, parameters=parameters,
        training_mining=training_mining)
    return sign_asset(signer, asset_path, definition, asset_format=definition["format"], out_path=out_manifest_path,
                      asset_sha256=asset_sha256, overwrite=overwrite)


# -- the package seal ---------------------------------------------------------
def seal_bytes(signer: Signer, *, tagmanifest_sha256: bytes, tagmanifest_sha512: bytes | None,
               package_identifier: str, payload_oxum: str | None = None) -> bytes:
    """The seal (a C2PA manifest store) over the exact bytes of ``tagmanifest-sha256.txt``.

    Works on bytes so that a commit can seal the tag manifest it is about to
    write, before anything is renamed into place.
    """
    return _seal(signer, tagmanifest_sha256, tagmanifest_sha512, package_identifier, payload_oxum)[0]


def _seal(signer, tagmanifest_sha256, tagmanifest_sha512, package_identifier, payload_oxum) -> tuple[bytes, dict]:
    facts = {}
    if tagmanifest_sha512 is not None:
        facts["tagmanifest-sha512.txt"] = {"sha512": hashlib.sha512(tagmanifest_sha512).hexdigest()}
    if payload_oxum:
        facts["payload_oxum"] = payload_oxum
    definition = mf.tag_manifest_definition(title=tagmanifest_name("sha256"), package_identifier=package_identifier,
                                            bag_facts=facts)
    return sign_stream(signer, io.BytesIO(tagmanifest_sha256), definition, mf.TEXT,
                       hashlib.sha256(tagmanifest_sha256).hexdigest())


def sign_tag_manifest(signer: Signer, package_root: Path, out_path: Path | None = None, *,
                      overwrite: bool = True) -> SignedManifest:
    """Seal a package: sign its ``tagmanifest-sha256.txt``.

    The seal goes to ``tagmanifest-sha256.c2pa`` in the package root (a tag
    file outside every manifest) unless ``out_path`` names a place outside
    the package. Inside ``data/`` it would change the manifests it signs.
    """
    root = Path(package_root)
    if not (root / BAGIT_TXT).is_file():
        raise PackageError("PACKAGE-NOT-A-BAG", f"{root} is not a package: it has no bagit.txt")
    seal = root / SEAL_FILE
    if os.path.islink(seal):
        raise UnsafePathError("PATH-006", f"{seal} is a symbolic link; archivist never writes through one")
    out = Path(out_path) if out_path is not None else seal
    real_out, real_root = Path(os.path.realpath(out)), Path(os.path.realpath(root))
    inside = real_out == real_root or real_root in real_out.parents
    if inside and real_out != Path(os.path.realpath(seal)):
        raise InputError("SIGN-SEAL-PLACE", f"the package seal can only be {SEAL_FILE} in the package root or a"
                         f" file outside the package, not {out}",
                         hint="inside data/ it would be listed in the manifests it signs")
    lock = WriteLock(root, "seal").acquire() if inside else None
    try:
        if (root / Layout.JOURNAL).exists() or (root / WORK_DIR / "staging").exists():
            raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {root} was interrupted",
                               hint=f"run 'archivist recover {root}' first")
        # Read through no link: a seal signs what is in the package, nothing outside it.
        tm256 = read_inside(root, tagmanifest_name("sha256"), MAX_TAG_BYTES)
        tm512 = read_inside(root, tagmanifest_name("sha512"), MAX_TAG_BYTES) \
            if os.path.lexists(root / tagmanifest_name("sha512")) else None
        info = dict(parse_bag_info(read_inside(root, BAG_INFO_TXT, MAX_TAG_BYTES).decode("utf-8", "replace"))[0])
        identifier = info.get("External-Identifier") or ""
        data, definition = _seal(signer, tm256, tm512, identifier, info.get("Payload-Oxum"))
        if lock is not None:
            # Staged under .archivist: a kill leaves no temporary file in the bag, only work recover removes.
            staging = root / Layout.STAGING
            staging.mkdir()
            try:
                write_new(out, data, overwrite=overwrite, tmp_dir=staging)
            finally:
                staging.rmdir()
        else:
            write_new(out, data, overwrite=overwrite)
    except FileNotFoundError as exc:
        raise PackageError("PACKAGE-NOT-ARCHIVIST", f"{root} lacks {Path(exc.filename).name}; only a complete"
                           " package can be sealed") from None
    finally:
        if lock is not None:
            lock.release()
    return SignedManifest(out, hashlib.sha256(data).hexdigest(), len(data), definition["label"],
                          hashlib.sha256(tm256).hexdigest(), mf.TEXT, signer.algorithm, signer.timestamped)


def preflight(signer: Signer) -> dict:
    """Sign a few bytes in memory and read them back, before any real output.

    Catches what only signing reveals (an unreachable TSA, a callback or key
    that does not match the certificate) so that a run fails up front.
    """
    probe = b"archivist signing preflight\n"
    definition = mf.tag_manifest_definition(title="preflight.txt", package_identifier="urn:archivist:preflight",
                                            bag_facts={})
    data, _ = sign_stream(signer, io.BytesIO(probe), definition, mf.TEXT, hashlib.sha256(probe).hexdigest())
    try:
        with c2pa.Reader(mf.TEXT, io.BytesIO(probe), data, context=reader_context(None)) as reader:
            results = reader.get_validation_results() or {}
            info = (json.loads(reader.json()).get("manifests") or {})
    except c2pa.C2paError as exc:
        raise InputError("SIGN-FAILED", f"a test signature cannot be read back: {exc}") from None
    failures = [f.get("code") for f in (results.get("activeManifest") or {}).get("failure") or []
                if f.get("code") != "signingCredential.untrusted"]
    if failures:
        raise InputError("SIGN-FAILED", f"a test signature does not validate: {', '.join(failures)}",
                         hint="the key (or callback) does not match the certificate, or the certificate is unusable")
    signed_time = next((m.get("signature_info", {}).get("time") for m in info.values()), None)
    if signer.timestamped and not signed_time:
        raise InputError("SIGN-TSA", f"the timestamp authority {signer.tsa_url} returned no timestamp")
    return {"ok": True, "timestamp": signed_time, "size": len(data)}
