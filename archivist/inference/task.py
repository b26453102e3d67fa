"""One frame of an inference run, as a pure function of its inputs.

``run_frame(spec, job, backend, signer)`` reads one source frame from the
package (refusing it unless its SHA-256 is the one recorded), runs the
archived model over it, and writes the frame and its sidecars into the
run's scratch directory. It depends on nothing but its arguments and the
files they name, and changes nothing but its own output files, so frames
can be spread over processes or machines (a Ray task per frame, say) and
the results gathered afterwards.

Every file is written to a temporary name and renamed into place; the
frame's completion marker ``<name>.done.json``, listing every file with
its SHA-256, is renamed into place last. A frame counts as done only when
its marker exists and every file it lists still has that hash
(``completed``), so a frame cut off half-way is never mistaken for a
finished one: it is discarded and made again.

The work is split into ``load`` (hash-check, read, to the model's
Y'CbCr), ``infer`` (the model alone) and ``store`` (back to R'G'B', ACES
2065-1, encode, hash, sidecars, credential) so that the pipeline can run
the three on different threads for different frames and the model's
thread does nothing but run the model.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archivist.errors import InputError
from archivist.imaging import colour, oiio
from archivist.imaging.pixels import SCHEME as pixels_scheme
from archivist.imaging.pixels import pixel_hash
from archivist.inference import aces, provenance, tiling
from archivist.inference.provenance import RunProvenance
from archivist.package.faults import fault as _fault
from archivist.package.hashing import hash_file
from archivist.package.records import parse_json
from archivist.package.transaction import atomic_write

KINDS = ("exr", "json", "txt", "xmp", "c2pa")
MARKER = ".done.json"


@dataclass(frozen=True)
class RunSpec:
    """Everything every frame of a run shares; plain data, so it can be shipped to a worker."""

    root: str  # the package root
    scratch: str  # where the frames are written before they are committed
    run: str
    prefix: str  # output names are <prefix>.<number>.<ext>
    kr: float
    kb: float
    colour_source: str  # OpenColorIO colour space of the source frames
    tile: int
    overlap: int
    align: int
    margin: int | None
    tile_batch: int
    compression: str
    provenance: RunProvenance
    sign: bool = False
    ingredients: tuple = ()  # C2PA inputTo ingredients (model, dataset record)
    c2pa_parameters: dict = field(default_factory=dict)
    read_as: dict | None = None  # a derived element's outputs are read back to the working R'G'B' (imaging.readback)
    training_mining: dict | None = None  # the cawg.training-mining assertion of every frame's credential


@dataclass(frozen=True)
class FrameJob:
    number: int
    source_path: str  # package-relative
    source_sha256: str


@dataclass
class FrameResult:
    number: int
    files: dict[str, dict]  # kind -> {"name", "sha256", "size"}
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False  # found complete in the scratch directory, not computed now


@dataclass
class Loaded:
    job: FrameJob
    ycc: np.ndarray  # (3, H, W) float32, the model's input
    timings: dict[str, float]


def names(spec: RunSpec, number: int) -> dict[str, str]:
    """The file names of one frame's outputs.

    >>> sorted(names(_spec_for_doctest(), 1001).values())
    ['print16_ML.1001.c2pa', 'print16_ML.1001.exr', 'print16_ML.1001.json', 'print16_ML.1001.txt', 'print16_ML.1001.xmp']
    """
    stem = f"{spec.prefix}.{int(number):04d}"
    out = {kind: f"{stem}.{kind}" for kind in KINDS}
    if not spec.sign:
        out.pop("c2pa")
    return out


def _ref(path: Path) -> dict:
    fx = hash_file(path, algorithms=("sha256",))
    return {"name": path.name, "sha256": fx.sha256, "size": fx.size}


# -- the three stages -------------------------------------------------------------------
def load(spec: RunSpec, job: FrameJob) -> Loaded:
    """Read one source frame, refusing it unless it is the frame the package records."""
    t0 = time.perf_counter()
    path = Path(spec.root) / job.source_path
    try:
        actual = hash_file(path, algorithms=("sha256",)).sha256
    except FileNotFoundError:
        raise InputError("INFER-SOURCE-MISSING", f"source frame {job.number} ({job.source_path}) is missing") from None
    t1 = time.perf_counter()
    if actual != job.source_sha256:
        raise InputError("INFER-SOURCE-ALTERED", f"source frame {job.number} ({job.source_path}) has SHA-256 "
                         f"{actual}, the element record says {job.source_sha256}",
                         hint="run 'archivist verify'; archivist will not infer from an altered frame")
    rgb = oiio.read(path, channels=3)
    if rgb.shape[2] < 3:
        raise InputError("INFER-CHANNELS", f"source frame {job.number} has {rgb.shape[2]} channel(s); "
                         "the models work on R'G'B' frames")
    if spec.read_as is not None:
        from archivist.imaging import readback

        rgb = readback.to_working(rgb, spec.read_as)
    t2 = time.perf_counter()
    ycc = colour.rgb_to_planar(rgb, spec.kr, spec.kb)
    t3 = time.perf_counter()
    return Loaded(job, ycc, {"hash_source": t1 - t0, "read": t2 - t1, "to_model": t3 - t2})


def infer(spec: RunSpec, backend, loaded: Loaded) -> tuple[np.ndarray, dict[str, float]]:
    """The model over the frame, tiled when asked: (3, H, W) Y'CbCr float32."""
    t0 = time.perf_counter()
    _, h, w = loaded.ycc.shape
    plan = tiling.plan(h, w, spec.tile, spec.overlap, spec.align, spec.margin)
    out = tiling.run_tiled(loaded.ycc, backend, plan, batch=spec.tile_batch)
    t1 = time.perf_counter()
    if out.shape != loaded.ycc.shape:
        raise InputError("INFER-MODEL-IO", f"the model turned a {loaded.ycc.shape} input into {out.shape}; "
                         "archivist expects Y'CbCr in and Y'CbCr out")
    if not np.isfinite(out).all():
        raise InputError("INFER-NONFINITE", f"the model produced NaN or infinite values on frame {loaded.job.number}")
    return out, {"model": t1 - t0}


def finish(spec: RunSpec, ycc: np.ndarray) -> np.ndarray:
    """The model's Y'CbCr back to the source's R'G'B', then to ACES 2065-1: (H, W, 3) float32."""
    rgb = colour.planar_to_rgb(ycc, spec.kr, spec.kb)
    return aces.AcesConversion(spec.colour_source).apply_inplace(rgb)


def store(spec: RunSpec, job: FrameJob, ycc: np.ndarray, signer=None) -> FrameResult:
    """Convert to ACES, write the frame, its sidecars and (when signing) its credential; the marker last."""
    t_colour = time.perf_counter()
    pixels = finish(spec, ycc)
    timings: dict[str, float] = {"colour": time.perf_counter() - t_colour}
    out_dir = Path(spec.scratch)
    files = names(spec, job.number)
    discard(spec, job.number)
    prov = spec.provenance
    keys = provenance.header_keys(prov, job.number, job.source_path, job.source_sha256)

    t0 = time.perf_counter()
    exr = out_dir / files["exr"]
    # OpenImageIO picks the format from the extension, so the temporary name keeps ".exr".
    tmp = exr.with_name(f".{exr.stem}.tmp-{os.getpid()}.exr")
    # numpy rounds to half exactly as OpenEXR does (same bytes), and faster than the writer's own conversion.
    oiio.write(tmp, pixels.astype(np.float16), pixel_type="half", attributes=provenance.exr_attributes(keys),
                  compression=spec.compression)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    _fault(f"infer-exr-written-{job.number}")
    os.replace(tmp, exr)
    t1 = time.perf_counter()
    refs = {"exr": _ref(exr)}
    t2 = time.perf_counter()
    # Decoded from the file as written (not from memory), so a lossy compression's hash is of what it stored.
    refs["exr"]["pixels"] = {"scheme": pixels_scheme, "sha256": pixel_hash(exr)}
    t_pixels = time.perf_counter()

    from archivist.package.layout import Layout

    credential = Layout.output_file(spec.run, files["c2pa"]) if spec.sign else None
    record = provenance.sidecar(
        prov, keys, number=job.number, source={"path": job.source_path, "sha256": job.source_sha256},
        output={"path": Layout.output_file(spec.run, files["exr"]), "sha256": refs["exr"]["sha256"],
                "size": refs["exr"]["size"], "pixels": refs["exr"]["pixels"]},
        credential=credential)
    for kind, data in (("json", provenance.sidecar_bytes(record)),
                       ("txt", provenance.text_sidecar(record).encode("utf-8")),
                       ("xmp", provenance.xmp_sidecar(record))):
        path = out_dir / files[kind]
        atomic_write(path, data)
        refs[kind] = {"name": path.name, "sha256": _sha256(data), "size": len(data)}
    t3 = time.perf_counter()
    if spec.sign:
        if signer is None:
            raise InputError("SIGN-NO-KEY", "this run signs its frames, but no signer was given")
        from archivist.credentials import sign_frame

        signed = sign_frame(
            signer, exr, source_frame={"path": job.source_path, "sha256": job.source_sha256,
                                       "title": Path(job.source_path).name},
            ingredients=[dict(i) for i in spec.ingredients], digital_source_type=prov.source_type["uri"],
            software_agent={"name": "archivist", "version": prov.archivist_version},
            parameters={**spec.c2pa_parameters, "frame": job.number},
            out_manifest_path=out_dir / files["c2pa"], asset_sha256=refs["exr"]["sha256"], overwrite=True,
            training_mining=spec.training_mining)
        refs["c2pa"] = {"name": files["c2pa"], "sha256": signed.sha256, "size": signed.size}
    t4 = time.perf_counter()
    marker = {"frame": job.number, "source": {"path": job.source_path, "sha256": job.source_sha256},
              "files": refs}
    atomic_write(out_dir / f"{names_stem(spec, job.number)}{MARKER}",
                  json.dumps(marker, sort_keys=True, indent=1).encode())
    timings.update({"encode_exr": t1 - t0, "hash_output": t2 - t1, "pixel_hash": t_pixels - t2,
                    "sidecars": t3 - t_pixels, "sign": t4 - t3})
    return FrameResult(job.number, refs, timings)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def names_stem(spec: RunSpec, number: int) -> str:
    return f"{spec.prefix}.{int(number):04d}"


def run_frame(spec: RunSpec, job: FrameJob, backend, signer=None) -> FrameResult:
    """Load, infer and store one frame: the unit of work to fan out."""
    loaded = load(spec, job)
    pixels, t_infer = infer(spec, backend, loaded)
    result = store(spec, job, pixels, signer)
    result.timings.update(loaded.timings)
    result.timings.update(t_infer)
    return result


# -- finding finished work -----------------------------------------------------------------
def completed(spec: RunSpec, job: FrameJob) -> FrameResult | None:
    """The frame's result if it is complete in the scratch directory and every hash still matches."""
    out_dir = Path(spec.scratch)
    marker = out_dir / f"{names_stem(spec, job.number)}{MARKER}"
    try:
        data = parse_json(marker.read_bytes())
    except (OSError, ValueError):
        return None
    expected = names(spec, job.number)
    files = data.get("files") if isinstance(data, dict) else None
    if (not isinstance(files, dict) or set(files) != set(expected)
            or data.get("source") != {"path": job.source_path, "sha256": job.source_sha256}):
        return None
    for kind, ref in files.items():
        if not isinstance(ref, dict) or ref.get("name") != expected[kind]:
            return None
        path = out_dir / ref["name"]
        try:
            if hash_file(path, algorithms=("sha256",)).sha256 != ref.get("sha256"):
                return None
        except FileNotFoundError:
            return None
    return FrameResult(job.number, files, {}, reused=True)


def discard(spec: RunSpec, number: int) -> None:
    """Remove whatever a frame left in the scratch directory (marker first)."""
    out_dir = Path(spec.scratch)
    stem = names_stem(spec, number)
    try:
        (out_dir / f"{stem}{MARKER}").unlink()
    except FileNotFoundError:
        pass
    for name in list(names(spec, number).values()) + [f"{stem}.c2pa"]:
        for p in (out_dir / name,):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
    for p in out_dir.glob(f".{stem}.*tmp-*"):
        p.unlink(missing_ok=True)


def _spec_for_doctest() -> RunSpec:
    prov = RunProvenance("urn:x", "r", "chroma", "t", "m", {"id": "e", "description": "d"}, None,
                         {"id": "m", "checkpoint": "c", "path": "p", "sha256": "0" * 64}, None, {}, "d", "v", {}, {},
                         "piz")
    return RunSpec("/", "/", "r", "print16_ML", 0.2126, 0.0722, "ACES2065-1", 0, 0, 1, None, 1, "piz", prov, sign=True)
