"""How close does ``archivist infer`` come to the bare model, end to end?

Builds a package with the real pipeline (a faded, grainy scan of a tiled
photograph and a half-resolution reference, ``dataset.build``,
``training.train`` for a few steps, ``export.export``), then times in one
run, on the same frames:

* **bare onnxruntime**: the archived ONNX model run by an
  ``InferenceSession`` with the same settings archivist uses, on inputs
  already in memory: no reading, no colour conversion, no writing;
* **archivist infer**: ``archivist.inference.runner.infer`` on the package,
  everything included (hash-checking every source frame, reading, the model,
  colour conversion to ACES 2065-1, EXR encoding, hashing, JSON/text/XMP
  sidecars, C2PA signing with ``--sign``, and the commits into the bag).

It prints frames per second of both, their ratio (target: at least 0.8 on
CPU, so that I/O and provenance cost less than 20%), and where archivist's
time goes. The stages overlap (reading, the model and writing run on
different threads), so the per-stage seconds add up to more than the wall
time. It also prints the CPU seconds per frame of both (all threads,
library threads included): on a machine shared with other work the
wall-clock ratio suffers from contention, while the CPU ratio says what the
overhead costs in itself.

Usage::

    python benchmarks/bench_infer.py                       # 8 frames of 512x384, a few seconds
    python benchmarks/bench_infer.py --width 2048 --height 1556 --frames 8
    python benchmarks/bench_infer.py --2k --sign --backend torch-cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def base_image(width: int, height: int) -> np.ndarray:
    """A photograph tiled (mirrored, so without hard seams) to the frame size, R'G'B' in [0, 1]."""
    from skimage import data as skdata

    img = skdata.astronaut()[..., :3].astype(np.float32) / 255.0
    tile = np.concatenate([img, img[:, ::-1]], axis=1)
    tile = np.concatenate([tile, tile[::-1]], axis=0)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    return np.tile(tile, reps)[:height, :width]


def build(root: Path, *, width: int, height: int, frames: int, size: str, steps: int) -> None:
    from archivist import dataset
    from archivist.imaging import oiio
    from archivist.package import Package
    from archivist.training import export
    from archivist.training import run as training

    frames_dir = root.parent / "frames"
    (frames_dir / "scan").mkdir(parents=True)
    (frames_dir / "ref").mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = base_image(width + frames * 4, height)
    for i in range(frames):
        window = base[:, i * 4:i * 4 + width]
        grey = window.mean(axis=2, keepdims=True)
        faded = np.clip(grey + 0.4 * (window - grey) + np.array([0.03, -0.02, 0.03], np.float32), 0, 1)
        grain = rng.standard_normal(window.shape, dtype=np.float32) * 0.01
        oiio.write(frames_dir / "scan" / f"scan.{1001 + i}.exr", np.clip(faded + grain, 0, None),
                      pixel_type="half", compression="piz")
        ref = oiio.resize(window, width // 2, height // 2)
        oiio.write(frames_dir / "ref" / f"ref.{1001 + i}.png", np.clip(ref, 0, 1), pixel_type="uint8")
    pkg = Package.create(root, title="Inference benchmark", organization="archivist benchmarks", recovery="chroma")
    pkg.add_element(role="source", element="print35", paths=[frames_dir / "scan"], description="35mm positive print",
                    training_use="authorised", rights="Synthetic benchmark frames", colour_space="Rec.709")
    pkg.add_element(role="reference", element="dvd", paths=[frames_dir / "ref"], description="PAL DVD",
                    training_use="authorised", rights="Synthetic benchmark frames", colour_space="Rec.709")
    dataset.build(pkg, source="print35", reference="dvd", frames=[1001], align_mode="none")
    training.train(pkg, training.TrainSettings(mode="chroma", size=size, steps=steps, patch=64, batch=2,
                                               checkpoint_every=steps, contact_every=0, device="cpu"))
    export.export(pkg)
    shutil.rmtree(frames_dir)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads (the library threads included)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bare_onnxruntime(root: Path, threads: int | None, repeat: int) -> tuple[float, int, float]:
    """Seconds per frame of the archived model alone, inputs already in memory."""
    from archivist.imaging import oiio
    from archivist.inference import archived, backends
    from archivist.package import Package
    from archivist.training import targets

    pkg = Package.open(root)
    model = archived.load(pkg)
    engine = backends.create("ort-cpu", model.data, threads=threads)
    inputs = [targets.to_ycbcr(oiio.read(root / f["path"], channels=3), model.kr, model.kb)
              .transpose(2, 0, 1)[None].copy() for f in pkg.element("print35")["frames"]]
    engine(inputs[0])  # warm-up: the first run plans memory
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), cpu_seconds()
        for x in inputs:
            engine(x)
        best = min(best, (time.perf_counter() - t0) / len(inputs))
        cpu = min(cpu, (cpu_seconds() - c0) / len(inputs))
    return best, len(inputs), cpu


def archivist_infer(root: Path, *, backend: str, threads: int | None, sign_dir: Path | None) -> dict:
    from archivist.inference import runner

    opts = runner.InferOptions(backend=backend, threads=threads, commit_every=8)
    if sign_dir is not None:
        opts.sign, opts.cert, opts.key = True, sign_dir / "chain.pem", sign_dir / "key.pem"
    return runner.infer(root, opts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=384)
    ap.add_argument("--2k", dest="two_k", action="store_true", help="2048x1556 frames (a 2K full-aperture scan)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--model-size", default="small", choices=("small", "medium", "large"))
    ap.add_argument("--steps", type=int, default=2, help="training steps (the weights do not change the speed)")
    ap.add_argument("--backend", default="ort-cpu")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--sign", action="store_true", help="sign every frame with a local test identity")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (bare model, then archivist); the best of each is kept")
    ap.add_argument("--dir", type=Path, help="work here instead of a temporary directory (kept)")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.two_k:
        args.width, args.height = 2048, 1556

    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-infer-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "pkg"
    try:
        if not (root / "bagit.txt").exists():
            t0 = time.perf_counter()
            build(root, width=args.width, height=args.height, frames=args.frames, size=args.model_size,
                  steps=args.steps)
            print(f"built a package of {args.frames} {args.width}x{args.height} frames with a {args.model_size} "
                  f"model in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        from archivist.package import Package

        scan = Package.open(root).element("print35")["scan"]
        args.width, args.height = scan["width"], scan["height"]
        sign_dir = None
        if args.sign:
            from archivist import credentials

            sign_dir = work / "keys"
            if not (sign_dir / "key.pem").exists():
                credentials.init_test_identity(sign_dir)
        # Rounds take turns and the best of each is kept, so load from other processes favours neither.
        bare, n, wall, loop, result = float("inf"), 0, float("inf"), float("inf"), None
        bare_cpu, infer_cpu = float("inf"), float("inf")
        run_root = work / "run"
        for _ in range(args.repeat):
            b, n, bc = bare_onnxruntime(root, args.threads, 1)
            bare, bare_cpu = min(bare, b), min(bare_cpu, bc)
            shutil.rmtree(run_root, ignore_errors=True)
            shutil.copytree(root, run_root)  # a fresh copy, so every round does the same work
            t0, c0 = time.perf_counter(), cpu_seconds()
            r = archivist_infer(run_root, backend=args.backend, threads=args.threads, sign_dir=sign_dir)
            w = time.perf_counter() - t0
            infer_cpu = min(infer_cpu, (cpu_seconds() - c0) / n)
            if w < wall:
                wall, loop, result = w, r["loop_seconds"], r
        card = next((root / "data/records/models").glob("*.json"))
        args.model_size = json.loads(card.read_text())["architecture"]["size"]
        out = {
            "frames": n, "size": [args.width, args.height], "model_size": args.model_size,
            "backend": result["backend"]["name"], "signed": bool(args.sign), "cores": len(os.sched_getaffinity(0)),
            "load_average": os.getloadavg()[0],
            "bare_onnxruntime_fps": round(1 / bare, 3),
            "archivist_infer_fps": round(n / wall, 3),
            "archivist_pipeline_fps": round(n / loop, 3),
            "ratio_command": round((n / wall) * bare, 3),
            "ratio_pipeline": round((n / loop) * bare, 3),
            "seconds": {"bare_per_frame": round(bare, 4), "infer_command": round(wall, 3),
                        "infer_pipeline": round(loop, 3)},
            "cpu_seconds_per_frame": {"bare": round(bare_cpu, 3), "archivist_infer": round(infer_cpu, 3)},
            "ratio_cpu": round(bare_cpu / infer_cpu, 3),
            "stages": result["timings"],
        }
        print(f"\n{n} frames {args.width}x{args.height}, {out['model_size']} chroma model, {out['cores']} cores "
              f"(load average {out['load_average']:.1f}), backend {out['backend']}{', signed' if args.sign else ''}, "
              f"best of {args.repeat} rounds")
        print(f"  bare onnxruntime:        {out['bare_onnxruntime_fps']:8.3f} frames/s")
        print(f"  archivist infer:         {out['archivist_infer_fps']:8.3f} frames/s  (whole command: checks, "
              f"commits, start and end)")
        print(f"  archivist infer loop:    {out['archivist_pipeline_fps']:8.3f} frames/s  (frames in flight)")
        print(f"  ratio (target >= 0.8):   {out['ratio_command']:.3f} command, {out['ratio_pipeline']:.3f} loop")
        print(f"  CPU seconds per frame:   {bare_cpu:.3f} bare, {infer_cpu:.3f} archivist "
              f"(ratio {out['ratio_cpu']:.3f}: what the wall-clock ratio tends to when the cores are not shared)")
        print("  where the time goes (seconds summed over threads; stages overlap):")
        for k, v in sorted(result["timings"].items(), key=lambda kv: -kv[1]):
            print(f"    {k:<14} {v:8.3f}")
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
        return 0
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
