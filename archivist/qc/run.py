"""``archivist qc``: judge an inference run against a MatchGrade-style LUT baseline.

The chroma recovery guide (Step 2.5) checks every ML result against a 3D
LUT fitted between source and reference on the training frames. This
command does that on the frames the model never trained on (the dataset's
held-out frames):

1. fit the baseline LUT on the training pairs (source -> the ground truth
   the training used), in ACEScct;
2. apply it to each held-out source frame;
3. measure the source as scanned, the baseline and the ML output against
   the ground truth (and against the true original when it is known);
4. draw a comparison strip per frame and the training loss curve;
5. write the ``.cube`` LUT, the pictures and the QC record, with its
   verdict, in one transaction with an event.

Everything is read and checked before anything is written: a failure
leaves the package as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archivist import __version__
from archivist.errors import InputError, PackageError
from archivist.imaging import oiio
from archivist.package import events, kinds, records
from archivist.package.hashing import hash_file
from archivist.package.layout import Layout
from archivist.package.transaction import utcnow
from archivist.progress import start
from archivist.qc import compare, figures, inputs, logspace, lut, metrics, sharpen

LABEL = kinds.QC.label
KIND = kinds.QC.folder
LUT_NAME = "baseline.cube"
LUT_RGB_NAME = "baseline-rgb.cube"
LOSS_NAME = "loss-curve.png"
_AUTO_ID = re.compile(r"^qc-([0-9]+)$")


@dataclass
class QCOptions:
    """What ``archivist qc`` can be told."""

    run: str | None = None  # inference run (default: the latest complete one)
    qc_id: str | None = None
    original: Path | None = None  # folder of true original frames, when known
    baseline: compare.BaselineSettings = field(default_factory=compare.BaselineSettings)


def qc_ids(pkg) -> list[str]:
    return pkg.record_ids(KIND)


def next_id(pkg) -> str:
    used = [int(m.group(1)) for i in qc_ids(pkg) if (m := _AUTO_ID.match(i))]
    return f"qc-{max(used, default=0) + 1:02d}"


def read(pkg, qc_id: str | None = None) -> dict:
    """A QC record (default: the latest)."""
    ids = qc_ids(pkg)
    if qc_id is None:
        if not ids:
            raise InputError("QC-MISSING", f"{pkg.root} has no QC record yet", hint="run 'archivist qc' first")
        loaded = [pkg.read_record(Layout.record(KIND, i), LABEL) for i in ids]
        return max(loaded, key=lambda r: (r["created"], r["id"]))
    if qc_id not in ids:
        raise InputError("QC-MISSING", f"no QC record {qc_id!r} (records: {', '.join(ids) or 'none'})")
    return pkg.read_record(Layout.record(KIND, qc_id), LABEL)


def strip_name(element: str, number: int) -> str:
    return f"strip.{element}.{int(number):04d}.png"


# -- pictures ------------------------------------------------------------------------------------

def frame_strip(item: inputs.HeldOut, baseline: np.ndarray, result: compare.FrameResult) -> np.ndarray:
    """source | reference (ground truth) | [original] | LUT baseline | ML | differences (uint8)."""
    panels = [(f"SOURCE {item.number}", item.source), ("REFERENCE = GROUND TRUTH", item.truth)]
    if item.original is not None:
        panels.append(("TRUE ORIGINAL", item.original))
    panels += [("LUT BASELINE", baseline), ("ML RESULT", item.ml),
               ("DE2000 LUT VS TRUTH 0-10", figures.heat(result.delta_e["baseline"])),
               ("DE2000 ML VS TRUTH 0-10", figures.heat(result.delta_e["ml"]))]
    return figures.strip(panels)


def holdout_losses(pkg, training: dict) -> list[tuple[int, float]]:
    """The held-out L1 the training logged, as (step, value), from the hash-checked loss log."""
    ref = training.get("loss_log")
    if not ref:
        return []
    rows = _loss_rows(pkg, ref)
    return [(int(r["step"]), float(r["holdout_l1"])) for r in rows if "holdout_l1" in r]


def _loss_rows(pkg, ref: dict) -> list[dict]:
    """The loss log's entries, hash-checked and each checked to be a step with its numbers."""
    data = pkg.verified_bytes(ref, "QC-HASH", "loss log")
    rows = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = records.parse_json(line, allow_nan=True)  # a diverged run logs NaN
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError("QC-LOSS-LOG", f"{ref['path']} line {n} is not valid JSON: {exc}") from None
        numbers = [row.get(k) for k in ("loss", "holdout_l1") if k in row] if isinstance(row, dict) else [None]
        if not isinstance(row, dict) or type(row.get("step")) is not int or "loss" not in row \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            raise InputError("QC-LOSS-LOG", f"{ref['path']} line {n} is not a loss entry (an integer step and "
                             "numbers for loss and holdout_l1)")
        rows.append(row)
    return rows


def loss_curve(pkg, training: dict) -> np.ndarray | None:
    """The training loss (per step, smoothed) and the held-out L1, or None without a loss log."""
    ref = training.get("loss_log")
    if not ref:
        return None
    rows = _loss_rows(pkg, ref)
    if not rows:
        return None
    x = np.array([r["step"] for r in rows], np.float64)
    y = np.array([r["loss"] for r in rows], np.float64)
    hold = [(r["step"], r["holdout_l1"]) for r in rows if "holdout_l1" in r]
    series = [("LOSS PER STEP", x, y, (170, 190, 230)),
              (f"MEAN OF {max(1, len(x) // 40)}", x, figures.moving_average(y, max(1, len(x) // 40)), (30, 80, 200))]
    if hold:
        hx, hy = zip(*hold)
        series.append(("HELD-OUT PREVIEW L1", np.array(hx), np.array(hy), (220, 90, 20)))
    return figures.loss_plot(series, title=f"TRAINING RUN {training['id'].upper()}: L1 LOSS IN R'G'B'")


# -- the run -------------------------------------------------------------------------------------

def _colour(ctx: inputs.Context) -> dict:
    colour = ctx.dataset["colour"]
    return {
        "recorded": ctx.inference["settings"]["colour"]["recorded"], "space": ctx.space, "config": logspace.CONFIG,
        "outputs": "the run's ACES 2065-1 EXRs converted back with the inverse of its recorded OpenColorIO "
                   "conversion, then cropped like the source",
        "lab": f"frame values converted from {ctx.space} to linear Rec.709 by OpenColorIO ({logspace.CONFIG}), "
               "then to CIE XYZ with the Rec.709/sRGB matrix and to CIELAB with the D65 white of the CIE 1931 "
               "2 degree observer (scikit-image); CIEDE2000 with kL = kC = kH = 1",
        "ycbcr": {"coefficients": colour["coefficients"], "kr": float(colour["kr"]), "kb": float(colour["kb"])},
        "psnr_peak": 1.0, "luma_tolerance": metrics.LUMA_TOLERANCE, "grain_sigma": metrics.GRAIN_SIGMA,
    }


def _ground_truth_text(ctx: inputs.Context) -> str:
    kind = ctx.training["settings"]["target"]["kind"]
    text = {"chroma": "the source frame's luma with the aligned, median-filtered reference's Cb and Cr",
            "tone": "the reference's Cb and Cr, and the source's luma moved by the low-frequency luma difference",
            "spatial": "the reference's detail on the source's low-frequency tone and chroma"}.get(kind, kind)
    return (f"{text}, clamped to [0, 1]: the same target training run {ctx.training['id']} learned "
            f"(archivist.training.targets, target '{kind}')")


def _lut_comments(ctx: inputs.Context, settings: compare.BaselineSettings, to: str = "the ground truth") -> list[str]:
    return [
        f"archivist QC baseline: a MatchGrade-style 3D LUT from the source scan to {to}",
        f"Package {ctx.inference['package']}, dataset {ctx.dataset['id']}, training pairs (source frames) "
        + ", ".join(str(p["source"]["number"]) for p in ctx.dataset["pairs"]),
        f"APPLIES IN ACEScct: convert the source ({ctx.space}) to ACEScct with OpenColorIO {logspace.CONFIG},",
        "apply this LUT, then convert ACEScct back to the source's colour space.",
        f"Fitted by regularised lattice regression ({settings.interpolation} weights, smoothness {settings.smoothness}, "
        f"anchor {settings.anchor}).",
    ]


def run_qc(pkg, options: QCOptions | None = None, *, progress=None) -> dict:
    """Run the QC and write it into ``pkg``; returns the QC record."""
    options = options or QCOptions()
    if pkg.interrupted():
        raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                           hint=f"run 'archivist recover {pkg.root}' first")
    s = options.baseline
    if s.interpolation not in lut.INTERPOLATIONS:
        raise InputError("QC-SETTING", f"interpolation must be one of {', '.join(lut.INTERPOLATIONS)}")
    if not (2 <= s.size <= 129) or s.smoothness < 0 or s.anchor <= 0 or s.max_samples < 1000:
        raise InputError("QC-SETTING", "LUT size must be 2-129, smoothness 0 or more, anchor above 0 and at "
                         "least 1000 samples")
    qc_id = options.qc_id or next_id(pkg)
    rel = Layout.record(KIND, qc_id)  # refuses a bad id
    if (pkg.root / rel).exists():
        raise InputError("QC-EXISTS", f"QC record {qc_id!r} already exists", hint="choose another --id")
    originals = inputs.original_frames(options.original)

    bar = start(progress, total=5, desc="qc", unit="stage")
    ctx = inputs.context(pkg, options.run)
    warnings: list[str] = []
    pairs = inputs.training_pairs(pkg, ctx)
    held = inputs.held_out(pkg, ctx, originals)
    bar.update(1)
    table, report = compare.fit_baseline([p.source for p in pairs], [p.truth for p in pairs], ctx.space, s)
    if not report.converged:
        warnings.append(f"the LUT fit stopped after {report.iterations} iterations without converging")
    keep_luma = s.keep_source_luma and ctx.mode == "chroma" and not ctx.tone
    applied = compare.BaselineSettings(**{**s.as_record(), "keep_source_luma": keep_luma})
    # The plain LUT a colourist would make: scan to reference, every channel, luma included.
    plain = compare.BaselineSettings(**{**s.as_record(), "keep_source_luma": False})
    table_rgb, report_rgb = compare.fit_baseline([p.source for p in pairs], [p.reference for p in pairs], ctx.space,
                                                 plain)
    if not report_rgb.converged:
        warnings.append(f"the full-RGB LUT fit stopped after {report_rgb.iterations} iterations without converging")
    training_check = compare.memorising(holdout_losses(pkg, ctx.training), model_step=ctx.model_step)
    if training_check["memorising"]:
        warnings.append(training_check["statement"])
    bar.update(1)

    results, strips = [], []
    for item in held:
        base = compare.apply_baseline(table, item.source, ctx.space, applied, ctx.kr, ctx.kb)
        base_rgb = compare.apply_baseline(table_rgb, item.source, ctx.space, plain, ctx.kr, ctx.kb)
        bases = {"ground_truth": item.truth}
        if item.original is not None:
            bases["original"] = item.original
        res = compare.measure_frame(item.number, {"source": item.source, "baseline": base, "baseline_rgb": base_rgb,
                                                  "ml": item.ml}, bases, item.source, ctx.space, ctx.kr, ctx.kb)
        results.append(res)
        strips.append(frame_strip(item, base, res))
    summary = compare.summarise(results)
    verdict = compare.verdict(results, summary, "ground_truth", training_check)
    verdict_original = compare.verdict(results, summary, "original", training_check) if "original" in summary else None
    if not summary["ground_truth"]["ml"]["luma_unchanged"] and ctx.mode == "chroma" and not ctx.tone:
        warnings.append("the ML output's luma differs from the source's by more than "
                        f"{metrics.LUMA_TOLERANCE:g}; a chroma-mode model should keep it")
    plot = loss_curve(pkg, ctx.training)
    # A spatial stage is judged against plain resizing and sharpening too (qc.sharpen).
    spatial = sharpen.judge(pairs, held, ctx.kr, ctx.kb) if ctx.mode == "spatial" else None
    bar.update(1)

    table.title = f"archivist {qc_id} baseline (ACEScct in, ACEScct out)"
    table.comments = _lut_comments(ctx, s)
    cube = lut.dumps_cube(table)
    table_rgb.title = f"archivist {qc_id} full-RGB baseline, scan to reference (ACEScct in, ACEScct out)"
    table_rgb.comments = _lut_comments(ctx, s, "the aligned reference")
    cube_rgb = lut.dumps_cube(table_rgb)
    source_el = ctx.dataset["source_element"]
    now = utcnow()
    with pkg.transaction("qc") as txn:
        if txn.exists(rel):
            raise InputError("QC-EXISTS", f"QC record {qc_id!r} already exists", hint="choose another --id")
        objects = []
        lut_rel = Layout.qc_file(qc_id, LUT_NAME)
        lfx = txn.write_bytes(lut_rel, cube)
        objects.append({"path": lut_rel, "role": "created", "sha256": lfx.sha256})
        rgb_rel = Layout.qc_file(qc_id, LUT_RGB_NAME)
        rfx = txn.write_bytes(rgb_rel, cube_rgb)
        objects.append({"path": rgb_rel, "role": "created", "sha256": rfx.sha256})
        frames_out = []
        for item, res, pixels in zip(held, results, strips):
            srel = Layout.qc_file(qc_id, strip_name(source_el, item.number))
            oiio.write(txn.staging_path(srel), pixels, pixel_type="uint8")
            sfx = txn.adopt(srel)
            entry = {"number": item.number, "output": dict(item.ml_ref),
                     "strip": {"path": srel, "sha256": sfx.sha256, "size": sfx.size},
                     "ground_truth": res.metrics["ground_truth"]}
            if "original" in res.metrics:
                entry["original"] = res.metrics["original"]
            frames_out.append(entry)
        loss_ref = None
        if plot is not None:
            prel = Layout.qc_file(qc_id, LOSS_NAME)
            oiio.write(txn.staging_path(prel), plot, pixel_type="uint8")
            pfx = txn.adopt(prel)
            loss_ref = {"path": prel, "sha256": pfx.sha256, "size": pfx.size}
        inf, card_ref, train_ref = ctx.inference, ctx.inference["model"]["card"], ctx.training_ref
        record = {
            "schema": LABEL, "id": qc_id, "created": now, "agent": {"name": "archivist", "version": __version__},
            "inference": {"id": inf["id"], "record": _record_ref(pkg, Layout.record("inference", inf["id"]))},
            "model": {"id": inf["model"]["id"], "record": {"path": card_ref["path"], "sha256": card_ref["sha256"]}},
            "training": {"id": ctx.training["id"], "record": {"path": train_ref["path"], "sha256": train_ref["sha256"]}},
            "dataset": {"id": ctx.dataset["id"],
                        "record": {"path": Layout.record("datasets", ctx.dataset["id"]), "sha256": ctx.dataset_sha256},
                        "pairs": [p.number for p in pairs], "held_out": [h.number for h in held],
                        "crop": dict(ctx.dataset["crop"])},
            "mode": ctx.mode, "tone": ctx.tone,
            "colour": _colour(ctx),
            "ground_truth": _ground_truth_text(ctx),
            "baseline": {
                "method": "3D LUT fitted by regularised lattice regression on the training pairs "
                          "(the MatchGrade comparison of the chroma recovery guide)",
                "lut": {"path": lut_rel, "sha256": lfx.sha256, "size": lfx.size},
                "space": logspace.LOG_SPACE,
                "applies": f"convert {ctx.space} to {logspace.LOG_SPACE} with OpenColorIO {logspace.CONFIG}, apply the "
                           f"LUT ({s.interpolation}), convert back; inputs outside the LUT's domain are clamped to it",
                "settings": s.as_record(), "size": table.size,
                "domain_min": list(table.domain_min), "domain_max": list(table.domain_max),
                "fit": {"samples": report.samples, "nodes_supported": report.nodes_supported,
                        "nodes_solved": report.nodes_solved, "rms_residual": report.rms_residual,
                        "max_residual": report.max_residual, "iterations": report.iterations,
                        "converged": report.converged},
                "luma": ("the source's luma is kept (chroma mode), as the model keeps it; the LUT gives the colour"
                         if keep_luma else "as the LUT gives it"),
            },
            "baseline_rgb": {
                "method": "3D LUT fitted by regularised lattice regression on the training pairs from the scan to "
                          "the aligned reference, every channel (the plain LUT a colourist's matching tool makes)",
                "lut": {"path": rgb_rel, "sha256": rfx.sha256, "size": rfx.size},
                "luma": "as the LUT gives it",
                "fit": {"samples": report_rgb.samples, "nodes_supported": report_rgb.nodes_supported,
                        "nodes_solved": report_rgb.nodes_solved, "rms_residual": report_rgb.rms_residual,
                        "max_residual": report_rgb.max_residual, "iterations": report_rgb.iterations,
                        "converged": report_rgb.converged},
            },
            "training_check": training_check,
            "frames": frames_out, "summary": summary, "verdict": verdict, "loss_curve": loss_ref,
            "warnings": warnings,
        }
        if verdict_original is not None:
            record["verdict_original"] = verdict_original
            record["original"] = {
                "description": "the true original frames, supplied from outside the package (known only for "
                               "synthetic material); identified here by name and SHA-256, not stored",
                "frames": [{"number": h.number, "name": h.original_name, "sha256": h.original_sha256} for h in held],
            }
        if spatial is not None:
            record["spatial"] = spatial
        record = compare.finite(record)
        try:
            data = records.dumps(record, LABEL)
        except records.RecordError as exc:
            raise PackageError("QC-RECORD", exc.message) from None
        fx = txn.write_bytes(rel, data)
        objects = [{"path": rel, "role": "created", "sha256": fx.sha256}] + objects
        objects.append({"path": Layout.stage_dir("qc", qc_id), "role": "created"})
        objects.append({"path": Layout.record("inference", inf["id"]), "role": "source"})
        ok = verdict["ml_beats_baseline"] and verdict.get("ml_beats_baseline_rgb", True) and not warnings
        if spatial is not None:
            ok = ok and spatial["verdict"]["ml_beats_baseline"]
        events.append(txn, events.new_event(
            "qc", "validation", now, objects,
            detail=f"QC {qc_id} of inference run {inf['id']} on {len(held)} held-out frames against a "
                   f"{table.size}^3 LUT baseline",
            outcome="success" if ok else "warning",
            outcome_detail=verdict["statement"] + ("" if not warnings else " Warnings: " + "; ".join(warnings))))
        txn.commit()
    bar.update(2)
    bar.close()
    return record


def _record_ref(pkg, rel: str) -> dict:
    digest = hash_file(pkg.layout.path(rel)).sha256
    if pkg.manifest("sha256").get(rel) != digest:
        raise InputError("QC-HASH", f"{rel} does not match the package manifest",
                         hint="run 'archivist verify' to see what changed")
    return {"path": rel, "sha256": digest}
