"""A signed inference package, an attacker who knows BagIt, and one fixture per OUT and C2PA rule.

The package is made by the real pipeline (dataset, a few training steps,
ONNX export, ``archivist infer`` signing every frame with a test identity
from ``archivist keys``, and the package seal), once per test session.

The attacker (``cover_up``) changes files and then makes everything that
only hashes agree again: every digest of a changed file is replaced in
every record and sidecar that mentions it (which changes those files, so
it repeats until nothing changes), sizes are corrected, the payload
manifests, ``Payload-Oxum`` and tag manifests are recomputed and the
package seal is removed. Fixity then passes, so whatever ``verify`` still
finds is found by its provenance checks. The attacker has no signing key
unless a fixture gives it one (``resign``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np

from archivist import credentials
from archivist.imaging import oiio
from archivist.package.layout import Layout
from support.verify import ALGS, edit_bag_info, manifest, refresh, refresh_tagmanifests, set_info, write_manifest

RUN = "infer-01"
RUN_RECORD = Layout.record("inference", RUN)
FRAMES = (1001, 1002, 1003, 1004)
TEXT_SUFFIXES = (".json", ".txt", ".xmp")


# -- the signed package -----------------------------------------------------------------------
class Signed:
    """A package after a signed inference run and its seal, with the test identity that signed it."""

    def __init__(self, root: Path, keys: Path):
        self.root, self.keys = root, keys
        self.ca = (keys / "ca.pem").read_bytes()

    def signer(self):
        return credentials.signer_from_files(self.keys / "chain.pem", self.keys / "key.pem")


_BUILT: dict = {}


def signed_package(tmp_path_factory) -> Signed:
    """Built once per test run (the real pipeline takes a while); copy it before changing it."""
    if "signed" not in _BUILT:
        from support.shared import built_once

        def build(work: Path) -> None:
            from archivist.inference import runner
            from support.infer import model_package_copy

            root = model_package_copy(tmp_path_factory, work / "pkg")
            credentials.init_test_identity(work / "keys")
            runner.infer(root, runner.InferOptions(sign=True, cert=work / "keys" / "chain.pem",
                                                   key=work / "keys" / "key.pem"))

        work, _ = built_once(tmp_path_factory, "shared-signed-package", build)
        _BUILT["signed"] = Signed(work / "pkg", work / "keys")
    return _BUILT["signed"]


def copy_signed(signed: Signed, dest: Path, *, seal: bool = False) -> Path:
    shutil.copytree(signed.root, dest, symlinks=True)
    if not seal:
        unseal(dest)
    return dest


def out(number: int, kind: str) -> str:
    """Package path of one output file of the run: kind is exr, json, txt, xmp or c2pa."""
    return Layout.output_file(RUN, f"print16_ML.{number:04d}.{kind}")


# -- small edits ---------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_json(root: Path, rel: str) -> dict:
    return json.loads((root / rel).read_text("utf-8"))


def write_json(root: Path, rel: str, value) -> None:
    (root / rel).write_bytes((json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def edit_json(root: Path, rel: str, fn) -> None:
    value = read_json(root, rel)
    fn(value)
    write_json(root, rel, value)


def flip(path: Path, at: int | None = None) -> None:
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    Path(path).write_bytes(bytes(data))


def unseal(root: Path) -> None:
    (root / Layout.PACKAGE_SEAL).unlink(missing_ok=True)


def frame_entry(rec: dict, number: int) -> dict:
    return next(f for f in rec["frames"] if f["number"] == number)


# -- the attacker who knows BagIt -------------------------------------------------------------------
def rehash_manifests(root: Path, paths) -> None:
    """Payload manifests agree with ``paths`` as they are now (dropped when gone), then bag-info and tag manifests."""
    for alg in ALGS:
        entries = manifest(root, alg)
        for rel in paths:
            if (root / rel).is_file():
                entries[rel] = hashlib.new(alg, (root / rel).read_bytes()).hexdigest()
            else:
                entries.pop(rel, None)
        write_manifest(root, alg, entries)
    refresh(root)
    unseal(root)


def _texts(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "data").rglob("*")
                  if p.is_file() and p.suffix in TEXT_SUFFIXES)


def _fix_sizes(value, sizes: dict[str, int]) -> bool:
    changed = False
    if isinstance(value, dict):
        if value.get("path") in sizes and isinstance(value.get("size"), int) and value["size"] != sizes[value["path"]]:
            value["size"] = sizes[value["path"]]
            changed = True
        for v in value.values():
            changed |= _fix_sizes(v, sizes)
    elif isinstance(value, list):
        for v in value:
            changed |= _fix_sizes(v, sizes)
    return changed


def cover_up(root: Path, changed) -> None:
    """Make every record, sidecar and manifest agree with the files in ``changed`` as they are now.

    Binary files (EXR, ONNX, ``.c2pa``) and the event log are left alone: rewriting them is beyond
    hashing (the EXR's header would need rewriting, a credential a signing key, the log its chain).
    """
    listed = manifest(root, "sha256")
    touched = set(changed)
    pending = {listed[p]: sha256(root / p) for p in changed if p in listed and (root / p).is_file()}
    sizes = {p: (root / p).stat().st_size for p in changed if (root / p).is_file()}
    while pending or sizes:
        step, new_sizes = {}, {}
        for rel in _texts(root):
            path = root / rel
            before = path.read_bytes()
            text = before.decode("utf-8")
            for old, new in pending.items():
                text = text.replace(old, new)
            if rel.endswith(".json") and sizes:
                try:
                    value = json.loads(text)
                except ValueError:
                    value = None
                if value is not None and _fix_sizes(value, sizes):
                    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            after = text.encode("utf-8")
            if after != before:
                path.write_bytes(after)
                touched.add(rel)
                step[hashlib.sha256(before).hexdigest()] = hashlib.sha256(after).hexdigest()
                if len(after) != len(before):
                    new_sizes[rel] = len(after)
        pending, sizes = step, new_sizes
    rehash_manifests(root, sorted(touched))


# -- forging frames (an attacker with the signing key) -----------------------------------------------
def rewrite_exr(root: Path, rel: str, *, header: dict | None = None, pixels=None) -> None:
    """Re-encode an output EXR with changed header keys or pixels, as archivist writes it."""
    from archivist.inference import provenance

    path = root / rel
    old = oiio.header(path)
    keys = {k: old[k] for k in provenance.HEADER_KEYS}
    keys.update(header or {})
    data = oiio.read(path) if pixels is None else pixels
    tmp = path.with_name(".forged.exr")
    oiio.write(tmp, np.asarray(data).astype(np.float16), pixel_type="half",
                  attributes=provenance.exr_attributes(keys), compression="piz")
    tmp.replace(path)


def resign(signed: Signed, root: Path, number: int, **overrides) -> None:
    """Sign frame ``number`` again from its run record (``overrides`` change what the credential says)."""
    from archivist.inference import runner

    rec = read_json(root, RUN_RECORD)
    entry = frame_entry(rec, number)
    spec = runner.spec_from_record(root, rec, root, sign=True)
    args = dict(
        source_frame={"path": entry["source"]["path"], "sha256": entry["source"]["sha256"],
                      "title": Path(entry["source"]["path"]).name},
        ingredients=[dict(i) for i in spec.ingredients], digital_source_type=rec["digital_source_type"]["uri"],
        software_agent={"name": "archivist", "version": rec["provenance"]["archivist_version"]},
        parameters={**spec.c2pa_parameters, "frame": number})
    args.update(overrides)
    with signed.signer() as signer:
        credentials.sign_frame(signer, root / out(number, "exr"), out_manifest_path=root / out(number, "c2pa"),
                               overwrite=True, **args)


def rerender_sidecars(root: Path, number: int, fn) -> list[str]:
    """Change frame ``number``'s JSON sidecar with ``fn`` and write the text and XMP sidecars from it."""
    from archivist.inference import provenance

    side = read_json(root, out(number, "json"))
    fn(side)
    (root / out(number, "json")).write_bytes(provenance.sidecar_bytes(side))
    (root / out(number, "txt")).write_text(provenance.text_sidecar(side), "utf-8")
    (root / out(number, "xmp")).write_bytes(provenance.xmp_sidecar(side))
    return [out(number, k) for k in ("json", "txt", "xmp")]


# -- one fixture per rule ---------------------------------------------------------------------------
# Each returns (package root, verify keyword arguments) and raises exactly its rule.

def _anchored(bags, **kw):
    signed = bags.signed()
    return copy_signed(signed, bags._dest("signed"), **kw), {"trust_anchors_pem": signed.ca}


def out_001_run_from_another_package(bags):
    root, kw = _anchored(bags)
    ident = "urn:uuid:00000000-0000-4000-8000-000000000001"
    edit_json(root, Layout.PACKAGE_RECORD, lambda r: r.update(identifier=ident))
    edit_bag_info(root, set_info("External-Identifier", ident))
    cover_up(root, [Layout.PACKAGE_RECORD])
    return root, kw


def out_002_source_frame_not_in_element(bags):
    root, kw = _anchored(bags)
    rel = Layout.element_record("print16")
    edit_json(root, rel, lambda r: r.update(frames=[f for f in r["frames"] if f["number"] != 1002]))
    cover_up(root, [rel])
    return root, kw


def out_003_model_card_disagrees(bags):
    root, kw = _anchored(bags)
    rel = read_json(root, RUN_RECORD)["model"]["card"]["path"]
    edit_json(root, rel, lambda r: r.update(id="chroma-99-s9"))
    cover_up(root, [rel])
    return root, kw


def out_004_dataset_lineage_broken(bags):
    root, kw = _anchored(bags)
    rel = read_json(root, RUN_RECORD)["model"]["card"]["path"]
    edit_json(root, rel, lambda r: r["dataset"].update(sha256="0" * 64))
    cover_up(root, [rel])
    return root, kw


def out_005_complete_run_lacks_frames(bags):
    root, kw = _anchored(bags)
    gone = [out(1004, k) for k in ("exr", "json", "txt", "xmp", "c2pa")]
    for rel in gone:
        (root / rel).unlink()
    edit_json(root, RUN_RECORD, lambda r: r.update(frames=[f for f in r["frames"] if f["number"] != 1004]))
    cover_up(root, [RUN_RECORD, *gone])
    return root, kw


def out_006_run_not_finished(bags):
    root, kw = _anchored(bags)

    def fn(rec):
        rec["status"] = "running"
        rec.pop("completed", None)
    edit_json(root, RUN_RECORD, fn)
    cover_up(root, [RUN_RECORD])
    return root, kw


def out_007_exr_header_disagrees(bags):
    root, kw = _anchored(bags)
    rewrite_exr(root, out(1002, "exr"), header={"ReferenceSource": "VHS 1998"})
    resign(bags.signed(), root, 1002)  # the forger holds the key: the credential is valid
    cover_up(root, [out(1002, "exr"), out(1002, "c2pa")])
    return root, kw


def out_008_json_sidecar_disagrees(bags):
    root, kw = _anchored(bags)
    edit_json(root, out(1002, "json"), lambda s: s["backend"].update(version="0.0.1"))
    cover_up(root, [out(1002, "json")])
    return root, kw


def out_009_text_sidecar_disagrees(bags):
    root, kw = _anchored(bags)
    path = root / out(1002, "txt")
    path.write_text(re.sub(r"^(Reference:\s+).*$", r"\g<1>VHS 1998", path.read_text(), flags=re.M))
    cover_up(root, [out(1002, "txt")])
    return root, kw


def out_010_xmp_sidecar_disagrees(bags):
    root, kw = _anchored(bags)
    path = root / out(1002, "xmp")
    path.write_bytes(path.read_bytes().replace(b">PAL DVD 2003<", b">VHS 1998<"))
    cover_up(root, [out(1002, "xmp")])
    return root, kw


def out_011_credential_disagrees(bags):
    root, kw = _anchored(bags)
    resign(bags.signed(), root, 1002, digital_source_type="trainedAlgorithmicMedia")
    cover_up(root, [out(1002, "c2pa")])
    return root, kw


def out_012_pixels_differ_from_their_hash(bags):
    root, kw = _anchored(bags)
    pixels = oiio.read(root / out(1002, "exr"))
    pixels[3, 5, 1] += np.float32(0.25)  # one pixel, one channel
    rewrite_exr(root, out(1002, "exr"), pixels=pixels)
    resign(bags.signed(), root, 1002)  # the forger holds the key: the credential is valid
    cover_up(root, [out(1002, "exr"), out(1002, "c2pa")])  # every file checksum agrees: only the pixels tell
    return root, {**kw, "pixels": True}


def c2pa_001_credential_invalid(bags):
    root, kw = _anchored(bags)
    pixels = oiio.read(root / out(1002, "exr"))
    pixels[0, 0, 0] += 0.25
    rewrite_exr(root, out(1002, "exr"), pixels=pixels)  # no key: the credential still signs the old frame
    cover_up(root, [out(1002, "exr")])
    return root, kw


def c2pa_002_signer_not_trusted(bags):
    signed = bags.signed()
    return copy_signed(signed, bags._dest("signed")), {}  # no trust anchors


def c2pa_003_ingredient_differs(bags):
    root, kw = _anchored(bags)
    rel = read_json(root, RUN_RECORD)["dataset"]["path"]
    edit_json(root, rel, lambda d: d["warnings"].append("reviewed after training"))
    cover_up(root, [rel])
    return root, kw


def c2pa_004_signed_frame_without_credential(bags):
    root, kw = _anchored(bags)
    (root / out(1002, "c2pa")).unlink()
    edit_json(root, RUN_RECORD, lambda r: frame_entry(r, 1002).update(credential=None))
    changed = rerender_sidecars(root, 1002, lambda s: s.update(credential=None))
    cover_up(root, [RUN_RECORD, out(1002, "c2pa"), *changed])
    return root, kw


def c2pa_005_seal_invalid(bags):
    root, kw = _anchored(bags, seal=True)
    edit_bag_info(root, set_info("Internal-Sender-Description", "re-bagged after sealing"))
    refresh_tagmanifests(root)
    return root, kw


def c2pa_006_seal_signer_not_trusted(bags):
    root, kw = _anchored(bags, seal=True)
    stranger = credentials.init_test_identity(bags._dest("stranger-keys"))
    with credentials.signer_from_files(stranger.chain, stranger.key) as signer:
        credentials.sign_tag_manifest(signer, root)
    return root, kw


def pkg_004_abandoned_training_run(bags):
    root, kw = _anchored(bags)
    rel = str(next((root / Layout.RECORDS / "training").glob("*.json")).relative_to(root))
    # The model card keeps a byte copy of the record as it was at export: a run exported while running.
    copy = str(next((root / "data" / "models").glob("*/training-run.json")).relative_to(root))
    for path in (rel, copy):
        edit_json(root, path, lambda r: r.update(status="running"))
    cover_up(root, [rel, copy])
    return root, kw


FIXTURES = {
    name.split("_", 2)[0].upper() + "-" + name.split("_", 2)[1]: fn
    for name, fn in list(globals().items())
    if callable(fn) and name.startswith(("out_", "c2pa_", "pkg_004_"))
}
