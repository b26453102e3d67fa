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
from archivist.imaging.pixels import written_pixel_hash
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
    # Where the conversions to the model's planes and to ACES run: None on the host (NumPy, OpenColorIO),
    # "device" in torch on the backend's device (archivist.inference.device_colour; the torch backends).
    colour_on: str | None = None


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
    ycc: np.ndarray | None  # (3, H, W) float32, the model's input (None when converted on the device)
    timings: dict[str, float]
    rgb: np.ndarray | None = None  # (H, W, 3) R'G'B' as read, when the conversion runs on the device


@dataclass(frozen=True)
class AcesFrame:
    """A frame already converted to ACES 2065-1 and rounded to half on the device: ready to write.

    Shape:
        pixels: (H, W, 3) float16.
    """

    pixels: np.ndarray


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
    # A half-float scan stays half until the conversion to the model's planes (exact, and half the bytes).
    rgb = oiio.read(path, channels=3, pixel_type="native")
    if rgb.shape[2] < 3:
        raise InputError("INFER-CHANNELS", f"source frame {job.number} has {rgb.shape[2]} channel(s); "
                         "the models work on R'G'B' frames")
    if spec.read_as is not None:
        from archivist.imaging import readback

        rgb = readback.to_working(rgb, spec.read_as)
    t2 = time.perf_counter()
    if spec.colour_on == "device":
        return Loaded(job, None, {"hash_source": t1 - t0, "read": t2 - t1}, rgb=rgb)
    ycc = colour.rgb_to_planar(rgb, spec.kr, spec.kb)
    t3 = time.perf_counter()
    return Loaded(job, ycc, {"hash_source": t1 - t0, "read": t2 - t1, "to_model": t3 - t2})


def _check_output(shape_in: tuple, out, number: int, finite: bool) -> None:
    if tuple(out.shape) != tuple(shape_in):
        raise InputError("INFER-MODEL-IO", f"the model turned a {tuple(shape_in)} input into {tuple(out.shape)}; "
                         "archivist expects Y'CbCr in and Y'CbCr out")
    if not finite:
        raise InputError("INFER-NONFINITE", f"the model produced NaN or infinite values on frame {number}")


def infer(spec: RunSpec, backend, loaded: Loaded) -> tuple[np.ndarray | AcesFrame, dict[str, float]]:
    """The model over the frame, tiled when asked.

    Returns (3, H, W) Y'CbCr float32, or with ``spec.colour_on == "device"`` the frame already in ACES
    2065-1 as an ``AcesFrame``.
    """
    if loaded.rgb is not None:
        return _infer_on_device(spec, backend, loaded)
    ycc = loaded.ycc
    if ycc is None:
        raise ValueError("the frame was loaded with neither the model's planes nor its R'G'B'")
    t0 = time.perf_counter()
    _, h, w = ycc.shape
    plan = tiling.plan(h, w, spec.tile, spec.overlap, spec.align, spec.margin)
    out = tiling.run_tiled(ycc, backend, plan, batch=spec.tile_batch)
    t1 = time.perf_counter()
    _check_output(ycc.shape, out, loaded.job.number, bool(np.isfinite(out).all()))
    return out, {"model": t1 - t0}


_DEVICE_COLOUR: dict = {}


def _device_colour(spec: RunSpec):
    from archivist.inference.device_colour import DeviceColour

    key = (spec.kr, spec.kb, spec.colour_source)
    if key not in _DEVICE_COLOUR:  # a race only builds the same object twice
        _DEVICE_COLOUR[key] = DeviceColour(spec.kr, spec.kb, spec.colour_source)
    return _DEVICE_COLOUR[key]


def _infer_on_device(spec: RunSpec, backend, loaded: Loaded) -> tuple[AcesFrame, dict[str, float]]:
    """R'G'B' up to the backend's device, to the model's planes, the model, to ACES, rounded to half, and back.

    One upload of the frame as read (half for a half-float scan) and one download of half-float ACES,
    instead of float32 planes both ways and both conversions on the host. Timings are host seconds, so a
    step's share of queued device work may be counted in the next one.
    """
    import torch

    if backend.run_tensor is None:
        raise InputError("INFER-BACKEND", f"backend {backend.name} cannot convert colours on its device")
    conv = _device_colour(spec)
    t0 = time.perf_counter()
    rgb = torch.from_numpy(loaded.rgb).to(backend.device)
    ycc = conv.to_model(rgb)
    del rgb
    t1 = time.perf_counter()
    _, h, w = ycc.shape
    plan = tiling.plan(h, w, spec.tile, spec.overlap, spec.align, spec.margin)
    if plan.count == 1:
        with torch.inference_mode():
            out = backend.run_tensor(ycc[None].contiguous())[0].float()
    else:  # tiles and their blending are the host's (tiling.run_tiled); each tile still runs on the device
        planes = ycc.cpu().numpy()
        out = torch.from_numpy(tiling.run_tiled(planes, backend, plan, batch=spec.tile_batch)).to(backend.device)
    _check_output(ycc.shape, out, loaded.job.number, bool(torch.isfinite(out).all()))
    t2 = time.perf_counter()
    with torch.inference_mode():
        pixels = conv.to_aces_half(out)
    t3 = time.perf_counter()
    return AcesFrame(pixels), {"device_to_model": t1 - t0, "model": t2 - t1, "device_colour": t3 - t2}


def finish(spec: RunSpec, ycc: np.ndarray | AcesFrame) -> np.ndarray:
    """The model's Y'CbCr back to the source's R'G'B', then to ACES 2065-1: (H, W, 3) float32.

    A frame converted on the device (``AcesFrame``) is returned as it is: (H, W, 3) float16.
    """
    if isinstance(ycc, AcesFrame):
        return ycc.pixels
    rgb = colour.planar_to_rgb(ycc, spec.kr, spec.kb)
    return aces.AcesConversion(spec.colour_source).apply_inplace(rgb)


def store(spec: RunSpec, job: FrameJob, ycc: np.ndarray | AcesFrame, signer=None) -> FrameResult:
    """Convert to ACES, write the frame, its sidecars and (when signing) its credential; the marker last."""
    t_colour = time.perf_counter()
    pixels = finish(spec, ycc)
    timings: dict[str, float] = {"colour": time.perf_counter() - t_colour}
    out_dir = Path(spec.scratch)
    files = names(spec, job.number)
    discard(spec, job.number, temporaries=False)  # a dead process's were swept at the run's start
    prov = spec.provenance
    keys = provenance.header_keys(prov, job.number, job.source_path, job.source_sha256)

    t0 = time.perf_counter()
    exr = out_dir / files["exr"]
    # OpenImageIO picks the format from the extension, so the temporary name keeps ".exr".
    tmp = exr.with_name(f".{exr.stem}.tmp-{os.getpid()}.exr")
    # numpy rounds to half exactly as OpenEXR does (same bytes), and faster than the writer's own conversion.
    half = pixels if pixels.dtype == np.float16 else pixels.astype(np.float16)
    oiio.write(tmp, half, pixel_type="half", attributes=provenance.exr_attributes(keys),
               compression=spec.compression)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    _fault(f"infer-exr-written-{job.number}")
    os.replace(tmp, exr)
    t1 = time.perf_counter()
    refs = {"exr": _ref(exr)}
    t2 = time.perf_counter()
    # The hash of the decoded file: from memory where the compression gives back every half written,
    # decoded from the file as written otherwise (a lossy compression's hash is of what it stored).
    refs["exr"]["pixels"] = {"scheme": pixels_scheme, "sha256": written_pixel_hash(exr, half, spec.compression)}
    del half
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


def discard(spec: RunSpec, number: int, *, temporaries: bool = True) -> None:
    """Remove whatever a frame left in the scratch directory (marker first).

    ``temporaries`` also removes the half-written files of a process that died writing the frame
    (``.<name>.tmp-<pid>``): that scans the directory, which holds up to a batch of frames (an eighth
    of a run's), so a run does it once at its start (``sweep``) and not for every frame.
    """
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
    if temporaries:
        for p in out_dir.glob(f".{stem}.*tmp-*"):
            p.unlink(missing_ok=True)


def sweep(spec: RunSpec) -> int:
    """Remove every half-written file in the scratch directory, in one scan; returns how many."""
    removed = 0
    with os.scandir(spec.scratch) as entries:
        for entry in entries:
            if entry.name.startswith(".") and ".tmp-" in entry.name and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _spec_for_doctest() -> RunSpec:
    prov = RunProvenance("urn:x", "r", "chroma", "t", "m", {"id": "e", "description": "d"}, None,
                         {"id": "m", "checkpoint": "c", "path": "p", "sha256": "0" * 64}, None, {}, "d", "v", {}, {},
                         "piz")
    return RunSpec("/", "/", "r", "print16_ML", 0.2126, 0.0722, "ACES2065-1", 0, 0, 1, None, 1, "piz", prov, sign=True)
