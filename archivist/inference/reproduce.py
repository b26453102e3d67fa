"""``archivist reproduce``: run the archived model again and compare.

The model is the run's archived ONNX file and the inputs are the package's
source frames; the frames are made in a scratch directory outside the
package and decoded next to the archived outputs. With the same backend,
engine version and settings the pixels must be bit-identical (onnxruntime
and the colour pipeline are deterministic); with another backend they must
agree within the run's ``reproducibility_tolerance`` (bioimage.io's
absolute/relative tolerance and mismatched elements per million). The same
holds on a CPU with another instruction-set level than the run recorded
(``archivist.machine``): kernels of another width round differently, so the
report says so and the frames are judged within the tolerance. A run
recorded before the level was kept is compared as before.

Each frame is also checked against the run record before it is re-run: a
source frame whose SHA-256 is no longer the one the run used, or an
archived output whose bytes changed, fails that frame by name.

Nothing in the package changes, except that ``record=True`` appends one
validation event describing the result.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from archivist import machine
from archivist.errors import InputError, InterruptedTransactionError
from archivist.imaging import oiio
from archivist.inference import archived, backends, provenance, runner, task
from archivist.inference import frames as framesel
from archivist.package import Package, events, ranges
from archivist.package.hashing import hash_file
from archivist.package.layout import Layout
from archivist.package.transaction import utcnow
from archivist.progress import start


def _pick_run(pkg: Package, run: str | None) -> dict:
    if run:
        return runner.read_run(pkg, run)
    ids = runner.run_ids(pkg)
    recs = [runner.read_run(pkg, r) for r in ids]
    recs = [r for r in recs if r["frames"]]
    if not recs:
        raise InputError("REPRO-NO-RUN", "the package holds no inference run with output frames")
    complete = [r for r in recs if r["status"] == "complete"]
    return (complete or recs)[-1]


def _backend_for(rec: dict, wanted: str | None, device: str) -> str:
    if wanted and wanted != "auto":
        return backends.choose(wanted, device)
    try:
        return backends.choose(rec["backend"]["name"], "auto")
    except InputError:
        return backends.choose("auto", "cpu" if device == "auto" else device)


def _exact_expected(rec: dict, engine_info: dict) -> bool:
    """Bit-identical pixels are promised only by the same engine, version and settings."""
    now = runner.versions()
    same_libs = all(now.get(k) == rec["versions"].get(k) for k in ("opencolorio", "openimageio", "numpy"))
    return same_libs and backends.fingerprint(engine_info) == backends.fingerprint(rec["backend"])


def instruction_set(rec: dict) -> dict:
    """The run's recorded instruction-set facts against this machine's, and what differs."""
    here = machine.cpu_facts()
    recorded = rec.get("machine")
    keep = ("torch", "onnxruntime", "level")
    return {"recorded": {k: recorded.get(k) for k in keep} if recorded else None,
            "here": {k: here.get(k) for k in keep}, "differences": machine.differences(recorded, here),
            "same": None if not recorded else not machine.differences(recorded, here)}


def _same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """Bitwise equality of two half-float images (NaN payloads included)."""
    return a.shape == b.shape and np.array_equal(a.astype(np.float16).view(np.uint16),
                                                 b.astype(np.float16).view(np.uint16))


def reproduce(root: Path | str, *, run: str | None = None, frames: str | None = None, sample: int | None = None,
              backend: str | None = None, device: str = "auto", record: bool = False, threads: int | None = None,
              scratch_dir: Path | None = None, progress=None) -> dict:
    """Re-run frames of an inference run and compare; the report says, frame by frame, what agreed."""
    pkg = Package.open(root)
    if pkg.interrupted():
        raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                                          hint=f"run 'archivist recover {pkg.root}' first")
    if frames and sample:
        raise InputError("REPRO-FRAMES", "give --frames or --sample, not both")
    rec = _pick_run(pkg, run)
    recorded = {f["number"]: f for f in rec["frames"]}
    numbers = sorted(recorded)
    if frames:
        numbers = framesel.select(numbers, frames)
    elif sample:
        numbers = framesel.sample(numbers, sample)
    if not numbers:
        raise InputError("REPRO-FRAMES", f"run {rec['id']} has no output frames to reproduce")

    model_ref = rec["model"]["onnx"]
    data = pkg.verified_bytes(model_ref, "REPRO-MODEL-ALTERED", "model")
    archived.check_onnx(data, model_ref["path"])
    name = _backend_for(rec, backend, device)
    engine = backends.create(name, data, threads=threads)
    isa = instruction_set(rec)
    exact = _exact_expected(rec, engine.info) and not isa["differences"]
    tolerance = rec["reproducibility_tolerance"]

    root_path = pkg.root.resolve()
    base = Path(scratch_dir) if scratch_dir else None
    scratch = Path(tempfile.mkdtemp(prefix="archivist-reproduce-", dir=base))
    if scratch.resolve() == root_path or root_path in scratch.resolve().parents:
        shutil.rmtree(scratch, ignore_errors=True)
        raise InputError("REPRO-SCRATCH", "the scratch directory must lie outside the package")
    spec = runner.spec_from_record(pkg.root, rec, scratch, sign=False)
    if spec.colour_on == "device" and engine.run_tensor is None:
        # Converted on the device when it ran; an onnxruntime backend converts on the host instead.
        from dataclasses import replace

        spec, exact = replace(spec, colour_on=None), False
    report_frames = []
    bar = start(progress, total=len(numbers), desc=f"reproducing {rec['id']}", unit="frame")
    t0 = time.perf_counter()
    try:
        for n in numbers:
            report_frames.append(_one(pkg, spec, engine, recorded[n], exact, tolerance))
            bar.update(1)
    finally:
        bar.close()
        shutil.rmtree(scratch, ignore_errors=True)
    failed = [f["number"] for f in report_frames if not f["ok"]]
    report = {
        "ok": not failed, "run": rec["id"], "backend": engine.info["name"], "recorded_backend": rec["backend"]["name"],
        "engine": engine.info["engine"], "expectation": "bit-identical" if exact else "within tolerance",
        "tolerance": tolerance, "frames": report_frames, "failed": failed, "checked": len(numbers),
        "instruction_set": isa,
        "max_abs_diff": _largest_difference(report_frames),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if record:
        _record(pkg, rec, report)
        report["recorded"] = True
    return report


def _largest_difference(frames: list[dict]) -> float | None:
    """The largest |new - archived| over the frames compared (0 for bit-identical ones), None if none was."""
    found = []
    for f in frames:
        c = f.get("comparison") or {}
        if "max_abs_diff" in c:
            found.append(c["max_abs_diff"])
        elif c.get("identical"):
            found.append(0.0)
    return max(found) if found else None


def _one(pkg: Package, spec: task.RunSpec, engine, entry: dict, exact: bool, tolerance: dict) -> dict:
    n = entry["number"]
    out: dict = {"number": n, "ok": False, "problems": []}
    source = entry["source"]
    try:
        actual = hash_file(pkg.layout.path(source["path"]), algorithms=("sha256",)).sha256
    except FileNotFoundError:
        actual = None
    if actual != source["sha256"]:
        out["problems"].append(f"source frame {source['path']} is not the frame the run used "
                               f"(SHA-256 {actual or 'missing'}, run record {source['sha256']})")
    archived_path = pkg.layout.path(entry["output"]["path"])
    try:
        out_hash = hash_file(archived_path, algorithms=("sha256",)).sha256
    except FileNotFoundError:
        out_hash = None
    if out_hash != entry["output"]["sha256"]:
        out["problems"].append(f"archived output {entry['output']['path']} has changed "
                               f"(SHA-256 {out_hash or 'missing'}, run record {entry['output']['sha256']})")
    if actual is None or out_hash is None:
        return out
    job = task.FrameJob(n, source["path"], actual)
    try:
        loaded = task.load(spec, job)
        ycc, _ = task.infer(spec, engine, loaded)
        pixels = task.finish(spec, ycc)
    except InputError as exc:
        out["problems"].append(f"cannot be re-run: {exc.message}")
        return out
    # Written and decoded exactly as an archived frame is, so the comparison sees the same half floats.
    scratch = Path(spec.scratch)
    fresh = scratch / f"{task.names_stem(spec, n)}.exr"
    keys = provenance.header_keys(spec.provenance, n, source["path"], source["sha256"])
    oiio.write(fresh, pixels, pixel_type="half", attributes=provenance.exr_attributes(keys),
                  compression=spec.compression)
    try:
        old = oiio.read(archived_path)
    except InputError as exc:
        out["problems"].append(f"archived output cannot be decoded: {exc.message}")
        return out
    new = oiio.read(fresh)
    out["bytes_identical"] = hash_file(fresh, algorithms=("sha256",)).sha256 == entry["output"]["sha256"]
    if exact:
        same = _same_pixels(new, old)
        out["comparison"] = {"mode": "bit-identical", "identical": same}
        if not same:
            diff = backends.compare(new, old, {"absolute_tolerance": 0, "relative_tolerance": 0,
                                               "mismatched_elements_per_million": 0})
            out["comparison"].update({k: diff[k] for k in ("mismatched", "elements", "max_abs_diff") if k in diff})
            out["problems"].append(f"pixels differ from the archived output ({diff.get('mismatched')} of "
                                   f"{diff.get('elements')} values; the same backend and versions must agree bit for bit)")
    else:
        result = backends.compare(new, old, tolerance)
        out["comparison"] = {"mode": "tolerance", **result}
        if not result["passed"]:
            out["problems"].append(f"pixels differ beyond the run's tolerance ({result['mismatched_per_million']} "
                                   f"mismatched per million, largest difference {result['max_abs_diff']:.3g})")
    fresh.unlink(missing_ok=True)
    out["ok"] = not out["problems"]
    return out


def _record(pkg: Package, rec: dict, report: dict) -> None:
    rel = Layout.record("inference", rec["id"])
    nums = [f["number"] for f in report["frames"]]
    outcome = "success" if report["ok"] else "failure"
    detail = (f"reproduced {len(nums)} frame(s) of inference run {rec['id']} ({ranges.show(nums)}) with "
              f"{report['backend']}, expecting {report['expectation']} pixels")
    od = "all frames agree" if report["ok"] else "frames that disagree: " + ranges.show(report["failed"])
    obj = {"path": rel, "role": "source"}
    listed = pkg.manifest("sha256").get(rel)
    if listed:
        obj["sha256"] = listed
    with pkg.transaction("reproduce") as txn:
        events.append(txn, events.new_event("reproduce", "validation", utcnow(), [obj],
                                            detail=detail, outcome=outcome, outcome_detail=od))
        txn.commit()


def chain_runs(pkg: Package, run: str | None) -> list[str]:
    """The runs of a chain ending in ``run`` (default: the latest complete run), first stage first."""
    rec = _pick_run(pkg, run)
    earlier = [m["run"] for m in (rec.get("upstream") or {}).get("models", [])]
    return [*earlier, rec["id"]]


def reproduce_chain(root: Path | str, *, run: str | None = None, **kwargs) -> dict:
    """Re-run every stage of a chain, first stage first, each from its archived inputs, and compare.

    Each stage reads what it read when it ran: the first the scan, a later one the earlier stage's archived
    outputs (its derived element), so each stage is judged on its own; ``kwargs`` go to ``reproduce``.
    Returns ``{"ok", "runs", "stages": [reproduce report, ...], "failed": [runs]}``.
    """
    pkg = Package.open(root)
    runs = chain_runs(pkg, run)
    stages = [reproduce(root, run=r, **kwargs) for r in runs]
    failed = [s["run"] for s in stages if not s["ok"]]
    return {"ok": not failed, "runs": runs, "stages": stages, "failed": failed,
            "checked": sum(s["checked"] for s in stages)}
