"""Everything the report shows, read from the package into plain data.

Reading only: nothing here writes to the package. Each section is read on
its own, so a package that is incomplete (no QC yet) or damaged still gives
a report; what could not be read is said in the section, and the full
``verify`` result explains why.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from archivist import __version__
from archivist.errors import ArchivistError
from archivist.imaging import oiio
from archivist.package import Package, kinds
from archivist.package.hashing import hash_bytes
from archivist.package.layout import Layout
from archivist.package.records import parse_json
from archivist.package.transaction import utcnow

MAX_PREVIEWS = 6  # alignment previews embedded; the rest are listed
KEEP_BYTES = 250_000  # larger pictures are shown as JPEG
MAX_WIDTH = 2400


class Section(dict):
    """A section's data, plus ``problems``: what could not be read."""


def _records(pkg: Package, kind: kinds.Kind, section: dict | None = None) -> list[dict]:
    """Every record of ``kind`` that reads and validates; the others are noted in ``section``."""
    d = pkg.root / Layout.RECORDS / kind.folder
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        rel = f"{Layout.RECORDS}/{kind.folder}/{p.name}"  # a misnamed record is read too, and its problem shown
        if section is None:
            out.append(pkg.read_record(rel, kind.label))
        else:
            rec = _guard(section, rel, lambda rel=rel: pkg.read_record(rel, kind.label))
            if rec is not None:
                out.append(rec)
    return out


def image(pkg: Package, ref: dict | None) -> dict | None:
    """A PNG the records name, as a data URI, after checking its SHA-256 (None when absent).

    Pictures larger than ``KEEP_BYTES`` are shown re-encoded as JPEG
    (quality 90, no chroma subsampling, at most ``MAX_WIDTH`` wide), so the
    page stays a few megabytes; the caption names the package's own file.
    """
    if not ref:
        return None
    out = {"path": ref["path"], "sha256": ref.get("sha256")}
    try:
        path = pkg.layout.path(ref["path"])
        data = path.read_bytes()
    except (OSError, ArchivistError) as exc:
        out["problem"] = f"cannot be read: {exc}"
        return out
    if ref.get("sha256") and hash_bytes(data).sha256 != ref["sha256"]:
        out["problem"] = "does not match the SHA-256 its record gives; not shown"
        return out
    if len(data) <= KEEP_BYTES:
        out["uri"] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return out
    try:
        pixels = oiio.read(path, channels=3)
    except ArchivistError as exc:
        out["problem"] = f"cannot be decoded: {exc}"
        return out
    h, w = pixels.shape[:2]
    if w > MAX_WIDTH:
        pixels = oiio.resize(pixels, MAX_WIDTH, max(1, round(h * MAX_WIDTH / w)), filter="box")
    with tempfile.TemporaryDirectory() as tmp:
        jpg = Path(tmp) / "shown.jpg"
        oiio.write(jpg, pixels, pixel_type="uint8", compression="jpeg:90", attributes={"jpeg:subsampling": "4:4:4"})
        out["uri"] = "data:image/jpeg;base64," + base64.b64encode(jpg.read_bytes()).decode("ascii")
    out["reduced"] = True
    return out


def _guard(section: dict, what: str, fn, default=None):
    try:
        return fn()
    except (ArchivistError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        section.setdefault("problems", []).append(f"{what}: {exc}")
        return default


def package_section(pkg: Package) -> dict:
    s: dict = {}
    s["record"] = _guard(s, "package record", pkg.record)
    s["bag_info"] = _guard(s, "bag-info.txt", pkg.bag_info, {})
    s["elements"] = _guard(s, "element records", pkg.elements, [])
    s["events"] = _guard(s, "event log", pkg.events, [])
    return s


def dataset_section(pkg: Package) -> dict:
    s: dict = {}
    s["datasets"] = _records(pkg, kinds.DATASET, s)
    for ds in s["datasets"]:
        previews = ds.get("previews") or []
        # Held-out frames first: they are the ones the QC judges.
        chosen = sorted(previews, key=lambda p: not p["holdout"])[:MAX_PREVIEWS]
        ds["_previews"] = []
        for p in previews:
            if p in chosen:
                img = image(pkg, p) or {}
                img.update(source_number=p["source_number"], holdout=p["holdout"])
            else:
                img = {"path": p["path"], "source_number": p["source_number"], "holdout": p["holdout"], "skipped": True}
            ds["_previews"].append(img)
    return s


def training_section(pkg: Package) -> dict:
    s: dict = {}
    s["runs"] = _records(pkg, kinds.TRAINING_RUN, s)
    for run in s["runs"]:
        sheets = run.get("contact_sheets") or []
        run["_contact"] = image(pkg, sheets[-1]) if sheets else None
    s["models"] = _records(pkg, kinds.MODEL_CARD, s)
    return s


def qc_section(pkg: Package) -> dict:
    s: dict = {}
    s["records"] = _records(pkg, kinds.QC, s)
    for rec in s["records"]:
        rec["_loss"] = image(pkg, rec.get("loss_curve"))
        for f in rec["frames"]:
            f["_strip"] = image(pkg, f["strip"])
    return s


def _sample_frame(pkg: Package, runs: list[dict], qc: list[dict]) -> tuple[dict, dict] | None:
    """The output frame to show: the first held-out frame the latest QC judged, else the run's first frame."""
    done = [r for r in runs if r.get("frames")]
    if not done:
        return None
    run = done[-1]
    wanted = None
    if qc:
        held = [f["number"] for f in qc[-1]["frames"]]
        wanted = held[0] if held else None
        run = next((r for r in done if r["id"] == qc[-1]["inference"]["id"]), run)
    frame = next((f for f in run["frames"] if f["number"] == wanted), run["frames"][0])
    return run, frame


def provenance_section(pkg: Package, qc: list[dict], trust_anchor: bytes | None) -> dict:
    s: dict = {}
    runs = _records(pkg, kinds.INFERENCE_RUN, s)
    s["runs"] = [{k: v for k, v in r.items() if k != "frames"} | {"frame_count": len(r.get("frames") or [])}
                 for r in runs]
    picked = _sample_frame(pkg, runs, qc)
    if picked is None:
        return s
    run, frame = picked
    s["run_id"], s["frame"] = run["id"], frame
    out_path = _guard(s, "output frame", lambda: pkg.layout.path(frame["output"]["path"]))
    if out_path is not None:
        s["header"] = _guard(s, "EXR header", lambda: {k: _plain(v) for k, v in oiio.header(out_path).items()}, {})
    sidecar = frame["sidecars"]["json"]
    s["sidecar"] = _guard(s, "JSON sidecar", lambda: parse_json(pkg.layout.path(sidecar["path"]).read_bytes()))
    s["iptc"] = run.get("digital_source_type")
    cred = frame.get("credential")
    if cred and out_path is not None:
        def validate():
            from archivist.credentials import check_ingredients, validate_manifest

            res = validate_manifest(out_path, pkg.layout.path(cred["path"]), trust_anchors_pem=trust_anchor)
            checks = check_ingredients(res, root=pkg.root)
            d = res.to_dict()
            d["ingredient_checks"] = [{"title": c.title, "path": c.path, "relationship": c.relationship,
                                       "ok": c.ok, "code": c.code} for c in checks]
            d["manifest_path"] = cred["path"]
            return d
        s["c2pa"] = _guard(s, "C2PA credential", validate)
    s["trust_anchor_given"] = trust_anchor is not None
    from archivist.credentials import SEAL_FILE

    if (pkg.root / SEAL_FILE).is_file():
        def seal():
            from archivist.credentials import validate_seal

            return validate_seal(pkg.root, trust_anchors_pem=trust_anchor).to_dict()
        s["seal"] = _guard(s, "package seal", seal)
    return s


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def shots_section(pkg: Package, shot: str | None = None, scene: str | None = None) -> dict:
    """The per-shot table: each shot's model, its pairs, its latest inference run and that run's QC verdict."""
    from archivist.shots import scope as scopes
    from archivist.shots import store

    s: dict = {"rows": []}
    chosen = _guard(s, "scope", lambda: scopes.resolve(pkg, shot, scene))
    if chosen is not None:
        s["scope"] = chosen.as_record()
    found = _guard(s, "shot records", lambda: store.shots(pkg), [])
    qcs = _records(pkg, kinds.QC, s)
    for sh in found:
        if chosen is not None and sh["id"] not in chosen.shots:
            continue
        row = {"shot": sh["id"], "element": sh["element"], "first": sh["first"], "last": sh["last"],
               "frames": sh["frames"], "leave_as_source": sh["leave_as_source"],
               "scene": _guard(s, "scene records", lambda sh=sh: store.scene_of(pkg, sh["id"]))}
        if not sh["leave_as_source"]:
            model = _guard(s, f"model of shot {sh['id']}", lambda sh=sh: scopes.model_for_shot(pkg, sh))
            if model is not None:
                row["model"], row["trained_for"] = model
                card = _guard(s, "model card", lambda m=model[0]: pkg.read_record(
                    Layout.record(kinds.MODEL_CARD, m), kinds.MODEL_CARD.label), {})
                ds_id = (card.get("dataset") or {}).get("id")
                ds = _guard(s, "dataset", lambda d=ds_id: pkg.read_record(Layout.record(kinds.DATASET, d),
                                                                          kinds.DATASET.label), {}) if ds_id else {}
                row["dataset"], row["pairs"] = ds_id, len(ds.get("pairs") or [])
                row["region_limited"] = sum(1 for p in ds.get("pairs") or [] if p.get("region"))
            own = scopes.Scope("shot", sh["id"], sh["element"], (sh["id"],), ((sh["first"], sh["last"]),))
            runs = _guard(s, "inference runs", lambda own=own: scopes.runs_for(pkg, own), [])
            if runs:
                row["run"] = runs[-1]["id"]
                judged = [q for q in qcs if q["inference"]["id"] == row["run"]]
                if judged:
                    row["qc"] = {"id": judged[-1]["id"], "statement": judged[-1]["verdict"]["statement"],
                                 "ml_beats_baseline": judged[-1]["verdict"]["ml_beats_baseline"]}
        s["rows"].append(row)
    return s


def verify_section(root: Path, trust_anchor: bytes | None = None) -> dict:
    from archivist.verify import verify

    s: dict = {"trust_anchor_given": trust_anchor is not None}
    rep = _guard(s, "verify", lambda: verify(root, trust_anchors_pem=trust_anchor))
    if rep is not None:
        s["result"] = rep.to_dict()
    return s


def gather(root: Path | str, *, trust_anchor: bytes | None = None, shot: str | None = None,
           scope_scene: str | None = None) -> dict:
    """All the report's data for the package at ``root`` (the per-shot table limited to a shot or scene)."""
    pkg = Package.open(root)
    qc = qc_section(pkg)
    if shot or scope_scene:
        from archivist.shots import scope as scopes

        scopes.resolve(pkg, shot, scope_scene)  # an unknown scope is the user's error, not a note in the page
    return {
        "shots": shots_section(pkg, shot, scope_scene),
        "generated": utcnow(), "archivist_version": __version__, "path": str(pkg.root),
        "package": package_section(pkg), "dataset": dataset_section(pkg), "training": training_section(pkg),
        "qc": qc, "provenance": provenance_section(pkg, qc.get("records") or [], trust_anchor),
        "verify": verify_section(pkg.root, trust_anchor),
    }
