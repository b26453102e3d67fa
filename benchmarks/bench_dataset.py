"""How long does ``archivist dataset`` take per pair on real-sized frames, and where does the time go?

Builds a package with a faded, grainy 2048x1556 RGB half-float source
(PIZ EXR) and a 720x576 8-bit PNG reference (a PAL DVD frame size, so the
reference is stretched non-uniformly) that is also moved by a known
similarity transform. Then, in one run:

* times each stage of one pair in isolation: decoding both frames,
  registration (``align.register``), the one-pass OIIO warp of the reference
  into the crop, the residual, the median filter, the float EXR write;
* times ``dataset.build`` end to end for ``--pairs`` pairs plus one held-out
  frame, with the number of pairs in flight given by ``--workers``;
* reports how far the estimated transform is from the true one (pixels at
  the frame corners), and the peak RSS of the process.

Usage::

    python benchmarks/bench_dataset.py                  # 3 pairs, median 10
    python benchmarks/bench_dataset.py --pairs 6 --workers 2 --median 0
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _photo(width: int, height: int) -> np.ndarray:
    """A photograph mirrored and tiled to the frame size (display-referred, [0, 1])."""
    from skimage import data as skdata

    img = skdata.astronaut()[..., :3].astype(np.float32) / 255.0
    img = np.concatenate([img, img[:, ::-1]], axis=1)
    img = np.concatenate([img, img[::-1]], axis=0)
    reps = (-(-height // img.shape[0]), -(-width // img.shape[1]), 1)
    return np.tile(img, reps)[:height, :width]


def make_frames(folder: Path, n: int, size, ref_size, transform) -> tuple[Path, Path]:
    from archivist.dataset.align import Transform, stretch
    from archivist.imaging import oiio

    (ws, hs), (wr, hr) = size, ref_size
    big = _photo(ws + 64 * n + 256, hs + 256)
    rng = np.random.default_rng(0)
    src_dir, ref_dir = folder / "scan", folder / "dvd"
    src_dir.mkdir(parents=True)
    ref_dir.mkdir(parents=True)
    for i in range(n):
        ox, oy = 128 + 64 * i, 128
        window = big[oy:oy + hs, ox:ox + ws]
        grey = window.mean(axis=2, keepdims=True)
        scan = np.clip(grey + 0.4 * (window - grey) + np.array([0.03, -0.02, 0.03], np.float32), 0, 1) ** 2.2
        scan = np.clip(scan + rng.standard_normal(scan.shape).astype(np.float32) * 0.02 * np.sqrt(scan + 0.01), 0, None)
        oiio.write(src_dir / f"scan.{1001 + i}.exr", scan, pixel_type="half", compression="piz")
        to_photo = Transform.from_array([[1, 0, ox], [0, 1, oy]]).compose(transform).compose(stretch((wr, hr), (ws, hs)))
        ref = oiio.warp(big, to_photo.inverse().array, window=(0, 0, wr, hr), filter="lanczos3")
        oiio.write(ref_dir / f"dvd.{1 + i:04d}.png", np.clip(ref, 0, 1), pixel_type="uint8")
    return src_dir, ref_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--median", type=int, default=10)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1556)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from archivist import dataset
    from archivist.dataset import align
    from archivist.dataset.align import Transform, stretch
    from archivist.dataset.build import covered_crop
    from archivist.dataset.preprocess import median
    from archivist.imaging import oiio
    from archivist.package import Package

    true = Transform.similarity(1.03, 0.7, (-14.0, 9.0))
    size, ref_size = (args.width, args.height), (720, 576)
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-dataset-"))
    try:
        t0 = time.perf_counter()
        src_dir, ref_dir = make_frames(work / "frames", args.pairs + 1, size, ref_size, true)
        pkg = Package.create(work / "pkg", title="Benchmark", organization="Benchmark")
        pkg.add_element(role="source", element="print35", paths=[src_dir], description="35mm positive print",
                        training_use="authorised")
        pkg.add_element(role="reference", element="dvd", paths=[ref_dir], description="PAL DVD",
                        training_use="authorised")
        setup = time.perf_counter() - t0

        stages = {}
        t = time.perf_counter()
        src = oiio.read(sorted(src_dir.iterdir())[0], channels=3)
        ref = oiio.read(sorted(ref_dir.iterdir())[0], channels=3)
        stages["decode both frames"] = time.perf_counter() - t
        t = time.perf_counter()
        est = align.register(src, ref)
        stages["register"] = time.perf_counter() - t
        total = est.transform.compose(stretch(ref_size, size))
        crop = covered_crop(total, ref_size, size)
        crop = type(crop)(crop.x + 8, crop.y + 8, crop.width - 16, crop.height - 16)
        t = time.perf_counter()
        warped = oiio.warp(ref, total.array, window=crop.window, filter="lanczos3")
        stages["warp (lanczos3, one pass)"] = time.perf_counter() - t
        t = time.perf_counter()
        src_crop = src[crop.y:crop.y + crop.height, crop.x:crop.x + crop.width]
        residual = align.residual_score(align.luma(src_crop), align.luma(warped), sigma=size[0] / ref_size[0])
        stages["residual"] = time.perf_counter() - t
        t = time.perf_counter()
        filtered = median(warped, args.median)
        stages[f"median {args.median}"] = time.perf_counter() - t
        t = time.perf_counter()
        oiio.write(work / "out.exr", filtered, pixel_type="float", compression="zip")
        stages["write float EXR (zip)"] = time.perf_counter() - t

        t = time.perf_counter()
        rec = dataset.build(pkg, source="print35", reference="dvd", auto=args.pairs, crop=crop.window,
                            median_size=args.median, workers=args.workers)
        build_s = time.perf_counter() - t
        corners = [[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]]
        errors = [float(np.abs(Transform.from_array(e["transform"]["matrix"]).apply(corners) - true.apply(corners)).max())
                  for e in rec["pairs"] + rec["holdout"]]
        report = {
            "machine": {"python": platform.python_version(), "cpus": len(__import__("os").sched_getaffinity(0))},
            "frames": {"source": f"{size[0]}x{size[1]} half EXR", "reference": f"{ref_size[0]}x{ref_size[1]} PNG",
                       "crop": crop.as_dict()},
            "setup_s": round(setup, 2),
            "one_pair_stages_s": {k: round(v, 3) for k, v in stages.items()},
            "one_pair_residual": round(residual, 4),
            "build": {"pairs": len(rec["pairs"]), "held_out": len(rec["holdout"]), "seconds": round(build_s, 2),
                      "seconds_per_frame": round(build_s / (len(rec["pairs"]) + len(rec["holdout"])), 2),
                      "workers": args.workers or "default"},
            "transform_error_px_at_corners": {"max": round(max(errors), 3), "mean": round(sum(errors) / len(errors), 3)},
            "residuals": [e["residual"] for e in rec["pairs"] + rec["holdout"]],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        print(json.dumps(report, indent=2))
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
