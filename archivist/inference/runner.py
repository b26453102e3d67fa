"""``archivist infer``: a run of the archived model over a source element.

A run is recorded in ``data/records/inference/<run>.json`` and written in
short transactions, each with an event:

1. at the start, after every check has passed (the model's hashes and
   ``onnx.checker``, the source frames' hashes, the colour space, the
   signing identity, the backend's parity with onnxruntime CPU), the run
   record with ``status: running``, its settings and its frame list;
2. every ``commit_every`` frames (or ``commit_seconds``), the finished
   frames with their sidecars and credentials and the updated record;
3. at the end, ``status: complete``.

Frames are computed by ``task`` into the run's scratch directory
(``.archivist/runs/<run>``) and taken into the bag by hard link, so a run
killed at any moment leaves a valid package. Running the same command
again resumes the run: frames already committed are re-hashed and
skipped, frames finished in the scratch directory whose hashes still
match are committed without being recomputed, and anything half-written
is discarded and made again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from archivist import __version__, machine
from archivist.errors import ArchivistError, InputError, InterruptedTransactionError, PackageError
from archivist.imaging import colourspaces
from archivist.inference import (
    COMPRESSIONS,
    DEFAULT_COMMIT_EVERY,
    aces,
    archived,
    backends,
    pipeline,
    policy,
    provenance,
    recorded,
    task,
)
from archivist.inference import frames as framesel
from archivist.package import Package, events, kinds, ranges, records, rights
from archivist.package.hashing import hash_file, map_files
from archivist.package.layout import WORK_DIR, Layout
from archivist.package.locking import ScratchLock, when_unlocked
from archivist.package.transaction import utcnow
from archivist.progress import start

LABEL = kinds.INFERENCE_RUN.label
AUTO_TILE_PIXELS = 2048 * 2048  # larger frames are tiled by default
AUTO_TILE = 1024
RECORD_GROWTH = 8  # a batch commit holds at least 1/8 of the frames already committed (see Committer.due)
LOCK_WAIT = 120.0  # seconds a batch commit waits for another command's write lock

# bioimage.io's names. Between backends, half-float outputs differ by a unit
# in the last place where float32 results straddle a rounding boundary.
DEFAULT_TOLERANCE = {"absolute_tolerance": 1e-4, "relative_tolerance": 2e-3, "mismatched_elements_per_million": 100}


@dataclass
class InferOptions:
    model: str | None = None
    frames: str | None = None
    element: str | None = None
    device: str = "auto"
    backend: str = "auto"
    tile: int | None = None  # None: automatic; 0: whole frames
    overlap: int | None = None  # None: twice the model's receptive radius and a blend band
    tile_batch: int = 1
    compression: str = "piz"
    source_type: str | None = None
    colour_space: str | None = None
    run: str | None = None
    commit_every: int = DEFAULT_COMMIT_EVERY
    commit_seconds: float = 120.0
    threads: int | None = None
    queue_depth: int = 2  # frames read ahead of, and written behind, the model
    # Colour conversions in torch on the backend's device: None for the CUDA backends that run torch
    # (where the colour space's transform allows it), True to ask for it (INFER-COLOUR-DEVICE if it
    # cannot be done), False for NumPy and OpenColorIO on the host.
    colour_on_device: bool | None = None
    sign: bool = False
    cert: Path | None = None
    key: Path | None = None
    alg: str | None = None
    tsa_url: str | None = None
    signer: object | None = None  # a ready credentials.Signer (a callback or HSM signer)
    seal: bool = True  # with signing, also seal the package's tag manifest at the end
    scope: dict | None = None  # the shot or scene the run is for, as recorded (archivist.inference.scoped)
    ray: str | None = None  # None: on this machine; "local" or a Ray address: frames on Ray workers (onray)
    workers: int | None = None  # Ray workers (default: one per GPU for CUDA backends, one per CPU otherwise)
    ray_runtime_env: dict | None = None  # Ray's runtime_env for the workers (env vars, py_modules)


# -- small pure helpers ----------------------------------------------------------------------
def processing_date() -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible-builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))
        except ValueError:
            raise InputError("INFER-DATE", f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    return utcnow()


def digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def versions() -> dict:
    """Library versions that can change an output's bits or bytes."""
    import numpy
    import onnx
    import onnxruntime
    import OpenImageIO
    import PyOpenColorIO

    out = {"archivist": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
           "openimageio": OpenImageIO.__version__, "opencolorio": PyOpenColorIO.__version__}
    try:
        import torch
        out["torch"] = torch.__version__
    except ImportError:  # torch is only needed by the torch backends
        pass
    return out


def run_ids(pkg: Package) -> list[str]:
    return pkg.record_ids("inference")


def read_run(pkg: Package, run: str) -> dict:
    return pkg.read_kind("inference", run, LABEL, "INFER-NO-RUN", "inference run")


def _next_run_id(pkg: Package, model: str) -> str:
    return pkg.next_id("inference", "infer")


def _output_prefix(element: str) -> str:
    return f"{element}_ML"


# -- the run's inputs ------------------------------------------------------------------------
def _elements(pkg: Package, model: archived.ArchivedModel, wanted: str | None) -> tuple[dict, dict | None]:
    ds = model.dataset_record or {}
    source_id = wanted or ds.get("source_element")
    if source_id is None:
        sources = [e for e in pkg.elements() if e["role"] == "source"]
        if len(sources) != 1:
            raise InputError("INFER-ELEMENT", "cannot tell which source element to run the model on",
                             hint="give --element")
        source_id = sources[0]["id"]
    if not pkg.has_element(source_id):
        raise InputError("INFER-ELEMENT", f"no element {source_id!r} in the package")
    source = pkg.element(source_id)
    if source["role"] != "source":
        raise InputError("INFER-ELEMENT", f"element {source_id!r} is a {source['role']}, not a source")
    if source["scan"]["channels"] < 3:
        raise InputError("INFER-CHANNELS", f"element {source_id!r} has {source['scan']['channels']} channel(s); "
                         "the models work on R'G'B' frames")
    ref_id = ds.get("reference_element")
    reference = pkg.element(ref_id) if ref_id and pkg.has_element(ref_id) else None
    return source, reference


def _element_record(element: dict) -> str:
    """The record of an element or of a derived element."""
    if element.get("schema") == kinds.DERIVED_ELEMENT.label:
        return Layout.record(kinds.DERIVED_ELEMENT, element["id"])
    return Layout.element_record(element["id"])


def upstream_of(pkg: Package, source: dict) -> dict | None:
    """For a derived source element, the chain it comes from: its record and every model before this stage.

    Returns None for an element (a scan); otherwise ``{"element", "record", "run", "models"}`` with
    ``models`` in chain order, first stage first, each ``{"id", "path", "sha256", "run", "mode"}``.
    """
    if source.get("schema") != kinds.DERIVED_ELEMENT.label:
        return None
    d = source["derived_from"]
    rel = Layout.record(kinds.DERIVED_ELEMENT, source["id"])
    earlier = read_run(pkg, d["run"])
    models = [dict(m) for m in (earlier.get("upstream") or {}).get("models", [])]
    models.append({**d["model"], "run": d["run"], "mode": d.get("mode", earlier["provenance"]["mode"])})
    return {"element": source["id"], "record": {"path": rel, "sha256": pkg.manifest("sha256").get(rel, "")},
            "run": d["run"], "models": models}


def _colour_space(options: InferOptions, source: dict, model: archived.ArchivedModel) -> tuple[str, str]:
    given = (options.colour_space or source["scan"].get("colour_space")
             or (model.dataset_record or {}).get("colour", {}).get("source_colour_space"))
    if not given:
        raise InputError("INFER-COLOUR-SPACE", f"the colour space of element {source['id']!r} is not recorded",
                         hint=f"record it with 'archivist amend PKG --element {source['id']} --colour-space NAME' "
                              "or give --colour-space NAME, NAME one of: " + ", ".join(colourspaces.accepted_names()))
    return given, aces.resolve(given)


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def _tile(options: InferOptions, source: dict, model: archived.ArchivedModel) -> tuple[int, int]:
    """Tile size (0: whole frames) and overlap. The default overlap holds the receptive radius twice
    (both tiles of an overlap exact) plus a 32-pixel blend band."""
    w, h = source["scan"]["width"], source["scan"]["height"]
    if min(w, h) < model.min_size:
        raise InputError("INFER-FRAME-SIZE", f"frames of {source['id']} are {w}x{h}; model {model.id} needs at "
                         f"least {model.min_size} pixels each way")
    tile = options.tile
    if tile is None:
        tile = AUTO_TILE if w * h > AUTO_TILE_PIXELS and not model.whole_frames else 0
    if tile < 0:
        raise InputError("INFER-TILE", "--tile must be 0 (whole frames) or a tile size in pixels")
    if tile == 0 or tile >= max(w, h):
        return 0, 0
    if model.whole_frames:
        raise InputError("INFER-TILE", f"model {model.id} must see whole frames: its frame field corrects each "
                         "pixel by its place in the frame, which a tile does not know",
                         hint="leave out --tile (or give --tile 0)")
    overlap = options.overlap
    if overlap is None:
        overlap = _round_up(2 * model.receptive_radius + 32, model.align)
    if tile < max(model.min_size, model.align) or overlap >= tile:
        raise InputError("INFER-TILE", f"--tile {tile} must be larger than the overlap ({overlap} px) and at least "
                         f"{max(model.min_size, model.align)} px for model {model.id}",
                         hint=f"the model's receptive radius is {model.receptive_radius} px; give a larger --tile "
                              "or a smaller --overlap")
    return tile, overlap


def _check_sources(pkg: Package, jobs: list[task.FrameJob], progress=None) -> None:
    """Every source frame must still be the one recorded, before any output is written."""
    bar = start(progress, total=len(jobs), desc="checking source frames", unit="frame")
    bad = []
    items = [(pkg.layout.path(j.source_path), j) for j in jobs]

    def one(path, job, progress=None):
        return hash_file(path, algorithms=("sha256",))

    for (_path, job), result in map_files(one, items):
        bar.update(1)
        if isinstance(result, BaseException):
            bad.append(f"frame {job.number}: {job.source_path} cannot be read ({result.strerror or result})")
        elif result.sha256 != job.source_sha256:
            bad.append(f"frame {job.number}: {job.source_path} has SHA-256 {result.sha256}, the element record "
                       f"says {job.source_sha256}")
    bar.close()
    if bad:
        raise InputError("INFER-SOURCE-ALTERED", f"{len(bad)} source frame(s) differ from the package's records; "
                         "nothing was written:\n  " + "\n  ".join(bad[:20]),
                         hint="run 'archivist verify'; archivist will not infer from altered frames")


def _parity_tile(ycc, align: int, size: int = 256) -> tuple:
    """A centred window of the first frame, aligned to the model's downsampling."""
    _, h, w = ycc.shape
    th, tw = min(h, size), min(w, size)
    y = max(0, (h - th) // 2 // align * align)
    x = max(0, (w - tw) // 2 // align * align)
    return ycc[None, :, y:y + th, x:x + tw], {"x": x, "y": y, "width": tw, "height": th}


# -- scratch directory -------------------------------------------------------------------------
def remove_scratch(root: Path, scratch: Path) -> None:
    """Delete a run's scratch folder, then its parent and the work folder if they are left empty."""
    shutil.rmtree(scratch, ignore_errors=True)
    for d in (scratch.parent, root / WORK_DIR):
        try:
            d.rmdir()
        except OSError:
            pass


# -- the record -----------------------------------------------------------------------------------
def training_rights(root: Path, rec: dict) -> list[dict]:
    """The rights of every element a run's outputs are made from: its source and what its model was trained on."""
    pkg = Package.open(root)
    out = []
    try:
        out.append(pkg.element_rights(rec["source"]["element"]))
    except (ArchivistError, KeyError):
        pass  # a derived element (an earlier run's outputs): its rights are those of what that run was made from
    card = pkg.read_record(rec["model"]["card"]["path"], kinds.MODEL_CARD.label)
    seen = {r["element"] for r in out}
    for r in card.get("training_data_rights", []):
        if r["element"] not in seen:
            seen.add(r["element"])
            out.append(r)
    return out


def spec_from_record(root: Path, rec: dict, scratch: Path, *, sign: bool | None = None) -> task.RunSpec:
    s = rec["settings"]
    model = rec["model"]
    sign = bool(rec.get("signing")) if sign is None else sign
    claim = recorded.claim_from_record(rec)
    # Rights travel with the work: every signed frame carries the training permission its inputs allow.
    mining = rights.training_mining(training_rights(root, rec)) if sign else None
    return task.RunSpec(
        root=str(root), scratch=str(scratch), run=rec["id"], prefix=s["output_prefix"],
        kr=model["luma_coefficients"]["kr"], kb=model["luma_coefficients"]["kb"],
        colour_source=s["colour"]["conversion"]["source"], tile=s["tiling"]["tile"], overlap=s["tiling"]["overlap"],
        align=s["tiling"]["align"], margin=s["tiling"]["margin"] if s["tiling"]["tile"] else None, tile_batch=s["tiling"]["batch"], compression=s["compression"],
        provenance=recorded.provenance_from_record(rec), sign=sign, ingredients=claim.ingredients,
        c2pa_parameters=claim.parameters, read_as=s["colour"].get("input"), training_mining=mining,
        colour_on="device" if s["colour"].get("on_device") else None)


def frame_jobs(source: dict, numbers: list[int]) -> list[task.FrameJob]:
    by_number = {f["number"]: f for f in source["frames"]}
    return [task.FrameJob(n, by_number[n]["path"], by_number[n]["sha256"]) for n in numbers]


def _frame_entry(spec: task.RunSpec, job: task.FrameJob, refs: dict[str, dict]) -> dict:
    def ref(kind):
        r = refs[kind]
        return {"path": Layout.output_file(spec.run, r["name"]), "sha256": r["sha256"], "size": r["size"]}

    output = ref("exr")
    if refs["exr"].get("pixels"):
        output["pixels"] = dict(refs["exr"]["pixels"])  # the pixel hash (archivist-pixels/1) store() recorded
    return {"number": job.number, "source": {"path": job.source_path, "sha256": job.source_sha256},
            "output": output, "sidecars": {"json": ref("json"), "text": ref("txt"), "xmp": ref("xmp")},
            "credential": ref("c2pa") if "c2pa" in refs else None}


# -- committing ---------------------------------------------------------------------------------------
class Committer:
    """Takes finished frames from the scratch directory into the bag, a batch per transaction."""

    def __init__(self, pkg: Package, spec: task.RunSpec, rec: dict, jobs: dict[int, task.FrameJob]):
        self.pkg, self.spec, self.rec, self.jobs = pkg, spec, rec, jobs
        self.pending: list[task.FrameResult] = []
        self.last = time.monotonic()
        self.commits = 0

    def add(self, result: task.FrameResult) -> None:
        self.pending.append(result)

    def due(self, every: int, seconds: float) -> bool:
        """Whether to commit now: ``every`` frames or ``seconds`` since the last commit, but never a batch
        smaller than 1/RECORD_GROWTH of the frames already committed.

        Each commit rewrites the run record with every frame so far (each frame's entry is validated once,
        when it is new); fixed batches made that quadratic in the run's length. Batches that grow with
        the record keep the total within RECORD_GROWTH + 1 writes of the final record. Nothing is lost
        by committing less often: frames finished in the scratch directory are taken in without being
        recomputed when a killed run is resumed.
        """
        floor = len(self.rec["frames"]) // RECORD_GROWTH
        n = len(self.pending)
        return n >= max(every, floor) or bool(n and n >= floor and time.monotonic() - self.last >= seconds)

    def commit(self, *, final: bool = False, force: bool = False, detail: str | None = None,
               objects: list[dict] | None = None) -> None:
        if not self.pending and not final and not force:
            return
        rec, spec = self.rec, self.spec
        scratch = Path(spec.scratch)
        run_rel = Layout.record("inference", spec.run)
        entries = []
        with _transaction(self.pkg) as txn:
            for res in self.pending:
                job = self.jobs[res.number]
                for _kind, ref in res.files.items():
                    rel = Layout.output_file(spec.run, ref["name"])
                    dest = txn.staging_path(rel)
                    try:
                        os.link(scratch / ref["name"], dest)
                    except OSError:
                        shutil.copyfile(scratch / ref["name"], dest)
                    fx = txn.adopt(rel)
                    if fx.sha256 != ref["sha256"]:
                        raise PackageError("INFER-SCRATCH-ALTERED", f"{ref['name']} changed after it was written "
                                           f"(SHA-256 {fx.sha256}, expected {ref['sha256']}); nothing was committed",
                                           hint="run the same command again: the frame will be made anew")
                entries.append(_frame_entry(spec, job, res.files))
            done = {f["number"]: f for f in rec["frames"]}
            done.update({e["number"]: e for e in entries})
            rec["frames"] = [done[n] for n in sorted(done)]
            now = utcnow()
            rec["updated"] = now
            if final:
                rec["status"] = "complete"
                rec["completed"] = now
            existed = txn.exists(run_rel)
            records.check_grown(rec, LABEL, "frames", entries)
            with txn.writing(run_rel, replace=existed) as out:  # in pieces: the record is not held twice
                for piece in records.iter_bytes(rec):
                    out.write(piece)
            fx = out.fixity()
            objects = [{"path": run_rel, "role": "modified" if existed else "created", "sha256": fx.sha256},
                       *(objects or [])]
            if entries:
                objects.append({"path": Layout.stage_dir("outputs", spec.run), "role": "modified" if rec["frames"][:-len(entries)] else "created"})
            if detail is None:
                nums = [e["number"] for e in entries]
                detail = (f"inference run {spec.run}: frames {ranges.show(nums)} written ({len(rec['frames'])} of "
                          f"{len(rec['planned_frames'])})" if nums else f"inference run {spec.run}")
                if final:
                    detail += "; run complete"
            events.append(txn, events.new_event("infer", "creation", now, objects, detail=detail))
            txn.commit()
        for res in self.pending:
            task.discard(spec, res.number, temporaries=False)
        self.pending = []
        self.last = time.monotonic()
        self.commits += 1


def _transaction(pkg: Package, wait: float = LOCK_WAIT):
    """The package's transaction, waiting a while for another writer: a long run should not die of a short ``add``."""
    return when_unlocked(lambda: pkg.transaction("infer"), wait)


def _also_failed(first: BaseException, second: BaseException) -> None:
    """Keep ``first`` as the error reported, and say beside it that committing the finished frames failed too.

    >>> err = InputError("INFER-NONFINITE", "NaN on frame 1003")
    >>> _also_failed(err, PackageError("PACKAGE-LOCKED", "another command holds the lock"))
    >>> err.hint
    'the frames finished before it were not committed either (PACKAGE-LOCKED: another command holds the lock); run the same command again to commit them'
    """
    said = f"{second.code}: {second.message}" if isinstance(second, ArchivistError) else f"{type(second).__name__}: {second}"
    note = f"the frames finished before it were not committed either ({said}); run the same command again to commit them"
    first.add_note(note)
    if isinstance(first, ArchivistError):
        first.hint = f"{first.hint}; {note}" if first.hint else note


# -- the command ------------------------------------------------------------------------------------
def infer(root: Path | str, options: InferOptions | None = None, *, progress=None) -> dict:
    """Run (or resume) inference; returns a summary of what was done."""
    options = options or InferOptions()
    pkg = Package.open(root)
    root = pkg.root
    if pkg.interrupted():
        raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {root} was interrupted",
                                          hint=f"run 'archivist recover {root}' first; a killed infer resumes after that")
    if options.compression not in COMPRESSIONS:
        raise InputError("INFER-COMPRESSION", f"compression must be one of {', '.join(COMPRESSIONS)}")
    if options.commit_every < 1:
        raise InputError("INFER-COMMIT", "--commit-every must be at least 1")
    if options.queue_depth < 1:
        raise InputError("INFER-QUEUE", "--queue-depth must be at least 1")
    if (options.overlap is not None and options.overlap < 0) or options.tile_batch < 1:
        raise InputError("INFER-TILE", "--overlap must be 0 or more and the tile batch at least 1")
    if options.ray is not None:
        if options.signer is not None:
            raise InputError("INFER-RAY-SIGNER", "a ready signer object cannot be sent to Ray workers",
                             hint="give the certificate and key as files (--cert/--key or their environment "
                                  "variables) on the shared filesystem")
        if options.workers is not None and options.workers < 1:
            raise InputError("RAY-WORKER", "--workers must be at least 1")

    t_start = time.perf_counter()
    model = archived.load(pkg, options.model)
    source, reference = _elements(pkg, model, options.element)
    numbers = framesel.select([f["number"] for f in source["frames"]], options.frames)
    given_space, ocio_space = _colour_space(options, source, model)
    upstream = upstream_of(pkg, source)
    if upstream is not None:
        from archivist.imaging import readback

        readback.check(source["read_as"])
    decision = policy.decide(model.mode, model.luma_preserved, options.source_type,
                             upstream=tuple(m["mode"] for m in upstream["models"]) if upstream else ())
    tile, overlap = _tile(options, source, model)
    backend_name = backends.choose(options.backend, options.device)

    signer, own_signer = None, False
    if options.sign or options.signer is not None:
        from archivist import credentials
        if options.signer is not None:
            signer = options.signer
        else:
            signer = credentials.resolve_signer(options.cert, options.key, options.alg, options.tsa_url)
            own_signer = True
        credentials.preflight(signer)
    try:
        if options.ray is None:
            return _infer(pkg, options, model, source, reference, numbers, given_space, ocio_space, decision, tile,
                          overlap, backend_name, signer, t_start, progress)
        from archivist import cluster

        with cluster.connect(options.ray) as facts:
            ray_run: dict = {"facts": facts, "signing": _signing_files(options) if signer is not None else None}
            try:
                return _infer(pkg, options, model, source, reference, numbers, given_space, ocio_space, decision,
                              tile, overlap, backend_name, signer, t_start, progress, ray_run=ray_run)
            finally:
                if ray_run.get("pool") is not None:
                    ray_run["pool"].close()
    finally:
        if own_signer:
            signer.close()


def _signing_files(options: InferOptions) -> dict:
    """The signing identity as absolute paths, for workers that read it from the shared filesystem."""
    from archivist.credentials.signer import ENV_ALG, ENV_CERT, ENV_KEY, ENV_TSA

    cert = options.cert or os.environ.get(ENV_CERT)
    key = options.key or os.environ.get(ENV_KEY)
    return {"cert": str(Path(cert).resolve()), "key": str(Path(key).resolve()),
            "alg": options.alg or os.environ.get(ENV_ALG) or None,
            "tsa_url": options.tsa_url if options.tsa_url is not None else os.environ.get(ENV_TSA) or None}


def _infer(pkg, options, model, source, reference, numbers, given_space, ocio_space, decision, tile, overlap,
           backend_name, signer, t_start, progress, ray_run: dict | None = None) -> dict:
    root = pkg.root
    threads = options.threads
    if ray_run is not None and threads is None and not backend_name.endswith("cuda"):
        threads = 1  # one thread per worker; the driver's engine is built the same way, so the record is theirs
    engine = backends.create(backend_name, model.data, threads=threads)
    jobs_all = frame_jobs(source, numbers)
    settings = {
        "output_prefix": _output_prefix(source["id"]),
        "compression": options.compression,
        "pixel_type": "half",
        "tiling": {"tile": tile, "overlap": overlap, "align": model.align,
                   "margin": min(model.receptive_radius, overlap // 2) if tile else 0,
                   "exact": (not tile) or overlap > 2 * model.receptive_radius,
                   "batch": options.tile_batch},
        "colour": {"recorded": given_space, "conversion": aces.AcesConversion(ocio_space).as_record(),
                   "chromaticities": list(aces.AP0_CHROMATICITIES)},
        "commit_every": options.commit_every,
    }
    if source.get("read_as"):
        settings["colour"]["input"] = dict(source["read_as"])
    if _colour_on_device(options.colour_on_device, engine, ocio_space):
        settings["colour"]["on_device"] = True  # only when set, so the digests of host runs stay as they were
    fingerprint = {
        "model": model.sha256, "element": source["id"], "frames": numbers, "backend": backends.fingerprint(engine.info),
        "settings": {k: v for k, v in settings.items() if k != "commit_every"}, "source_type": decision.uri,
        "signed": signer is not None, "archivist": __version__,
    }
    if options.scope:
        fingerprint["scope"] = dict(options.scope)  # a shot's run is its own, even over the same frames
    settings_digest = digest(fingerprint)

    rec, resumed = _find_run(pkg, options.run, settings_digest)
    if rec is not None and rec["status"] == "complete":
        return {"ok": True, "run": rec["id"], "record": Layout.record("inference", rec["id"]), "status": "complete",
                "resumed": False, "model": model.id, "backend": engine.info, "parity": None,
                "digital_source_type": rec["digital_source_type"],
                "frames": {"planned": len(numbers), "computed": 0, "reused": 0, "skipped": len(rec["frames"])},
                "skipped_frames": [f["number"] for f in rec["frames"]], "reused_frames": [],
                "outputs": Layout.stage_dir("outputs", rec["id"]), "sealed": None, "already_complete": True,
                "seconds": round(time.perf_counter() - t_start, 3), "loop_seconds": 0.0,
                "frames_per_second": None, "timings": {}}
    run_id = rec["id"] if rec else (options.run or _next_run_id(pkg, model.id))
    scratch = root / Layout.run_scratch(run_id)

    done_numbers = {f["number"] for f in rec["frames"]} if rec else set()
    if rec:
        _verify_committed(pkg, rec, progress)
    todo_jobs = [j for j in jobs_all if j.number not in done_numbers]
    _check_sources(pkg, todo_jobs, progress)

    parity = None
    if backend_name != backends.REFERENCE and todo_jobs:
        parity = _parity(model, engine, todo_jobs[0], root, options.threads, source.get("read_as"))
        if not parity["passed"]:
            raise InputError("INFER-PARITY", f"backend {backend_name} disagrees with onnxruntime CPU on a "
                             f"{parity['shape'][3]}x{parity['shape'][2]} tile of frame {todo_jobs[0].number}: "
                             f"{parity['mismatched']} of {parity['elements']} values outside the tolerance "
                             f"(largest difference {parity['max_abs_diff']:.3g}); nothing was written",
                             hint="use --backend ort-cpu")

    pool = None
    if ray_run is not None and todo_jobs:
        from archivist.inference import onray

        facts_here = machine.cpu_facts()
        pool = onray.Pool(root, model.onnx, backend_name, threads, workers=options.workers,
                          runtime_env=options.ray_runtime_env, in_flight=options.queue_depth,
                          expected={"versions": versions(), "backend": backends.fingerprint(engine.info),
                                    "machine": {k: facts_here.get(k) for k in onray.MACHINE_KEYS}})
        ray_run["pool"] = pool
        pool.start()  # refuses workers that differ from the driver, before anything is written

    # Every check has passed: from here on the run writes.
    with ScratchLock(scratch):
        if rec is None:
            # A scratch directory without a record is left from a run that never started.
            for p in scratch.iterdir():
                if p.name != "lock":
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        now = utcnow()
        if rec is None:
            rec = _new_record(pkg, run_id, model, source, reference, numbers, decision, engine, parity, settings,
                              settings_digest, signer, now)
            if options.scope:
                rec["scope"] = dict(options.scope)
        session = {"started": now, "backend": engine.info["name"], "host_machine": platform.machine(),
                   "resumed": resumed, "parity": parity}
        rec["sessions"].append(session)

        spec = spec_from_record(root, rec, scratch, sign=signer is not None)
        if pool is not None:
            pool.prepare(rec, scratch, ray_run["signing"])
            session["cluster"] = pool.describe(ray_run["facts"])
        jobs = {j.number: j for j in jobs_all}
        committer = Committer(pkg, spec, rec, jobs)
        verb = "resumed" if resumed else "started"
        sources = [{"path": model.onnx["path"], "role": "source", "sha256": model.sha256},
                   {"path": _element_record(source), "role": "source"}]
        try:
            committer.commit(force=True, objects=sources, detail=(
                f"inference run {run_id} {verb}: {len(numbers)} frames of {source['id']} with model {model.id} "
                f"({model.sha256[:12]}) on {engine.info['name']}, {decision.term}"))
        except BaseException:
            if not resumed:
                remove_scratch(root, scratch)
            raise

        reused, compute = [], []
        task.sweep(spec)  # what a killed run was writing
        for job in todo_jobs:
            found = task.completed(spec, job)
            if found is not None:
                reused.append(found)
            else:
                task.discard(spec, job.number, temporaries=False)
                compute.append(job)

        timings = pipeline.Timings()
        bar = start(progress, total=len(todo_jobs), desc=f"inferring {run_id}", unit="frame")
        computed = 0

        def _load(job):
            return task.load(spec, job)

        def _infer_one(job, loaded):
            pixels, t = task.infer(spec, engine, loaded)
            timings.add({**loaded.timings, **t})
            return pixels

        def _store(job, pixels):
            result = task.store(spec, job, pixels, signer)
            timings.add(result.timings)
            task._fault(f"infer-frame-stored-{job.number}")
            return result

        t_loop = time.perf_counter()
        remaining = len(todo_jobs)

        def take(res):
            nonlocal remaining
            remaining -= 1
            committer.add(res)
            bar.update(1)
            # The last batch is committed together with the final status, below.
            if remaining and committer.due(options.commit_every, options.commit_seconds):
                t0 = time.perf_counter()
                committer.commit()
                timings.add({"commit": time.perf_counter() - t0})

        try:
            for res in reused:
                take(res)
            # Writers on the host's cores, queues from its memory (the same as before on 2 cores).
            queues = pipeline.plan(source["scan"]["width"] * source["scan"]["height"] * 3 * 4,
                                   queue_depth=options.queue_depth)
            results = pool.run(spec, compute) if pool is not None else pipeline.run(
                compute, _load, _infer_one, _store, timings=timings, read_ahead=queues.read_ahead,
                write_behind=queues.write_behind, read_workers=queues.read_workers,
                write_workers=queues.write_workers)
            for res in results:
                if pool is not None:
                    timings.add(res.timings)
                computed += 1
                take(res)
        except Exception as first:
            # Keep what is finished: it is committed, and the run resumes after the failed frame.
            try:
                committer.commit()
            except Exception as second:
                _also_failed(first, second)
            raise
        finally:
            bar.close()
            if pool is not None:
                session["cluster"] = pool.describe(ray_run["facts"])  # with the workers that died
        loop_seconds = time.perf_counter() - t_loop
        session["finished"] = utcnow()
        session["frames_computed"] = computed
        session["frames_reused"] = len(reused)
        session["frames_skipped"] = len(done_numbers & set(numbers))
        t0 = time.perf_counter()
        committer.commit(final=True)
        timings.add({"commit": time.perf_counter() - t0})
    remove_scratch(root, scratch)

    sealed = None
    if signer is not None and options.seal:
        from archivist.credentials import sign_tag_manifest
        sealed = sign_tag_manifest(signer, root).to_dict()
        sealed["path"] = Path(sealed["path"]).name
    total = time.perf_counter() - t_start
    others = [r for r in run_ids(pkg) if r != run_id and read_run(pkg, r)["status"] == "running"]
    return {
        "ok": True, "run": run_id, "record": Layout.record("inference", run_id), "status": rec["status"],
        "unfinished_runs": others,
        "resumed": resumed, "model": model.id, "backend": engine.info, "parity": parity,
        "digital_source_type": decision.as_record(),
        "frames": {"planned": len(numbers), "computed": computed, "reused": len(reused),
                   "skipped": len(done_numbers & set(numbers))},
        "skipped_frames": sorted(done_numbers & set(numbers)), "reused_frames": [r.number for r in reused],
        "outputs": Layout.stage_dir("outputs", run_id), "sealed": sealed, "cluster": session.get("cluster"),
        "seconds": round(total, 3), "loop_seconds": round(loop_seconds, 3),
        "frames_per_second": round(computed / loop_seconds, 4) if computed and loop_seconds > 0 else None,
        "timings": timings.as_dict(),
    }


def _colour_on_device(wanted: bool | None, engine: backends.Backend, ocio_space: str) -> bool:
    """Whether a run converts its colours on the model's device (``InferOptions.colour_on_device``).

    By default the CUDA backends that run torch do, so that the host only decodes and encodes; onnxruntime
    takes and gives host arrays, so its runs convert on the host. A colour space whose transform holds an
    operation ``device_colour`` does not implement (a 1D LUT) is converted on the host by OpenColorIO.
    """
    from archivist.inference import device_colour

    if wanted is False or (wanted is None and engine.device != "cuda"):
        return False
    why = None
    if engine.run_tensor is None:
        why = f"backend {engine.name} takes host arrays"
    elif not device_colour.supported(ocio_space):
        why = f"the transform from {ocio_space} to ACES 2065-1 has an operation done by OpenColorIO on the host only"
    if why is None:
        return True
    if wanted:
        raise InputError("INFER-COLOUR-DEVICE", f"colours cannot be converted on the device: {why}",
                         hint="leave colour conversion on the host (the default for this backend)")
    return False


def _find_run(pkg: Package, wanted: str | None, settings_digest: str) -> tuple[dict | None, bool]:
    if wanted:
        if wanted in run_ids(pkg):
            rec = read_run(pkg, wanted)
            if rec["settings_digest"] != settings_digest:
                raise InputError("INFER-RUN-SETTINGS", f"run {wanted} was started with other settings (model, frames, "
                                 "backend, tiling, colour, compression, source type, signing or archivist version)",
                                 hint="repeat the options it was started with (see its record), or start a new run")
            return rec, True
        return None, False
    same = [r for r in (read_run(pkg, run) for run in reversed(run_ids(pkg))) if r["settings_digest"] == settings_digest]
    for rec in same:
        if rec["status"] == "running":
            return rec, True
    if same:
        return same[0], True  # complete: nothing left to do
    return None, False


def _verify_committed(pkg: Package, rec: dict, progress=None) -> None:
    """Frames already in the bag are skipped only if every one of their files still matches the record."""
    refs = []
    for f in rec["frames"]:
        refs.append((f["number"], f["output"]))
        refs += [(f["number"], r) for r in f["sidecars"].values()]
        if f.get("credential"):
            refs.append((f["number"], f["credential"]))
    bar = start(progress, total=len(refs), desc="verifying committed frames", unit="file")
    items = [(pkg.layout.path(r["path"]), n, r) for n, r in refs]

    def one(path, n, r, progress=None):
        return hash_file(path, algorithms=("sha256",))

    bad = []
    for (_path, n, r), result in map_files(one, items):
        bar.update(1)
        if isinstance(result, BaseException) or result.sha256 != r["sha256"]:
            bad.append(f"frame {n}: {r['path']}")
    bar.close()
    if bad:
        raise PackageError("INFER-OUTPUT-ALTERED", f"{len(bad)} committed output file(s) of run {rec['id']} no longer "
                           "match the run record:\n  " + "\n  ".join(bad[:20]),
                           hint="run 'archivist verify'; restore the files from a copy before resuming")


def _parity(model, engine, job, root: Path, threads, read_as: dict | None = None) -> dict:
    from archivist.imaging import colour, readback

    reference = backends.create(backends.REFERENCE, model.data, threads=threads)
    # The tile is the model's real input: a window of the first frame to infer.
    ycc = colour.rgb_to_planar(readback.read(root / job.source_path, read_as), model.kr, model.kb)
    tile, where = _parity_tile(ycc, model.align)
    where["frame"] = job.number
    return backends.parity(engine, reference, tile, where=where)


def _new_record(pkg, run_id, model, source, reference, numbers, decision, engine, parity, settings,
                settings_digest, signer, now) -> dict:
    pkg_rec = pkg.record()
    mode = model.mode
    # A hand-made reference is not another copy of the film: the note's "Non-Reference Color".
    rtype = provenance.recovery_type(mode, reference is not None and not reference.get("hand_made"))
    ml = f"archivist {mode} recovery ({model.architecture})"
    upstream = upstream_of(pkg, source)
    if upstream is not None:
        # The last stage of a chain: its frames carry every stage's recovery.
        rtype = provenance.recovery_type("combined", reference is not None)
        ml = (f"archivist combined recovery: {' then '.join(m['mode'] for m in upstream['models'])} then {mode} "
              f"({model.architecture})")
    backend_short = {"name": engine.info["name"], "engine": engine.info["engine"]["name"],
                     "version": engine.info["engine"]["version"]}
    prov = {
        "package": pkg_rec["identifier"], "mode": mode, "recovery_type": rtype, "ml_processing": ml,
        "source_element": {"id": source["id"], "description": source["description"]},
        "reference": provenance.reference_entry(reference),
        "model": {"id": model.id, "checkpoint": model.checkpoint, "path": model.onnx["path"], "sha256": model.sha256},
        "processing_date": processing_date(), "archivist_version": __version__, "backend": backend_short,
    }
    rec = {
        "schema": LABEL, "id": run_id, "status": "running", "started": now, "updated": now,
        "package": pkg_rec["identifier"],
        "model": model.as_record(),
        "dataset": model.dataset,
        "source": {"element": source["id"], "description": source["description"]},
        "reference": {"element": reference["id"], "description": reference["description"]} if reference else None,
        "digital_source_type": decision.as_record(),
        "backend": engine.info,
        "parity": parity,
        "versions": versions(),
        "machine": machine.cpu_facts(),  # reproduce compares the instruction-set level
        "settings": settings,
        "settings_digest": settings_digest,
        "reproducibility_tolerance": dict(DEFAULT_TOLERANCE),
        "signing": signer.describe() if signer is not None else None,
        "provenance": prov,
        "planned_frames": list(numbers),
        "frames": [],
        "sessions": [],
    }
    if upstream is not None:
        rec["upstream"] = upstream
    return rec


# -- chains: combined recovery --------------------------------------------------------------------------
def infer_chain(root: Path | str, models: list[str], options: InferOptions | None = None, *,
                progress=None) -> dict:
    """Run models one after the other, each over the previous one's outputs (combined recovery).

    The first model runs over ``options.element`` (default: its dataset's source); each later model runs over
    the earlier run's outputs, recorded as a derived element (``archivist.package.derived``; made when the
    package has none for that run) and read back to the working R'G'B' the first stage started from. A stage
    the package already holds with the same settings is not run again, so a chain resumes like a run. Only the
    last stage takes ``options.run``, ``options.source_type`` and the package seal.

    Returns:
        ``{"ok", "run", "stages": [infer result, ...], "derived": [derived element ids]}``; ``run`` is the last
        stage's run.
    """
    from dataclasses import replace

    from archivist.package import derived

    options = options or InferOptions()
    models = [m.strip() for m in models if m and m.strip()]
    if len(models) < 2:
        raise InputError("INFER-CHAIN", "a chain needs at least two models, first stage first "
                         "(e.g. --chain spatial-model,chroma-model)")
    if len(set(models)) != len(models):
        raise InputError("INFER-CHAIN", f"model {next(m for m in models if models.count(m) > 1)!r} is named twice")
    if options.model is not None:
        raise InputError("INFER-CHAIN", "give the models with --chain, not --model as well")
    pkg = Package.open(root)
    known = archived.model_ids(pkg)
    unknown = [m for m in models if m not in known]
    if unknown:
        raise InputError("INFER-CHAIN", f"no model {unknown[0]!r} in the package (models: {', '.join(known) or 'none'})")
    stages, made = [], []
    element = options.element
    for i, model_id in enumerate(models):
        last = i == len(models) - 1
        stage = replace(options, model=model_id, element=element, run=options.run if last else None,
                        source_type=options.source_type if last else None, seal=options.seal and last)
        result = infer(root, stage, progress=progress)
        stages.append(result)
        if not last:
            pkg = Package.open(root)
            found = derived.find_for_run(pkg, result["run"])
            if found is None:
                found = derived.derive(pkg, result["run"])
            made.append(found["id"])
            element = found["id"]
    return {"ok": True, "run": stages[-1]["run"], "models": models, "stages": stages, "derived": made}
