"""The whole demo at full settings: the QC table (scan, LUT baseline, ML) and the wall time of every stage.

Runs ``archivist.demo.run.run_demo`` (the library behind ``archivist demo``)
into a fresh directory and prints:

* the CIEDE2000 mean and 95th percentile of the source as scanned, the LUT
  baseline and the ML result on the held-out frames, against the ground
  truth the training used and against the true original;
* both verdicts, as the QC record states them;
* the wall time of each stage and in total, with the CPU time of the
  process (user + system), which shows how much of the wall time was spent
  waiting for cores other programs held.

Usage::

    python benchmarks/bench_demo.py                       # full settings, a temporary directory
    python benchmarks/bench_demo.py --dir /scratch/demo --keep
    python benchmarks/bench_demo.py --uniform-fade        # the case a LUT handles well
    python benchmarks/bench_demo.py --quick --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, help="where to run (must be new or empty); default: a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the directory afterwards")
    ap.add_argument("--quick", action="store_true", help="the test suite's reduced configuration")
    ap.add_argument("--uniform-fade", action="store_true", help="fade the print evenly")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()

    from archivist.demo import run as demo_run

    config = demo_run.quick(args.uniform_fade) if args.quick else demo_run.full(args.uniform_fade)
    config = demo_run.with_device(config, args.device)
    base = args.dir or Path(tempfile.mkdtemp(prefix="archivist-bench-demo-"))
    out = base if args.dir else base / "demo"
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    try:
        result = demo_run.run_demo(out, config, echo=lambda m: print(m, file=sys.stderr, flush=True))
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        summary = result.summary()
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)

    print(f"\narchivist demo, {config.name} settings ({config.shot.frames} frames of {config.shot.width}x"
          f"{config.shot.height}, {'uniform' if config.fade.uniform else 'uneven'} fade, {config.train.steps} "
          f"training steps, device {config.device})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores visible, Python {platform.python_version()}")
    print(f"\n{'held-out frames against':<26}{'candidate':<22}{'CIEDE2000 mean':>15}{'p95':>8}")
    for row in summary["qc_table"]:
        print(f"{row['basis'].replace('_', ' '):<26}{row['candidate']:<22}{row['mean']:>15.2f}{row['p95']:>8.2f}")
    print("\nverdict: " + summary["verdict"]["statement"])
    if summary.get("verdict_original"):
        print("         " + summary["verdict_original"]["statement"])
    print(f"\n{'stage':<12}{'wall s':>8}")
    for stage, seconds in summary["timings"].items():
        print(f"{stage:<12}{seconds:>8.1f}")
    print(f"{'total':<12}{wall:>8.1f}   (CPU time {cpu:.1f} s over {os.cpu_count()} cores)")
    print(f"verify: {'valid' if summary['verify_ok'] else 'NOT valid'}")
    if args.keep or args.dir:
        print(f"kept in {out}")
    if args.json:
        summary["wall_seconds"], summary["cpu_seconds"] = round(wall, 3), round(cpu, 3)
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", "utf-8")
    return 0 if summary["verify_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
