"""Building a dataset: check the inputs, align every pair, materialise, record.

Order of work, so that bad input fails early and leaves the package as it was:

1. elements, rights, channels, options and the frame plan are checked;
2. under the package's write lock, every frame used is hashed and compared
   with its element record and the manifest;
3. each pair is aligned and its residual measured; any pair that cannot be
   aligned, or whose aligned reference does not cover the crop, stops the
   command with every such frame named;
4. the aligned, cropped, median-filtered references are written as float
   EXRs (and PNG previews when asked), then the record and an event, and the
   transaction commits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from archivist import __version__
from archivist.dataset import align, manual, selection
from archivist.dataset import regions as pair_regions
from archivist.dataset.preprocess import Crop, apply_crop, check_crop, median, median_margin, resample_filter
from archivist.dataset.store import LABEL, next_id, record_path
from archivist.errors import ArchivistError, InputError
from archivist.imaging import colour, oiio, readback
from archivist.imaging.previews import contact_sheet, write_png
from archivist.package import events, records
from archivist.package import rights as training_rights
from archivist.package.hashing import default_workers, hash_file
from archivist.package.layout import Layout
from archivist.package.transaction import utcnow
from archivist.progress import start

DEFAULT_THRESHOLD = 0.25  # see docs/dataset.md for what residuals look like
DEFAULT_MEDIAN = 10
ALIGN_MODES = ("auto", "manual", "none")
EXR_COMPRESSION = "zip"       # lossless, and one fixed spelling keeps the bytes repeatable
PREVIEW_PANEL_WIDTH = 768     # previews of large frames are reduced to this
PREVIEW_MIN_WIDTH = 192       # and tiny ones enlarged to this, by pixel replication
MISALIGNMENT_WARNING = 1.0    # px: a hand-given transform further than this from the estimate is warned about
MAX_WORKERS = 4               # pairs in flight at once; each holds a few full frames in memory


@dataclass(frozen=True)
class _Frame:
    element: str
    number: int
    path: str
    sha256: str
    size: int

    def as_record(self) -> dict:
        return {"element": self.element, "number": self.number, "path": self.path, "sha256": self.sha256,
                "size": self.size}


@dataclass(frozen=True)
class _Job:
    source: _Frame
    reference: _Frame
    holdout: bool
    manual: align.Transform | None


@dataclass
class _Result:
    job: _Job
    transform: align.Transform | None = None
    residual: float | None = None
    failure: str | None = None
    uncovered: bool = False
    inner: Crop | None = None
    aligned: np.ndarray | None = None
    preview: np.ndarray | None = None
    misalignment: float | None = None   # px; measured in manual and none modes
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    pkg: object
    crop: Crop
    source_size: tuple[int, int]
    reference_size: tuple[int, int]
    mode: str
    filter: str
    threshold: float
    median_size: int
    preview: bool
    source_read_as: dict | None = None  # a derived element's frames are read back to the working R'G'B'
    reference_read_as: dict | None = None


def own_credentials(pkg, elements: list[dict]) -> None:
    """Refuse an element whose frames' own Content Credentials do not allow AI training (DATASET-CREDENTIAL-RIGHTS).

    A ``cawg.training-mining`` (or older ``c2pa.training-mining``) assertion
    saying ``notAllowed``, embedded in a frame (a PNG or TIFF reference with
    its credentials), stops the dataset unless the package records an
    authorisation for the element: the rights holder's word overrides what
    an earlier copy said.
    """
    from archivist.credentials.validate import embedded_training_mining
    from archivist.package.safepath import resolve_inside

    for el in elements:
        if el["rights"]["training_use"] == training_rights.AUTHORISED:
            continue
        for f in el["frames"]:
            said = embedded_training_mining(resolve_inside(pkg.root, f["path"]))
            if training_rights.training_use_of(said) == "notAllowed":
                raise InputError("DATASET-CREDENTIAL-RIGHTS",
                                 f"frame {f['path']} of the {el['role']} element {el['id']!r} carries Content "
                                 "Credentials that do not allow AI training; no dataset was built",
                                 hint="only the rights holder can allow it: record their authorisation on the "
                                      f"element ('archivist amend {pkg.root} --element {el['id']} ...') to override")


def build(pkg, *, source: str, reference: str, dataset_id: str | None = None,
          pairs: list[tuple[int, int]] | None = None, frames: list[int] | None = None, auto: int | None = None,
          offset: int | None = None, preview_frames: list | None = None, auto_preview: int | None = None,
          crop: Crop | tuple[int, int, int, int] | None = None, resample: str = "lanczos3", align_mode: str = "auto",
          transform: dict | None = None, align_threshold: float = DEFAULT_THRESHOLD, median_size: int = DEFAULT_MEDIAN,
          working_space: str = "Rec.709", preview: bool = False, workers: int | None = None, progress=None,
          scope=None, regions: dict | None = None) -> dict:
    """Build dataset ``dataset_id`` (default: the next ``ds-NNN``) in ``pkg`` and return its record.

    Training pairs come from exactly one of ``pairs`` (source, reference),
    ``frames`` (source numbers) or ``auto`` (a count); ``offset`` gives the
    reference number as source + offset. ``preview_frames`` (source numbers
    or (source, reference)) or ``auto_preview`` choose held-out frames
    (default: one, midway between training frames). ``transform`` is the
    parsed manual-transform document for ``align_mode="manual"``.
    ``scope`` (an ``archivist.shots.scope.Scope``) limits pairs and held-out
    frames to a shot or scene and is recorded; ``auto=0`` picks the rule of
    thumb's number of pairs for the scope. ``regions`` (``regions.parse``)
    limits where training may draw patches in each pair.
    Raises ``InputError`` with a ``DATASET-*`` code, leaving ``pkg`` as it was.
    """
    src_el = _element(pkg, source, "source")
    ref_el = _element(pkg, reference, "reference")
    warnings: list[str] = training_rights.check(
        [{"element": el["id"], "role": role, "training_use": el["rights"]["training_use"]}
         for el, role in ((src_el, "source"), (ref_el, "reference"))], "DATASET-RIGHTS", "no dataset was built")
    own_credentials(pkg, [src_el, ref_el])
    sc, rc = src_el["scan"]["channels"], ref_el["scan"]["channels"]
    if sc != rc or sc not in (3, 4):
        raise InputError("DATASET-CHANNELS", f"source {source!r} has {sc} channels "
                         f"({','.join(src_el['scan']['channel_names'])}) and reference {reference!r} has {rc} "
                         f"({','.join(ref_el['scan']['channel_names'])}); both must be RGB, or both RGBA")
    if sc == 4:
        warnings.append("alpha channels are ignored: the dataset uses R, G and B")
    filt = resample_filter(resample)
    if align_mode not in ALIGN_MODES:
        raise InputError("DATASET-ALIGN-MODE", f"--align must be one of {', '.join(ALIGN_MODES)}")
    if (align_mode == "manual") != (transform is not None):
        raise InputError("DATASET-TRANSFORM", "--align manual needs --transform FILE.json, and --transform needs --align manual")
    if not (align_threshold >= 0):
        raise InputError("DATASET-THRESHOLD", "--align-threshold must be 0 or more")
    if median_size < 0:
        raise InputError("DATASET-MEDIAN", f"--median must be 0 (off) or more, not {median_size}")
    coeffs = colour.COEFFICIENTS.get(working_space)
    if coeffs is None:
        raise InputError("DATASET-WORKING-SPACE", f"working space coefficients must be one of {', '.join(colour.COEFFICIENTS)}")
    source_size = (src_el["scan"]["width"], src_el["scan"]["height"])
    reference_size = (ref_el["scan"]["width"], ref_el["scan"]["height"])
    if crop is not None and not isinstance(crop, Crop):
        crop = Crop(*crop)
    crop = check_crop(crop, *source_size)

    src_frames = {f["number"]: f for f in src_el["frames"]}
    ref_frames = {f["number"]: f for f in ref_el["frames"]}
    in_scope = None
    if scope is not None:
        if source != scope.element:
            raise InputError("SCOPE-USAGE", f"{scope.kind} {scope.name} is a range of element {scope.element}, "
                             f"not of {source!r}")
        in_scope = scope.numbers(sorted(src_frames))
    if scope is not None and pairs is None and frames is None and auto is None:
        auto = 0  # a scope without a frame choice takes the rule of thumb
    rule_of_thumb = auto == 0
    if rule_of_thumb:
        from archivist.shots.scope import auto_count

        auto = auto_count(scope.kind if scope is not None else "element", len(in_scope or src_frames))
    chosen = selection.plan(sorted(src_frames), sorted(ref_frames), pairs=pairs, frames=frames, auto=auto,
                            offset=offset, preview_frames=preview_frames, auto_preview=auto_preview, scope=in_scope)
    if rule_of_thumb:
        chosen.selection["auto_rule"] = "rule-of-thumb"
    warnings += chosen.warnings
    limits = pair_regions.resolve(regions or {}, [s for s, _ in chosen.pairs], [s for s, _ in chosen.holdout], crop,
                                  source_size)
    hand_made = ref_el.get("hand_made")
    if hand_made and align_mode == "auto":
        warnings.append(f"reference {reference!r} is hand-made ({hand_made['source_type']}): automatic alignment "
                        "matches a painting or a grade to the scan only when they agree in detail; --align manual or "
                        "none states the registration instead")
    everything = [(s, r, False) for s, r in chosen.pairs] + [(s, r, True) for s, r in chosen.holdout]
    manual_t = manual.per_frame(transform, [s for s, _, _ in everything]) if align_mode == "manual" else {}
    jobs = [_Job(_frame(source, src_frames[s]), _frame(reference, ref_frames[r]), held, manual_t.get(s))
            for s, r, held in everything]

    scs, rcs = src_el["scan"].get("colour_space", "unspecified"), ref_el["scan"].get("colour_space", "unspecified")
    if "unspecified" not in (scs, rcs) and scs != rcs:
        warnings.append(f"the source is {scs!r} and the reference {rcs!r}: values are used as stored, without conversion")
    ctx = _Context(pkg, crop, source_size, reference_size, align_mode, filt, float(align_threshold), int(median_size),
                   bool(preview), src_el.get("read_as"), ref_el.get("read_as"))
    readback.check(ctx.source_read_as)
    readback.check(ctx.reference_read_as)

    with pkg.transaction("dataset") as txn:
        ds_id = dataset_id or next_id(pkg)
        rel = record_path(ds_id)
        if txn.exists(rel):
            raise InputError("DATASET-EXISTS", f"dataset {ds_id!r} is already in the package",
                             hint="datasets are never replaced; leave out --id to get the next free one")
        _check_fixity(pkg, txn, jobs)
        entries = {False: [], True: []}
        previews = []
        results = []
        # Each frame is written to the staging area as soon as it is ready, so memory holds only the
        # frames in flight; a failure anywhere still discards everything, because nothing is committed.
        for res in _run(jobs, ctx, workers, progress):
            results.append(res)
            if res.failure or any(r.failure for r in results):
                res.aligned = res.preview = None
                continue
            j = res.job
            arel = Layout.aligned_reference(ds_id, reference, j.source.number)
            oiio.write(txn.staging_path(arel), res.aligned, pixel_type="float", compression=EXR_COMPRESSION,
                          attributes={"Software": f"archivist {__version__}",
                                      "ImageDescription": f"dataset {ds_id}: reference {reference} frame "
                                                          f"{j.reference.number} aligned to source {source} frame "
                                                          f"{j.source.number}"})
            afx = txn.adopt(arel)
            entry = {
                "source": j.source.as_record(), "reference": j.reference.as_record(),
                "transform": res.transform.as_record(), "residual": round(float(res.residual), 6),
                "aligned_reference": {"path": arel, "sha256": afx.sha256, "size": afx.size},
            }
            if res.misalignment is not None:
                entry["misalignment_px"] = round(res.misalignment, 3)
            limit = None if j.holdout else limits.get(j.source.number)
            if limit is not None:
                mask_ref = None
                if limit.mask is not None:
                    mrel = Layout.dataset_mask(ds_id, source, j.source.number)
                    oiio.write(txn.staging_path(mrel), limit.mask[..., None], pixel_type="uint8")
                    mfx = txn.adopt(mrel)
                    mask_ref = {"path": mrel, "sha256": mfx.sha256, "size": mfx.size}
                entry["region"] = limit.as_record(mask_ref)
            entries[j.holdout].append(entry)
            warnings += res.notes
            if res.preview is not None:
                prel = Layout.dataset_preview(ds_id, source, j.source.number)
                write_png(txn.staging_path(prel), res.preview)
                pfx = txn.adopt(prel)
                previews.append({"path": prel, "sha256": pfx.sha256, "size": pfx.size,
                                 "source_number": j.source.number, "holdout": j.holdout})
            res.aligned = res.preview = None
        _refuse_failures(results, ctx)

        similar = all(r.transform.is_similarity(1e-9) for r in results)
        record = {
            "schema": LABEL, "id": ds_id, "created": utcnow(), "agent": {"name": "archivist", "version": __version__},
            "source_element": source, "reference_element": reference,
            "selection": chosen.selection,
            "crop": crop.as_dict(),
            "resample": {"method": resample, "filter": filt, "library": f"OpenImageIO {oiio.library_version()}",
                         "reference_size": list(reference_size), "source_size": list(source_size), "passes": 1},
            "alignment": {"mode": align_mode, "model": "similarity" if similar else "affine",
                          "threshold": float(align_threshold), "residual_metric": align.RESIDUAL_METRIC,
                          "coordinates": "reference stretched onto the source pixel grid -> source pixels; origin at "
                                         "the top-left corner of the top-left pixel, y down"},
            "preprocessing": {"median_size": int(median_size),
                              "median_footprint": "disc of diameter median_size source pixels, centred",
                              "applied_to": "aligned reference, all channels, after alignment and before the crop"},
            "colour": {"source_colour_space": scs, "reference_colour_space": rcs, "working_space": "YCbCr",
                       "coefficients": coeffs["name"], "kr": coeffs["kr"], "kb": coeffs["kb"],
                       "conversion": "none: R'G'B' values are used as stored"},
            "reference_training_use": ref_el["rights"]["training_use"],
            "source_training_use": src_el["rights"]["training_use"],
            "warnings": warnings,
            "pairs": entries[False], "holdout": entries[True],
        }
        if align_mode == "auto":
            record["alignment"]["estimator"] = ("luma, tone-matched; phase correlation then Gauss-Newton on similarity "
                                                "+ gain/offset with Huber weights, coarse to fine; log-polar restart")
            record["alignment"]["estimation_max_size"] = align.MAX_SIZE
        if previews:
            record["previews"] = previews
        if scope is not None:
            record["scope"] = scope.as_record()
        if hand_made:
            record["reference_hand_made"] = dict(hand_made)
        try:
            data = records.dumps(record, LABEL)
        except records.RecordError as exc:
            raise InputError("DATASET-FIELDS", exc.message) from None
        fix = txn.write_bytes(rel, data)
        objects = [{"path": rel, "role": "created", "sha256": fix.sha256},
                   {"path": Layout.stage_dir("dataset", ds_id), "role": "created"},
                   {"path": _element_record(src_el), "role": "source"},
                   {"path": _element_record(ref_el), "role": "source"}]
        events.append(txn, events.new_event(
            "dataset", "creation", record["created"], objects,
            detail=(f"dataset {ds_id}: {len(entries[False])} pairs and {len(entries[True])} held out, "
                    f"{reference} aligned to {source} ({align_mode}, {resample}), median {median_size}"),
            outcome="warning" if warnings else "success", outcome_detail="; ".join(warnings)))
        txn.commit()
    return record


# -- checks ------------------------------------------------------------------------------------

def _element(pkg, element: str, role: str) -> dict:
    try:
        el = pkg.element(element)
    except ArchivistError:
        known = ", ".join(pkg.element_ids()) or "none"
        raise InputError("DATASET-ELEMENT", f"no element {element!r} in the package (elements: {known})") from None
    if el["role"] != role:
        raise InputError("DATASET-ELEMENT", f"element {element!r} is a {el['role']}, not a {role}")
    return el


def _element_record(el: dict) -> str:
    """The record of an element or of a derived element (``archivist.package.derived``)."""
    from archivist.package import kinds

    if el.get("schema") == kinds.DERIVED_ELEMENT.label:
        return Layout.record(kinds.DERIVED_ELEMENT, el["id"])
    return Layout.element_record(el["id"])


def _frame(element: str, f: dict) -> _Frame:
    return _Frame(element, f["number"], f["path"], f["sha256"], f["size"])


def _check_fixity(pkg, txn, jobs: list[_Job]) -> None:
    """Every frame used must hash to what its element record and the manifest say."""
    frames = {f.path: f for j in jobs for f in (j.source, j.reference)}
    manifest = txn.manifests["sha256"]
    bad = []

    def one(f: _Frame):
        try:
            return f, hash_file(pkg.layout.path(f.path)).sha256
        except FileNotFoundError:
            return f, None

    with ThreadPoolExecutor(max_workers=default_workers()) as pool:
        for f, digest in pool.map(one, frames.values()):
            if digest is None:
                bad.append(f"{f.path} is missing")
            elif digest != f.sha256 or manifest.get(f.path) != f.sha256:
                bad.append(f"{f.path} ({f.element} frame {f.number}) no longer matches its recorded SHA-256")
    if bad:
        raise InputError("DATASET-HASH", "frames changed since they were added; nothing was written:\n  " + "\n  ".join(bad),
                         hint="run 'archivist verify' to see every difference")


def _refuse_failures(results: list[_Result], ctx: _Context) -> None:
    failed = [r for r in results if r.failure]
    uncovered = [r for r in failed if r.uncovered]
    if uncovered and len(uncovered) == len(failed):
        # Suggest the part of the requested crop that every aligned reference covers.
        inner: Crop | None = ctx.crop
        for r in results:
            inner = _intersect(inner, r.inner) if inner is not None and r.inner is not None else None
        hint = ("crop to the part every aligned reference covers"
                + (f", e.g. --crop {inner.x},{inner.y},{inner.width},{inner.height}" if inner else ""))
        raise InputError("DATASET-COVERAGE", "the aligned reference does not cover the crop for "
                         + "; ".join(f"source frame {r.job.source.number}: {r.failure}" for r in uncovered), hint=hint)
    failed = [r for r in failed if not r.uncovered]
    if failed:
        raise InputError("DATASET-ALIGN", f"{len(failed)} of {len(results)} frames could not be aligned below the "
                         f"threshold {ctx.threshold:g}:\n  " + "\n  ".join(
                             f"source {r.job.source.element} frame {r.job.source.number} with reference "
                             f"{r.job.reference.element} frame {r.job.reference.number}: {r.failure}" for r in failed),
                         hint="check that these frames show the same picture; choose other frames, align by hand "
                              "(--align manual --transform FILE.json), or raise --align-threshold if the material "
                              "really is this different")


def _intersect(a: Crop, b: Crop) -> Crop | None:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    return Crop(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


# -- per pair ------------------------------------------------------------------------------------

def _run(jobs: list[_Job], ctx: _Context, workers: int | None, progress) -> Iterator[_Result]:
    """Process the jobs on a few threads and yield results in job order, never more than 2n ahead."""
    bar = start(progress, total=len(jobs), desc="aligning", unit="frame")
    n = max(1, min(workers or default_workers(), MAX_WORKERS, len(jobs)))

    def one(job: _Job) -> _Result:
        try:
            return _process(job, ctx)
        finally:
            bar.update(1)

    try:
        if n == 1:
            for j in jobs:
                yield one(j)
            return
        with ThreadPoolExecutor(max_workers=n) as pool:
            pending: deque = deque()
            todo = iter(jobs)
            for j in todo:
                pending.append(pool.submit(one, j))
                if len(pending) >= 2 * n:
                    break
            while pending:
                res = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(one, nxt))
                yield res
    finally:
        bar.close()


def _process(job: _Job, ctx: _Context) -> _Result:
    res = _Result(job)
    (ws, hs), (wr, hr) = ctx.source_size, ctx.reference_size
    src = readback.read(ctx.pkg.layout.path(job.source.path), ctx.source_read_as)
    ref = readback.read(ctx.pkg.layout.path(job.reference.path), ctx.reference_read_as)
    for img, f, (w, h) in ((src, job.source, ctx.source_size), (ref, job.reference, ctx.reference_size)):
        if img.shape[:2] != (h, w):
            raise InputError("DATASET-SHAPE", f"{f.path} is {img.shape[1]}x{img.shape[0]}, but its element records {w}x{h}")
    if ctx.mode == "auto":
        try:
            res.transform = align.register(src, ref).transform
        except align.AlignmentError as exc:
            res.failure = str(exc)
            return res
    elif ctx.mode == "manual":
        res.transform = job.manual
    else:
        res.transform = align.Transform.identity()
    total = res.transform.compose(align.stretch((wr, hr), (ws, hs)))
    res.inner = covered_crop(total, (wr, hr), (ws, hs))
    covered = covers(total, (wr, hr), ctx.crop)
    # The residual is judged first, on the covered part of the crop, so a frame that does not
    # match is reported as such rather than as a framing problem.
    region = ctx.crop if covered else (_intersect(ctx.crop, res.inner) if res.inner else None)
    if region is None or min(region.width, region.height) < 8:
        res.failure = "after alignment the reference hardly overlaps the crop"
        return res

    # Warp a margin around the crop too, so the median sees real neighbours at the crop's edges.
    c = ctx.crop
    m = median_margin(ctx.median_size)
    x0, y0 = max(0, c.x - m), max(0, c.y - m)
    x1, y1 = min(ws, c.x + c.width + m), min(hs, c.y + c.height + m)
    warped = oiio.warp(ref, total.array, window=(x0, y0, x1 - x0, y1 - y0), filter=ctx.filter, wrap="clamp")
    inside = Crop(c.x - x0, c.y - y0, c.width, c.height)
    aligned = apply_crop(warped, inside)
    src_crop = apply_crop(src, c)
    src_luma, ref_luma = align.luma(src_crop), align.luma(aligned)
    judged = Crop(region.x - c.x, region.y - c.y, region.width, region.height)
    upsampling = max(1.0, ws / wr, hs / hr)
    res.residual = align.residual_score(apply_crop(src_luma, judged), apply_crop(ref_luma, judged), sigma=upsampling)
    if not res.residual <= ctx.threshold:
        res.failure = f"residual {res.residual:.3f}"
        return res
    if not covered:
        res.uncovered = True
        res.failure = "part of the crop lies outside the reference frame after alignment"
        return res
    if ctx.mode != "auto":
        _measure_misalignment(res, src, ref, ctx)
    res.aligned = np.ascontiguousarray(apply_crop(median(warped, ctx.median_size), inside), dtype=np.float32)
    if ctx.preview:
        res.preview = _preview_sheet(job, src_crop, res.aligned, src_luma, ref_luma, ctx.median_size, upsampling)
    return res


def _measure_misalignment(res: _Result, src, ref, ctx: _Context) -> None:
    """How far the transform a person chose is from the one ``auto`` would estimate, at the crop's corners.

    The residual only catches gross mismatches (a 3 px error can stay under the
    threshold), so a transform given by hand, or none at all, is checked
    independently and a large difference is recorded as a warning.
    """
    j = res.job
    try:
        estimated = align.register(src, ref).transform
    except align.AlignmentError:
        res.notes.append(f"source frame {j.source.number}: the {ctx.mode} alignment could not be cross-checked "
                         "(the estimator found no registration)")
        return
    c = ctx.crop
    corners = np.array([[c.x, c.y], [c.x + c.width, c.y], [c.x, c.y + c.height], [c.x + c.width, c.y + c.height]], float)
    on_reference = res.transform.inverse().apply(corners)
    res.misalignment = float(np.abs(estimated.apply(on_reference) - corners).max())
    if res.misalignment > MISALIGNMENT_WARNING:
        res.notes.append(f"source frame {j.source.number}: with --align {ctx.mode} the reference appears misaligned by "
                         f"up to {res.misalignment:.1f} px at the crop's corners (--align auto would correct it)")


def covers(total: align.Transform, reference_size, crop: Crop) -> bool:
    """True when every crop pixel centre maps inside the original reference frame.

    >>> t = align.stretch((32, 24), (64, 48))
    >>> covers(t, (32, 24), Crop(0, 0, 64, 48)), covers(align.Transform.similarity(1, 0, (2, 0)).compose(t), (32, 24), Crop(0, 0, 64, 48))
    (True, False)
    """
    wr, hr = reference_size
    corners = np.array([[crop.x + 0.5, crop.y + 0.5], [crop.x + crop.width - 0.5, crop.y + 0.5],
                        [crop.x + 0.5, crop.y + crop.height - 0.5], [crop.x + crop.width - 0.5, crop.y + crop.height - 0.5]])
    p = total.inverse().apply(corners)
    eps = 1e-6
    return bool(np.all(p[:, 0] >= -eps) and np.all(p[:, 0] <= wr + eps) and np.all(p[:, 1] >= -eps)
                and np.all(p[:, 1] <= hr + eps))


def covered_crop(total: align.Transform, reference_size, source_size) -> Crop | None:
    """A large axis-aligned crop of the source that the aligned reference covers (for hints).

    >>> covered_crop(align.Transform.similarity(1, 0, (2.0, -3.0)), (64, 48), (64, 48))
    Crop(x=2, y=0, width=62, height=45)
    """
    wr, hr = reference_size
    ws, hs = source_size
    tl, tr, bl, br = total.apply([[0, 0], [wr, 0], [0, hr], [wr, hr]])
    x0, x1 = max(tl[0], bl[0], 0.0), min(tr[0], br[0], float(ws))
    y0, y1 = max(tl[1], tr[1], 0.0), min(bl[1], br[1], float(hs))
    cx, cy = int(np.ceil(x0 - 0.5 - 1e-9)), int(np.ceil(y0 - 0.5 - 1e-9))
    cw, ch = int(np.floor(x1 - 0.5 + 1e-9)) - cx + 1, int(np.floor(y1 - 0.5 + 1e-9)) - cy + 1
    cx, cy = max(cx, 0), max(cy, 0)
    cw, ch = min(cw, ws - cx), min(ch, hs - cy)
    if cw < 1 or ch < 1:
        return None
    crop = Crop(cx, cy, cw, ch)
    return crop if covers(total, reference_size, crop) else None


def _preview_sheet(job: _Job, src_crop, aligned, src_luma, ref_luma, median_size, sigma: float) -> np.ndarray:
    # Compared at the reference's level of detail, after matching tone, so what shows is misalignment
    # (doubled edges), not the detail or the grade the reference lacks.
    tone_matched = align.match_tone(src_luma, ref_luma)
    if sigma > 1.0:
        tone_matched, ref_luma = (ndimage.gaussian_filter(x, sigma, mode="nearest") for x in (tone_matched, ref_luma))
    diff = np.abs(tone_matched - ref_luma) * 4.0
    panels = [src_crop, aligned, diff]
    h, w = src_crop.shape[:2]
    if w > PREVIEW_PANEL_WIDTH:
        nh = max(1, round(h * PREVIEW_PANEL_WIDTH / w))
        panels = [oiio.resize(p if p.ndim == 3 else p[..., None], PREVIEW_PANEL_WIDTH, nh, filter="box") for p in panels]
    s, r = job.source, job.reference
    tag = "held out" if job.holdout else "pair"
    return contact_sheet([(f"{s.element} {s.number} ({tag})", panels[0]),
                          (f"{r.element} {r.number} aligned, median {median_size}", panels[1]),
                          ("luma difference x4", panels[2])], min_width=PREVIEW_MIN_WIDTH)
