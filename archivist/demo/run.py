"""``archivist demo``: the whole restoration, end to end, on material made from bundled photographs.

The story, each stage timed:

1. **material**: a shot of 24+ frames (a slow camera move over a
   scikit-image photograph), its faded print (``fading``) and a DVD-like
   reference (``dvd``), written as a restorer would receive them: the scan
   as half-float EXR, the DVD as 8-bit PNG. The unfaded frames are kept
   beside the package as the true original, which real restorations lack;
2. **init**, **add** (the print as source, the DVD as reference, with
   rights), **dataset** (automatic pairs and held-out frames, automatic
   alignment, a crop inside the DVD's borders), **train**, **export**;
3. **keys**: a fresh test signing identity, outside the package;
4. **infer**: every frame, with C2PA credentials;
5. **qc**: the LUT baseline against the model on the held-out frames,
   against the ground truth and against the true original;
6. **describe**: the archive metadata in ``data/metadata/`` (docs/archives.md);
7. **seal**: the package's tag manifest signed, once nothing more changes;
8. **verify**, then the **report**.

Nothing is tuned to the outcome: the verdict printed at the end is whatever
the QC measured.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from archivist.demo import dvd, fading, shot
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.training import presets

QUICK_ENV = "ARCHIVIST_DEMO_QUICK"
FIRST = 1001
SOURCE, REFERENCE = "print16", "dvd"


@dataclass(frozen=True)
class TrainPlan:
    steps: int
    size: str
    batch: int
    patch: int
    checkpoint_every: int
    contact_every: int
    lr: float = 1e-3
    threads: int | None = None  # None: the training default
    preset: str = "quick"  # the named preset these values start from (archivist.training.presets)


def _plan(preset: str = "quick", mode: str = "chroma", **changes) -> TrainPlan:
    """The preset's values in ``mode``, with ``changes``; one thread, so the weights do not depend on the core
    count."""
    return TrainPlan(**{**presets.values_of(preset, mode), "threads": 1, "preset": preset, **changes})


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of a demo run; written beside the package as ``demo.json``."""

    name: str
    shot: shot.ShotSettings
    fade: fading.FadeSettings
    dvd: dvd.DvdSettings
    train: TrainPlan
    pairs: int = 6
    held_out: int = 4
    crop_margin: float = 0.04  # of each side, inside the DVD's black borders
    median: int = 10  # the reference's median filter (the guide's usual size)
    device: str = "auto"

    def as_record(self) -> dict:
        return {"name": self.name, "shot": self.shot.as_record(), "fade": self.fade.as_record(),
                "dvd": self.dvd.as_record(), "train": asdict(self.train), "pairs": self.pairs,
                "held_out": self.held_out, "crop_margin": self.crop_margin, "median": self.median,
                "device": self.device}


def full(uniform: bool = False) -> DemoConfig:
    """Settings sized for under 10 minutes on 2 CPU cores (about 17 training steps a second on one core)."""
    return DemoConfig("full", shot.ShotSettings(frames=30, width=960, height=720), fading.FadeSettings(uniform=uniform),
                      dvd.DvdSettings(), _plan("quick"))


def quick(uniform: bool = False) -> DemoConfig:
    """A reduced configuration for the test suite: tiny frames, few steps, the same story."""
    return DemoConfig("quick", shot.ShotSettings(frames=24, width=128, height=96), fading.FadeSettings(uniform=uniform),
                      dvd.DvdSettings(shift=(1.0, -0.7), scale=1.01, rotation=0.2),
                      _plan("quick", steps=600, patch=64, lr=2e-3, checkpoint_every=600, contact_every=200),
                      pairs=6, held_out=3, median=3)


def from_env(uniform: bool = False) -> DemoConfig:
    """``quick`` when ``ARCHIVIST_DEMO_QUICK`` is set to something other than 0, else ``full``."""
    return quick(uniform) if os.environ.get(QUICK_ENV, "0") not in ("", "0") else full(uniform)


@dataclass
class DemoResult:
    directory: Path
    package: Path
    report: Path
    identity: Path
    config: dict
    timings: dict[str, float] = field(default_factory=dict)
    qc: dict | None = None
    verify_ok: bool | None = None
    verify_counts: dict | None = None

    def summary(self) -> dict:
        v = self.qc["verdict"] if self.qc else {}
        out = {"directory": str(self.directory), "package": str(self.package), "report": str(self.report),
               "identity": str(self.identity), "config": self.config, "stages": list(self.timings),
               "timings": self.timings,
               "total_seconds": round(sum(self.timings.values()), 3), "verify_ok": self.verify_ok,
               "verify_counts": self.verify_counts, "verdict": v}
        if self.qc:
            out["qc_id"] = self.qc["id"]
            out["qc_table"] = qc_table(self.qc)
            if "verdict_original" in self.qc:
                out["verdict_original"] = self.qc["verdict_original"]
        return out


def qc_table(record: dict) -> list[dict]:
    """Rows (basis, candidate, CIEDE2000 mean and p95) of a QC record's summary."""
    rows = []
    names = {"source": "source as scanned", "baseline": "LUT baseline", "ml": "ML result"}
    for basis, cands in record["summary"].items():
        for cand in ("source", "baseline", "ml"):
            m = cands[cand]["ciede2000"]
            rows.append({"basis": basis, "candidate": names[cand], "mean": m["mean"], "p95": m["p95"]})
    return rows


class _Clock:
    def __init__(self, echo):
        self.timings: dict[str, float] = {}
        self.echo = echo

    def stage(self, label: str, fn, /, *args, **kwargs):
        self.echo(f"[{len(self.timings) + 1:2d}] {label} ...")
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[label] = round(time.perf_counter() - t, 3)
        self.echo(f"     {label} done in {self.timings[label]:.1f} s")
        return out


def make_material(directory: Path, config: DemoConfig, workers: int = 2) -> dict[str, Path]:
    """Write the original, the faded scan and the DVD frames; returns their folders."""
    folders = {"original": directory / "original", "source": directory / "frames" / SOURCE,
               "reference": directory / "frames" / REFERENCE}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=False)
    photo = shot.photograph(config.shot.photograph)
    n = config.shot.frames

    def one(i: int) -> None:
        number = FIRST + i
        orig = shot.frame(photo, i, config.shot)
        oiio.write(folders["original"] / f"original.{number:04d}.exr", orig, pixel_type="half", compression="piz")
        oiio.write(folders["source"] / f"{SOURCE}.{number:04d}.exr", fading.fade(orig, i, n, config.fade),
                      pixel_type="half", compression="piz")
        oiio.write(folders["reference"] / f"{REFERENCE}.{i + 1:04d}.png", dvd.to_dvd(orig, config.dvd),
                      pixel_type="uint8")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    return folders


def _crop(config: DemoConfig) -> tuple[int, int, int, int]:
    w, h = config.shot.width, config.shot.height
    mx, my = max(2, round(w * config.crop_margin)), max(2, round(h * config.crop_margin))
    # Multiples of the chroma model's 1/4 working scale keep every pixel's block whole.
    cw, ch = (w - 2 * mx) // 4 * 4, (h - 2 * my) // 4 * 4
    return mx, my, cw, ch


def run_demo(directory: Path | str, config: DemoConfig | None = None, *, echo=print, progress=None,
             report: bool = True) -> DemoResult:
    """Run the whole story into ``directory`` (new or empty); returns where everything is and the QC."""
    from archivist import dataset
    from archivist.archive.describe import describe as archive_describe
    from archivist.credentials import init_test_identity, sign_tag_manifest, signer_from_files
    from archivist.inference import runner
    from archivist.package import Package
    from archivist.qc import run as qc_run
    from archivist.training import export
    from archivist.training import run as training

    config = config or from_env()
    directory, paths = start(directory)
    result = DemoResult(directory, paths["package"], paths["report"], paths["identity"], config.as_record())
    clock = _Clock(echo)
    title = f"Demo restoration: {config.shot.photograph} ({config.name} settings)"
    rights = "Made from a scikit-image example photograph for demonstration; no restrictions"

    folders = clock.stage("material", make_material, directory, config)
    pkg = clock.stage("init", Package.create, paths["package"], title=title, organization="Example Film Archive",
                      recovery="chroma", description="Demonstration: a faded print restored with a DVD reference")

    def add():
        pkg.add_element(role="source", element=SOURCE, paths=[folders["source"]], description="16mm positive print",
                        gauge="16mm", generation="release print", colour_space="Rec.709", frame_rate="24",
                        rights=rights, rights_holder="Example Film Archive", training_use="authorised",
                        authorised_by="Example Film Archive",
                        notes="Synthetic: dye fading simulated in density (archivist.demo.fading)", progress=progress)
        pkg.add_element(role="reference", element=REFERENCE, paths=[folders["reference"]], description="PAL DVD 2003",
                        colour_space="Rec.709", frame_rate="25", rights=rights, training_use="authorised",
                        authorised_by="Example Film Archive",
                        notes="Synthetic: SD, 4:2:0, 8-bit, another grade and framing (archivist.demo.dvd)",
                        progress=progress)

    clock.stage("add", add)
    clock.stage("dataset", dataset.build, pkg, source=SOURCE, reference=REFERENCE, auto=config.pairs,
                auto_preview=config.held_out, crop=_crop(config), median_size=config.median, preview=True,
                progress=progress)
    t = config.train
    clock.stage("train", training.train, pkg, presets.apply(
        training.TrainSettings(mode="chroma", tone=True, threads=t.threads, device=config.device), t.preset,
        {k: getattr(t, k) for k in presets.FIELDS}), progress=progress)
    clock.stage("export", export.export, pkg, progress=progress)
    ident = clock.stage("keys", init_test_identity, paths["identity"], name="archivist demo signer")
    signer = signer_from_files(ident.chain, ident.key)
    try:
        clock.stage("infer", runner.infer, pkg.root, runner.InferOptions(device=config.device, signer=signer,
                                                                         seal=False), progress=progress)
        result.qc = clock.stage("qc", qc_run.run_qc, pkg, qc_run.QCOptions(original=folders["original"]),
                                progress=progress)
        clock.stage("describe", archive_describe, pkg)
        clock.stage("seal", sign_tag_manifest, signer, pkg.root)
    finally:
        signer.close()
    return finish(result, clock, pkg, ident, directory, paths["report"] if report else None, progress)


def start(directory: Path | str) -> tuple[Path, dict[str, Path]]:
    """The new, empty directory a demo story writes into, and where its package, identity and report go."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError("DEMO-EXISTS", f"{directory} exists and is not empty; the demo writes into a new directory",
                         hint="give a new directory, or remove this one")
    directory.mkdir(parents=True, exist_ok=True)
    return directory, {"package": directory / "package", "identity": directory / "test-identity",
                       "report": directory / "report.html"}


def finish(result, clock, pkg, ident, directory: Path, report: Path | None, progress=None):
    """The end both demo stories share: verify against the demo's CA, the report, and ``demo.json``."""
    from archivist import verify

    rep = clock.stage("verify", verify.verify, pkg.root, progress=progress, trust_anchors_pem=ident.ca.read_bytes())
    result.verify_ok = rep.ok
    result.verify_counts = rep.to_dict()["counts"]
    if report is not None:
        from archivist.report import write_report

        clock.stage("report", write_report, pkg.root, report, trust_anchor=ident.ca)
    result.timings = clock.timings
    (directory / "demo.json").write_text(json.dumps(result.summary(), indent=2, sort_keys=True) + "\n", "utf-8")
    return result


def with_device(config: DemoConfig, device: str) -> DemoConfig:
    return replace(config, device=device)
