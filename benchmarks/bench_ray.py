"""``archivist infer`` on Ray with 1 and 2 local workers, against a local run in the same process.

Builds one package with the real pipeline (``tests/support/infer.build_model_package``: dataset, a short
training run, the ONNX export), then infers the same frames three times, each on a fresh copy:

* **local**: ``runner.infer`` as ``archivist infer`` runs it (the three-stage pipeline, model threads =
  all cores);
* **ray, 1 worker** and **ray, 2 workers**: ``runner.infer(..., ray=...)`` on a Ray cluster started once
  on this machine (``ray.init``, no dashboard), one model thread per worker.

It prints frames per second of each (the frame loop, and the whole command with its checks and commits),
the ratio of each Ray run to the local one, the cluster's start-up time, and checks that the three runs
wrote the same bytes.

Usage::

    python benchmarks/bench_ray.py                          # 12 frames of 256x192
    python benchmarks/bench_ray.py --frames 24 --width 320 --height 240 --cpus 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=192)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    ap.add_argument("--commit-every", type=int, default=4)
    args = ap.parse_args()

    import ray
    from support.infer import build_model_package, package_files

    from archivist.inference import runner

    os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # the same bytes in every run
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        t0 = time.perf_counter()
        base = build_model_package(work / "pkg", frames=args.frames, size=(args.height, args.width)).root
        print(f"package: {args.frames} frames of {args.width}x{args.height}, built in {time.perf_counter() - t0:.1f} s")

        rows = []

        def one(name: str, options: runner.InferOptions) -> dict:
            root = work / name.replace(" ", "-").replace(",", "")
            shutil.copytree(base, root)
            t = time.perf_counter()
            out = runner.infer(root, options)
            out["command_seconds"] = time.perf_counter() - t
            out["files"] = package_files(root / "data" / "outputs")
            rows.append((name, out))
            return out

        common = {"commit_every": args.commit_every}
        one("local", runner.InferOptions(**common))
        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.1", configure_logging=False,
                 log_to_driver=False)
        print(f"Ray {ray.__version__} cluster started in {time.perf_counter() - t:.1f} s ({args.cpus} CPUs)")
        try:
            for n in (1, 2):
                one(f"ray, {n} worker{'s' if n > 1 else ''}", runner.InferOptions(ray="local", workers=n, **common))
        finally:
            ray.shutdown()

        local = rows[0][1]
        print(f"\n{'run':<18}{'loop frames/s':>15}{'command frames/s':>18}{'loop ratio':>12}{'command ratio':>15}")
        for name, out in rows:
            loop_fps = out["frames"]["computed"] / out["loop_seconds"]
            cmd_fps = out["frames"]["computed"] / out["command_seconds"]
            lr = loop_fps / (local["frames"]["computed"] / local["loop_seconds"])
            cr = cmd_fps / (local["frames"]["computed"] / local["command_seconds"])
            print(f"{name:<18}{loop_fps:>15.2f}{cmd_fps:>18.2f}{lr:>12.2f}{cr:>15.2f}")
        same = all(out["files"] == local["files"] for _, out in rows)
        print(f"\nsame bytes in all runs (frames and sidecars): {same}")
        if not same:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
