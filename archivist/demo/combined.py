"""``archivist demo --combined``: combined recovery of a short reel, a spatial model then a chroma model.

The story of the seeds' combined recovery (a 16mm print brought to the
detail of a 35mm internegative with a spatial model, then given back its
colour from another reference with a chroma model), on material made from
bundled photographs:

1. **material**: a reel of three shots, each a slow camera move over another
   scikit-image photograph; for every frame a softer, faded 16mm **print**
   (the source: blurred, dye-faded, grainy), a sharper 35mm **internegative**
   with its own grade (lower contrast, a cool cast, its own fine grain; the
   detail reference) and a DVD-like **colour reference** (SD, 4:2:0, another
   grade and framing). The true original stays beside the package;
2. **init** (``--recovery combined``) and **add** the three elements;
3. **spatial stage**: a dataset print -> internegative, a spatial model
   trained and exported, and inferred over the reel with Content
   Credentials; its outputs become a **derived element** (no frame copied);
4. **chroma stage**: a dataset derived element -> colour reference, a chroma
   model that keeps the luma it is given (the spatial stage's), exported;
5. **chain**: ``infer --chain spatial,chroma``; the spatial stage is found
   already made and the chroma stage runs over its derived element;
6. **qc** of each stage against its own baseline: the spatial stage against
   a resize-and-sharpen baseline, the chroma stage against the LUT;
7. **describe**, **seal**, **verify**, **report**.

Shots: the reel is structured by frame ranges (three shots of ``frames_per_shot``
frames, numbered on from 1001), recorded in ``demo.json``; pairs and held-out
frames are spread over the whole reel.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from archivist.demo import dvd, fading, shot
from archivist.demo.run import FIRST, TrainPlan, _Clock, _plan, finish, start
from archivist.imaging import oiio
from archivist.training import presets

SOURCE, DETAIL, COLOUR = "print16", "neg35", "dvd"
PHOTOS = ("astronaut", "coffee", "chelsea")


@dataclass(frozen=True)
class PrintSettings:
    """How much softer the print is than the original (a later generation, printed through more glass)."""

    blur: float = 1.2  # Gaussian sigma, pixels


@dataclass(frozen=True)
class InternegSettings:
    """The internegative's own grade and grain: sharp, but not the original's colour."""

    contrast: float = 0.85
    lift: float = 0.06
    cast: tuple[float, float, float] = (-0.02, 0.01, 0.03)  # cool
    grain: float = 0.01
    seed: int = 7


@dataclass(frozen=True)
class CombinedConfig:
    """Every setting of a combined demo run; written beside the package as ``demo.json``."""

    name: str
    width: int
    height: int
    frames_per_shot: int
    fade: fading.FadeSettings
    print_: PrintSettings
    interneg: InternegSettings
    dvd: dvd.DvdSettings
    spatial: TrainPlan
    chroma: TrainPlan
    pairs: int = 6
    held_out: int = 3
    crop_margin: float = 0.04
    median: int = 10
    photographs: tuple[str, ...] = PHOTOS
    device: str = "auto"

    def shots(self) -> list[dict]:
        """The reel's shots as frame ranges: ``{"name", "photograph", "first", "last"}``."""
        out, first = [], FIRST
        for i, photo in enumerate(self.photographs):
            out.append({"name": f"shot{i + 1}", "photograph": photo, "first": first,
                        "last": first + self.frames_per_shot - 1})
            first += self.frames_per_shot
        return out

    def as_record(self) -> dict:
        d = asdict(self)
        d["print"] = d.pop("print_")
        d["shots"] = self.shots()
        return json.loads(json.dumps(d))


def full() -> CombinedConfig:
    """Settings sized for well under 15 minutes on 2 CPU cores."""
    return CombinedConfig("full", 512, 384, 8, fading.FadeSettings(), PrintSettings(), InternegSettings(),
                          dvd.DvdSettings(), _plan("quick", steps=400, patch=128, lr=1e-3, checkpoint_every=400),
                          _plan("quick", steps=400, patch=128, lr=1e-3, checkpoint_every=400), pairs=12, held_out=3)


def quick() -> CombinedConfig:
    """The test-size configuration: tiny frames, few steps, the same story."""
    return CombinedConfig("quick", 96, 72, 4, fading.FadeSettings(), PrintSettings(blur=1.0), InternegSettings(),
                          dvd.DvdSettings(shift=(1.0, -0.7), scale=1.01, rotation=0.2),
                          _plan("quick", steps=60, patch=48, lr=2e-3, checkpoint_every=60, contact_every=0),
                          _plan("quick", steps=60, patch=48, lr=2e-3, checkpoint_every=60, contact_every=0),
                          pairs=6, held_out=3, median=3)


def soften(rgb: np.ndarray, settings: PrintSettings) -> np.ndarray:
    """The print's softness: a Gaussian blur of each channel.

    Args:
        rgb: (H, W, 3) float in [0, 1].
    """
    return gaussian_filter(np.asarray(rgb, np.float32), sigma=(settings.blur, settings.blur, 0), mode="reflect")


def internegative(rgb: np.ndarray, index: int, settings: InternegSettings) -> np.ndarray:
    """The internegative's picture: the original's detail, its own grade and a fine grain.

    Args:
        rgb: (H, W, 3) float in [0, 1].
        index: frame index in the reel (the grain's seed).
    """
    x = np.asarray(rgb, np.float32)
    graded = (x - 0.5) * settings.contrast + 0.5 + settings.lift * (1.0 - x) + np.asarray(settings.cast, np.float32)
    noise = np.random.default_rng([settings.seed, index]).standard_normal(x.shape[:2]).astype(np.float32)
    return np.clip(graded + settings.grain * noise[..., None], 0.0, 1.0).astype(np.float32)


def make_material(directory: Path, config: CombinedConfig, workers: int = 2) -> dict[str, Path]:
    """Write the original, the print, the internegative and the colour reference of every frame of the reel."""
    folders = {"original": directory / "original", "source": directory / "frames" / SOURCE,
               "detail": directory / "frames" / DETAIL, "colour": directory / "frames" / COLOUR}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=False)
    total = config.frames_per_shot * len(config.photographs)
    jobs = []
    for s in config.shots():
        settings = shot.ShotSettings(photograph=s["photograph"], frames=config.frames_per_shot, width=config.width,
                                     height=config.height)
        photo = shot.photograph(s["photograph"])
        jobs += [(photo, settings, i, s["first"] + i) for i in range(config.frames_per_shot)]

    def one(job) -> None:
        photo, settings, i, number = job
        index = number - FIRST
        orig = shot.frame(photo, i, settings)
        oiio.write(folders["original"] / f"original.{number:04d}.exr", orig, pixel_type="half", compression="piz")
        printed = fading.fade(soften(orig, config.print_), index, total, config.fade)
        oiio.write(folders["source"] / f"{SOURCE}.{number:04d}.exr", printed, pixel_type="half", compression="piz")
        oiio.write(folders["detail"] / f"{DETAIL}.{number:04d}.exr", internegative(orig, index, config.interneg),
                   pixel_type="half", compression="piz")
        oiio.write(folders["colour"] / f"{COLOUR}.{index + 1:04d}.png", dvd.to_dvd(orig, config.dvd),
                   pixel_type="uint8")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, jobs))
    return folders


def _crop(config: CombinedConfig) -> tuple[int, int, int, int]:
    w, h = config.width, config.height
    mx, my = max(2, round(w * config.crop_margin)), max(2, round(h * config.crop_margin))
    return mx, my, (w - 2 * mx) // 4 * 4, (h - 2 * my) // 4 * 4


@dataclass
class CombinedResult:
    directory: Path
    package: Path
    report: Path
    identity: Path
    config: dict
    timings: dict[str, float] = field(default_factory=dict)
    qc: dict = field(default_factory=dict)  # stage -> QC record
    runs: dict = field(default_factory=dict)  # stage -> inference run id
    verify_ok: bool | None = None
    verify_counts: dict | None = None

    def summary(self) -> dict:
        stages = {}
        for stage, rec in self.qc.items():
            entry = {"qc_id": rec["id"], "run": rec["inference"]["id"], "mode": rec["mode"],
                     "lut_verdict": rec["verdict"], "lut_table": _lut_rows(rec)}
            if rec.get("spatial"):
                entry["sharpen_verdict"] = rec["spatial"]["verdict"]
                entry["sharpen_table"] = _sharpen_rows(rec)
                if rec["spatial"].get("verdict_original"):
                    entry["sharpen_verdict_original"] = rec["spatial"]["verdict_original"]
            if rec.get("verdict_original"):
                entry["lut_verdict_original"] = rec["verdict_original"]
            stages[stage] = entry
        return {"directory": str(self.directory), "package": str(self.package), "report": str(self.report),
                "identity": str(self.identity), "config": self.config, "stages": list(self.timings),
                "timings": self.timings, "total_seconds": round(sum(self.timings.values()), 3),
                "verify_ok": self.verify_ok, "verify_counts": self.verify_counts, "runs": self.runs, "qc": stages}


def _lut_rows(rec: dict) -> list[dict]:
    names = {"source": "source as given", "baseline": "LUT baseline", "ml": "ML result"}
    return [{"basis": basis, "candidate": names[c], "mean": cands[c]["ciede2000"]["mean"],
             "p95": cands[c]["ciede2000"]["p95"]}
            for basis, cands in rec["summary"].items() for c in ("source", "baseline", "ml")]


def _sharpen_rows(rec: dict) -> list[dict]:
    names = {"source": "source as given", "baseline": "resize and sharpen", "ml": "ML result"}
    return [{"basis": basis, "candidate": names[c], **{k: cands[c][k] for k in ("psnr_luma", "detail_ratio",
                                                                              "grain_ratio")}}
            for basis, cands in rec["spatial"]["summary"].items() for c in ("source", "baseline", "ml")]


def run_combined(directory: Path | str, config: CombinedConfig | None = None, *, echo=print, progress=None,
                 report: bool = True) -> CombinedResult:
    """Run the combined story into ``directory`` (new or empty); returns where everything is and both QCs."""
    from archivist import dataset
    from archivist.archive.describe import describe as archive_describe
    from archivist.credentials import init_test_identity, sign_tag_manifest, signer_from_files
    from archivist.inference import runner
    from archivist.package import Package, derived
    from archivist.qc import run as qc_run
    from archivist.training import export
    from archivist.training import run as training

    config = config or (quick() if os.environ.get("ARCHIVIST_DEMO_QUICK", "0") not in ("", "0") else full())
    directory, paths = start(directory)
    result = CombinedResult(directory, paths["package"], paths["report"], paths["identity"], config.as_record())
    clock = _Clock(echo)
    rights = "Made from scikit-image example photographs for demonstration; no restrictions"
    grant = {"rights": rights, "training_use": "authorised", "authorised_by": "Example Film Archive"}
    reel = ", ".join(f"{s['name']} {s['first']}-{s['last']} ({s['photograph']})" for s in config.shots())

    folders = clock.stage("material", make_material, directory, config)
    pkg = clock.stage("init", Package.create, paths["package"],
                      title=f"Demo combined restoration: a reel of three shots ({config.name} settings)",
                      organization="Example Film Archive", recovery="combined",
                      description="Demonstration: a faded 16mm print given a 35mm internegative's detail, then "
                                  "its colour from a DVD")

    def add():
        pkg.add_element(role="source", element=SOURCE, paths=[folders["source"]], description="16mm positive print",
                        gauge="16mm", generation="release print", colour_space="Rec.709", frame_rate="24",
                        rights_holder="Example Film Archive", notes=f"Synthetic: softer and faded. Reel: {reel}",
                        progress=progress, **grant)
        pkg.add_element(role="reference", element=DETAIL, paths=[folders["detail"]],
                        description="35mm internegative", gauge="35mm", generation="internegative",
                        colour_space="Rec.709", frame_rate="24", progress=progress,
                        notes="Synthetic: sharp, with its own grade and grain (archivist.demo.combined)", **grant)
        pkg.add_element(role="reference", element=COLOUR, paths=[folders["colour"]], description="PAL DVD 2003",
                        colour_space="Rec.709", frame_rate="25", progress=progress,
                        notes="Synthetic: SD, 4:2:0, 8-bit, another grade and framing (archivist.demo.dvd)", **grant)

    clock.stage("add", add)

    def train(mode: str, plan: TrainPlan, ds: str):
        settings = training.TrainSettings(mode=mode, tone=False, threads=plan.threads, device=config.device,
                                          dataset=ds)
        return training.train(pkg, presets.apply(settings, plan.preset, {k: getattr(plan, k) for k in presets.FIELDS}),
                              progress=progress)

    ds1 = clock.stage("spatial dataset", dataset.build, pkg, source=SOURCE, reference=DETAIL, auto=config.pairs,
                      auto_preview=config.held_out, align_mode="none", median_size=0, progress=progress)
    run1 = clock.stage("spatial train", train, "spatial", config.spatial, ds1["id"])
    m1 = clock.stage("spatial export", export.export, pkg, run=run1["id"], progress=progress)
    ident = clock.stage("keys", init_test_identity, paths["identity"], name="archivist demo signer")
    signer = signer_from_files(ident.chain, ident.key)
    try:
        options = runner.InferOptions(device=config.device, signer=signer, seal=False)
        inf1 = clock.stage("spatial infer", runner.infer, pkg.root, replace(options, model=m1["id"], element=SOURCE),
                           progress=progress)
        d = clock.stage("derive", derived.derive, pkg, inf1["run"], element="print16-sharp",
                        description="16mm positive print with the 35mm internegative's detail (spatial stage)")
        ds2 = clock.stage("chroma dataset", dataset.build, pkg, source=d["id"], reference=COLOUR, auto=config.pairs,
                          auto_preview=config.held_out, crop=_crop(config), median_size=config.median,
                          progress=progress)
        run2 = clock.stage("chroma train", train, "chroma", config.chroma, ds2["id"])
        m2 = clock.stage("chroma export", export.export, pkg, run=run2["id"], progress=progress)
        chain = clock.stage("chain", runner.infer_chain, pkg.root, [m1["id"], m2["id"]],
                            replace(options, element=SOURCE), progress=progress)
        result.runs = {"spatial": chain["stages"][0]["run"], "chroma": chain["run"]}
        for stage in ("spatial", "chroma"):
            result.qc[stage] = clock.stage(f"{stage} qc", qc_run.run_qc, pkg,
                                           qc_run.QCOptions(run=result.runs[stage], original=folders["original"]),
                                           progress=progress)
        clock.stage("describe", archive_describe, pkg)
        clock.stage("seal", sign_tag_manifest, signer, pkg.root)
    finally:
        signer.close()
    return finish(result, clock, pkg, ident, directory, paths["report"] if report else None, progress)


def with_device(config: CombinedConfig, device: str) -> CombinedConfig:
    return replace(config, device=device)
