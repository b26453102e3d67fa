"""Quality of chroma recovery against the true original: the engine against a full-RGB 3D LUT.

For every case (four scikit-image photographs the demo does not use, each
in a uniform and a non-uniform fade tier; ``quality_material.py`` makes
them with its own fade model, independent of ``archivist.demo``), it
writes 12 frames of a faded print (half-float EXR) and a DVD-like
reference (8-bit PNG), and runs them through the package as a restorer
would: ``init``, ``add``, ``dataset`` (training pairs 1001, 1004, 1008 and
1012, the 8 other frames held out), ``train``, ``export`` and ``infer``.
Then, on the 8 held-out frames and against the true original, it
measures:

* **identity**: the scan as it is;
* **LUT**: a 33^3 lattice-regression LUT fitted in ACEScct on the 4
  training pairs, scan -> reference, full R'G'B' (what a colourist's
  matching tool gives; the baseline to beat);
* **LUT luma kept**: the same LUT's colour on the scan's luma;
* **grade**: the true original with the DVD's own grade, at full size: the
  floor for anything that learns its colour from the reference;
* **reference**: the aligned DVD itself;
* **CopyCat target**: the scan's luma with the reference's chroma (the
  guide's training target);
* **ML**: the package's inference output.

Columns: CIEDE2000 mean, its colour-only (chroma, hue) and lightness-only
parts, the 95th percentile, and the luma and colour grain ratios against
the scan (high-pass RMS, 1.0 keeps the texture), then ML/LUT ratios. The
goal (issue 9): ML/LUT at most 0.9 on the mean and on the colour-only
mean, p95 no worse than the LUT's, luma grain ratio 0.95-1.05.

Usage::

    python benchmarks/bench_quality.py                        # every case, the quick training settings
    python benchmarks/bench_quality.py --cases coffee-uniform --steps 1000
    python benchmarks/bench_quality.py --quick                # two cases
    python benchmarks/bench_quality.py --json out.json --keep --dir /scratch/q
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality_material as qm  # noqa: E402

FIRST = 1001
TRAIN_FRAMES = (1001, 1004, 1008, 1012)
CROP = (8, 8, 496, 368)  # inside the DVD's resampled edges; multiples of 4
CANDIDATES = ("identity", "grade", "lut", "lut_luma", "reference", "copycat", "ml")
MEASURES = ("mean", "colour", "lightness", "p95", "grain", "colour_grain")


def make_case(case: qm.Case, folder: Path, seed: int = 0) -> dict[str, Path]:
    dirs = {k: folder / k for k in ("original", "scan", "dvd")}
    for d in dirs.values():
        d.mkdir(parents=True)
    from archivist.imaging import oiio

    photo = qm.photograph(case.photograph)
    for i in range(qm.FRAMES):
        orig = qm.shot_frame(photo, i)
        oiio.write(dirs["original"] / f"original.{FIRST + i:04d}.exr", orig.astype(np.float32), pixel_type="float",
                   compression="zip")
        oiio.write(dirs["scan"] / f"scan.{FIRST + i:04d}.exr",
                   qm.fade(orig, i, qm.FRAMES, case.uniform, seed).astype(np.float32), pixel_type="half",
                   compression="piz")
        oiio.write(dirs["dvd"] / f"dvd.{i + 1:04d}.png", qm.dvd(orig), pixel_type="uint8")
    return dirs


def run_package(folder: Path, dirs: dict[str, Path], settings: dict) -> tuple[object, dict, dict]:
    """init, add, dataset, train, export, infer; returns the package, the time of each stage, and which
    checkpoint was exported (its step and the held-out frames that chose it)."""
    from archivist import dataset
    from archivist.inference import runner
    from archivist.package import Package
    from archivist.training import export
    from archivist.training import run as training

    times = {}
    t = time.perf_counter()
    pkg = Package.create(folder / "package", title="quality benchmark", organization="benchmark", recovery="chroma")
    for role, el, d, what in (("source", "scan", dirs["scan"], "16mm positive print"),
                              ("reference", "dvd", dirs["dvd"], "PAL DVD")):
        pkg.add_element(role=role, element=el, paths=[d], description=what, colour_space="Rec.709",
                        rights="synthetic", training_use="authorised", authorised_by="benchmark")
    pairs = [(n, n - FIRST + 1) for n in TRAIN_FRAMES]
    held = [(n, n - FIRST + 1) for n in range(FIRST, FIRST + qm.FRAMES) if n not in TRAIN_FRAMES]
    dataset.build(pkg, source="scan", reference="dvd", pairs=pairs, preview_frames=held, crop=CROP,
                  median_size=settings["median"])
    times["package+dataset"] = time.perf_counter() - t
    t = time.perf_counter()
    rec = training.train(pkg, training.TrainSettings(
        mode="chroma", tone=settings["tone"], size=settings["size"], steps=settings["steps"],
        batch=settings["batch"], patch=settings["patch"], lr=settings["lr"],
        checkpoint_every=settings["checkpoint_every"], contact_every=0, threads=1, device="cpu"))
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()
    card = export.export(pkg)  # the run's selection: the checkpoint with the lowest held-out loss
    chosen = {"step": card["checkpoint"]["step"], "frames": (rec.get("selection") or {}).get("frames", [])}
    times["export"] = time.perf_counter() - t
    t = time.perf_counter()
    runner.infer(pkg.root, runner.InferOptions(device="cpu", threads=1, seal=False))
    times["infer"] = time.perf_counter() - t
    return pkg, times, chosen


def measure(pkg, original: Path, judging: list[int]) -> dict:
    """Every candidate on every held-out frame against the true original, pooled.

    ``unseen`` pools only the held-out frames that did not judge the training
    run's checkpoints (``judging``): frames no choice was made on."""
    from archivist import dataset
    from archivist.qc import compare, inputs, metrics
    from archivist.training import targets

    ctx = inputs.context(pkg)
    held = inputs.held_out(pkg, ctx, inputs.original_frames(original))
    srcs, refs = [], []
    for entry in ctx.dataset["pairs"]:
        s, r = dataset.pair_arrays(pkg, ctx.dataset, entry)
        srcs.append(s)
        refs.append(r)
    settings = compare.BaselineSettings(size=33, keep_source_luma=False)
    table, _ = compare.fit_baseline(srcs, refs, ctx.space, settings)
    kept = compare.BaselineSettings(size=33, keep_source_luma=True)
    results, luma_grain = [], {n: [] for n in CANDIDATES}
    for item in held:
        cands = {"identity": item.source, "grade": qm.grade(item.original).astype(np.float32),
                 "lut": compare.apply_baseline(table, item.source, ctx.space, settings, ctx.kr, ctx.kb),
                 "lut_luma": compare.apply_baseline(table, item.source, ctx.space, kept, ctx.kr, ctx.kb),
                 "reference": item.reference,
                 "copycat": targets.chroma_target(item.source, item.reference, ctx.kr, ctx.kb),
                 "ml": item.ml}
        for name, img in cands.items():
            luma_grain[name].append(metrics.luma_grain_ratio(img, item.source, kr=ctx.kr, kb=ctx.kb))
        results.append(compare.measure_frame(item.number, cands, {"original": item.original}, item.source,
                                             ctx.space, ctx.kr, ctx.kb))
    pooled = compare.summarise(results)["original"]
    unseen = compare.summarise([r for r in results if r.number not in judging])["original"]
    out = {"unseen": {name: {"mean": unseen[name]["ciede2000"]["mean"], "colour": unseen[name]["ciede2000_chroma"]["mean"],
                             "p95": unseen[name]["ciede2000"]["p95"]} for name in ("lut", "ml")},
           "unseen_frames": [r.number for r in results if r.number not in judging]}
    for name in CANDIDATES:
        p = pooled[name]
        out[name] = {"mean": p["ciede2000"]["mean"], "colour": p["ciede2000_chroma"]["mean"],
                     "lightness": p["ciede2000_lightness"]["mean"], "p95": p["ciede2000"]["p95"],
                     "grain": float(np.mean(luma_grain[name])), "colour_grain": p["chroma_grain_ratio"]}
    return out


def run_case(case: qm.Case, base: Path, settings: dict) -> dict:
    folder = base / case.name
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    dirs = make_case(case, folder)
    material = time.perf_counter() - t0
    pkg, times, chosen = run_package(folder, dirs, settings)
    judging = chosen["frames"]
    t = time.perf_counter()
    scores = measure(pkg, dirs["original"], judging)
    times = {"material": material, **times, "measure": time.perf_counter() - t}
    return {"case": case.name, "scores": scores, "chosen_step": chosen["step"], "judging_frames": judging,
            "seconds": {k: round(v, 1) for k, v in times.items()}}


def _row(label: str, s: dict) -> str:
    return f"  {label:<15}" + "".join(f"{s[m]:>9.3f}" for m in MEASURES)


def print_case(res: dict) -> None:
    s = res["scores"]
    print(f"\n{res['case']}  ({', '.join(f'{k} {v:.0f} s' for k, v in res['seconds'].items())})")
    print(f"  {'candidate':<15}" + "".join(f"{m:>9}" for m in ("mean", "colour", "light", "p95", "grain", "c.grain")))
    for name in CANDIDATES:
        print(_row(name, s[name]))
    print(_row("ML/LUT", ratios(s)))
    if "unseen" in s:
        u = s["unseen"]
        print(f"  exported step {res['chosen_step']} (chosen on frames {', '.join(map(str, res['judging_frames']))});"
              f" ML/LUT on the {len(s['unseen_frames'])} other held-out frames: "
              + ", ".join(f"{m} {u['ml'][m] / u['lut'][m]:.3f}" for m in ("mean", "colour", "p95")))


def ratios(s: dict) -> dict:
    return {m: s["ml"][m] / s["lut"][m] if s["lut"][m] else float("nan") for m in MEASURES}


def goal(s: dict) -> dict:
    r = ratios(s)
    checks = {"mean<=0.9": r["mean"] <= 0.9, "colour<=0.9": r["colour"] <= 0.9, "p95<=lut": r["p95"] <= 1.0,
              "grain 0.95-1.05": 0.95 <= s["ml"]["grain"] <= 1.05}
    return {"met": all(checks.values()), "checks": checks}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="*", help="case names, e.g. coffee-uniform rocket-nonuniform (default: all)")
    ap.add_argument("--quick", action="store_true", help="coffee and rocket non-uniform only")
    ap.add_argument("--steps", type=int, help="default: the quick preset's (as for --size ... --checkpoint-every)")
    ap.add_argument("--size")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--patch", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--checkpoint-every", type=int, help="steps between the checkpoints the held-out loss chooses from")
    ap.add_argument("--tone", action=argparse.BooleanOptionalAction, default=None,
                    help="train with the tone correction (default: the training default)")
    ap.add_argument("--median", type=int, default=5, help="the dataset's reference median filter")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (each trains on one thread)")
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from archivist.training import presets
    from archivist.training import run as training

    names = args.cases or (["coffee-nonuniform", "rocket-nonuniform"] if args.quick else None)
    chosen = qm.cases(names)
    tone = training.TrainSettings().tone if args.tone is None else args.tone
    quick = presets.values_of("quick", "chroma")
    settings = {k: quick[k] if getattr(args, k) is None else getattr(args, k)
                for k in ("steps", "size", "batch", "patch", "lr", "checkpoint_every")}
    settings.update({"tone": tone, "median": args.median})
    base = args.dir or Path(tempfile.mkdtemp(prefix="archivist-bench-quality-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"bench_quality: {len(chosen)} case(s), settings {settings}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}", flush=True)
    t0 = time.perf_counter()
    try:
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                results = list(pool.map(run_case, chosen, [base] * len(chosen), [settings] * len(chosen)))
        else:
            results = [run_case(c, base, settings) for c in chosen]
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    for res in results:
        print_case(res)
        res["goal"] = goal(res["scores"])
        print(f"  goal {'met' if res['goal']['met'] else 'NOT met'}: "
              + ", ".join(f"{k} {'ok' if v else 'no'}" for k, v in res["goal"]["checks"].items()))
    total = {n: {m: float(np.mean([r["scores"][n][m] for r in results])) for m in MEASURES} for n in CANDIDATES}
    unseen = [r["scores"]["unseen"] for r in results]
    print("\nML/LUT on the held-out frames that did not judge the checkpoints, mean over cases: "
          + ", ".join(f"{m} {np.mean([u['ml'][m] / u['lut'][m] for u in unseen]):.3f}" for m in ("mean", "colour", "p95")))
    print_case({"case": "mean over cases", "scores": total, "seconds": {"wall": time.perf_counter() - t0}})
    met = sum(r["goal"]["met"] for r in results)
    print(f"\ngoal met on {met} of {len(results)} case(s)")
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, "cases": results, "total": total,
                                         "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                                                     "machine": platform.machine()}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
