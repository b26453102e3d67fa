"""How fast does ``archivist verify`` check a package, against bagit-python and the hashing limit?

Builds a package of real-sized frames (2048x1556 RGB half-float OpenEXR,
uncompressed, about 19 MB each) with the archivist library, then times in
one run:

* ``archivist.verify.verify(root)``, the library call behind ``archivist verify``;
* bagit-python's ``Bag(root).validate()`` with ``processes=1`` and ``processes=2``;
* the hashing limit: hashlib's SHA-512 and SHA-256 over the same bytes,
  already in memory, one process per core.

All three compute both SHA-512 and SHA-256 of every payload file. The page
cache is warmed first (every file in the package is read once), so the runs
compare CPU cost, not disk speed. Each measured run happens in a freshly
started Python process, so its peak RSS is its own and not the builder's.

Usage::

    python benchmarks/bench_verify.py                 # ~1.2 GB in a temporary directory
    python benchmarks/bench_verify.py --size-gb 2 --dir /scratch/bench --keep
    python benchmarks/bench_verify.py --dir /scratch/bench   # reuses a package built before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

MB = 1_000_000
CHUNK = 1 << 20


# -- building the package ------------------------------------------------------------

def _base_image(width: int, height: int):
    """A photograph tiled (mirrored, so there are no hard seams) to the frame size, scene-linear."""
    import numpy as np
    from skimage import data as skdata

    img = skdata.astronaut()[..., :3].astype(np.float32) / 255.0
    mirrored = np.concatenate([img, img[:, ::-1]], axis=1)
    mirrored = np.concatenate([mirrored, mirrored[::-1]], axis=0)
    reps = (-(-height // mirrored.shape[0]), -(-width // mirrored.shape[1]), 1)
    return np.tile(mirrored, reps)[:height, :width] ** 2.2


def build_package(root: Path, *, size_gb: float, width: int, height: int, seed: int = 0) -> None:
    """Write distinct grainy frames and add them with ``Package.create`` + ``add_element``."""
    import numpy as np

    from archivist.imaging import oiio
    from archivist.package import Package

    scan = root.parent / f"{root.name}-scan"
    shutil.rmtree(scan, ignore_errors=True)
    scan.mkdir(parents=True)
    base = _base_image(width, height)
    rng = np.random.default_rng(seed)
    frame_bytes = width * height * 3 * 2  # uncompressed half RGB
    count = max(1, round(size_gb * 1e9 / frame_bytes))
    t0 = time.perf_counter()
    for i in range(count):
        noise = rng.standard_normal(base.shape, dtype=np.float32) * 0.02
        oiio.write(scan / f"bench.{1001 + i:04d}.exr", np.clip(base + noise, 0.0, None),
                      pixel_type="half", compression="none")
        if sys.stderr.isatty():
            print(f"\r  writing frames {i + 1}/{count}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    t1 = time.perf_counter()
    pkg = Package.create(root, title="Verify benchmark", organization="archivist benchmarks", recovery="chroma")
    # Hard links when possible: the package's frames share the scan's inodes.
    pkg.add_element(role="source", element="bench2k", paths=[scan], description="35mm positive print",
                    training_use="authorised", rights="Synthetic benchmark frames", link=True)
    shutil.rmtree(scan)
    t2 = time.perf_counter()
    print(f"  built {count} frames in {t1 - t0:.1f} s, added to the package in {t2 - t1:.1f} s", file=sys.stderr)


def package_files(root: Path) -> list[Path]:
    """Every regular file in the package, payload and tag files alike."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        out.extend(Path(dirpath) / f for f in files)
    return sorted(out)


def payload_files(root: Path) -> list[Path]:
    return [p for p in package_files(root) if p.relative_to(root).parts[0] == "data"]


def warm_cache(files: list[Path]) -> tuple[int, float]:
    """Read every file once so that the timed runs find it in the page cache."""
    total = 0
    buf = bytearray(CHUNK)
    t0 = time.perf_counter()
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                total += n
    return total, time.perf_counter() - t0


def mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -- measured runs, each in a fresh process ---------------------------------------------

def _peak_rss_mb() -> float:
    """Peak RSS of this process and of its waited-for children, in MB.

    ``getrusage(RUSAGE_SELF)`` keeps the high-water mark across ``exec``, so a
    spawned process would report the size of the process that started it;
    ``VmHWM`` in ``/proc/self/status`` belongs to this process image alone.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) * 1024
    except OSError:
        pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux reports KiB
    return max(own, children) / MB


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run_archivist(root: str, workers: int | None) -> dict:
    from archivist.verify import verify

    c0, t0 = _cpu_seconds(), time.perf_counter()
    report = verify(Path(root), workers=workers)
    elapsed, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": elapsed, "cpu_seconds": cpu, "ok": bool(report.ok), "rss_mb": _peak_rss_mb()}


def _run_bagit(root: str, processes: int) -> dict:
    import bagit

    c0, t0 = _cpu_seconds(), time.perf_counter()
    bagit.Bag(root).validate(processes=processes)  # raises BagValidationError when invalid
    elapsed, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": elapsed, "cpu_seconds": cpu, "ok": True, "rss_mb": _peak_rss_mb()}


def _limit_worker(paths: list[str], barrier, queue) -> None:
    blobs = [Path(p).read_bytes() for p in paths]  # not timed: the limit is hashing alone
    barrier.wait()
    c0, t0 = _cpu_seconds(), time.perf_counter()
    for blob in blobs:
        hashlib.sha512(blob).hexdigest()
        hashlib.sha256(blob).hexdigest()
    queue.put({"seconds": time.perf_counter() - t0, "cpu_seconds": _cpu_seconds() - c0,
               "bytes": sum(map(len, blobs)), "rss_mb": _peak_rss_mb()})


def _shares(files: list[Path], n: int) -> list[list[str]]:
    """Split files into ``n`` shares of nearly equal total size (largest first, to the lightest share)."""
    shares: list[list[str]] = [[] for _ in range(n)]
    loads = [0] * n
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        i = loads.index(min(loads))
        shares[i].append(str(path))
        loads[i] += path.stat().st_size
    return shares


def hashing_limit(files: list[Path], processes: int) -> dict:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_limit_worker, args=(share, barrier, queue)) for share in _shares(files, processes)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    # All workers start together at the barrier; the slowest one sets the wall time.
    return {"seconds": max(r["seconds"] for r in results), "cpu_seconds": sum(r["cpu_seconds"] for r in results),
            "ok": True, "rss_mb": sum(r["rss_mb"] for r in results), "bytes": sum(r["bytes"] for r in results)}


def _child_main(fn_name: str, args: tuple, queue) -> None:
    try:
        queue.put(globals()[fn_name](*args))
    except BaseException as exc:  # reported by the parent; a failed run must not hang it
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def in_fresh_process(fn_name: str, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_main, args=(fn_name, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# -- report -------------------------------------------------------------------------------

def _best(found: list[dict]) -> dict:
    """The fastest successful round, with every round's seconds kept for the record."""
    ok = [r for r in found if "error" not in r]
    if not ok:
        return found[0]
    best = dict(min(ok, key=lambda r: r["seconds"]))
    best["rounds"] = [round(r["seconds"], 3) for r in ok]
    best["cpu_seconds"] = min(r["cpu_seconds"] for r in ok)
    best["ok"] = all(r.get("ok", True) for r in ok)
    return best


def _row(name: str, result: dict, nbytes: int) -> str:
    if "error" in result:
        return f"  {name:<34} failed: {result['error']}"
    rate = nbytes / result["seconds"] / MB
    per_cpu = nbytes / result["cpu_seconds"] / MB
    flag = "" if result.get("ok", True) else "  (reported the package INVALID)"
    return (f"  {name:<28} {result['seconds']:6.2f} s {rate:6.0f} MB/s   {result['cpu_seconds']:6.2f} CPU s "
            f"{per_cpu:5.0f} MB/CPU-s   peak RSS {result['rss_mb']:5.0f} MB{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.2, help="payload size to build (default 1.2)")
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1556)
    parser.add_argument("--dir", type=Path, help="build the package here (reused if it is already a package)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary package")
    parser.add_argument("--workers", type=int, help="archivist verify workers (default: its own choice)")
    parser.add_argument("--cores", type=int, help="processes for the hashing limit (default: usable cores)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all runs; the best of each is reported")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    cores = args.cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    tmp = None
    if args.dir:
        root = args.dir.resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="archivist-bench-"))
        root = tmp / "package"
    try:
        if (root / "bagit.txt").is_file():
            print(f"reusing the package in {root}", file=sys.stderr)
        else:
            print(f"building a {args.size_gb:g} GB package of {args.width}x{args.height} half EXR frames in {root}",
                  file=sys.stderr)
            build_package(root, size_gb=args.size_gb, width=args.width, height=args.height)

        payload = payload_files(root)
        nbytes = sum(p.stat().st_size for p in payload)
        everything = package_files(root)
        avail = mem_available()
        if avail is not None and sum(p.stat().st_size for p in everything) > 0.7 * avail:
            print("warning: the package is larger than the free memory; runs will read from disk, "
                  "not compare CPU cost", file=sys.stderr)
        _, warm_s = warm_cache(everything)
        _, warm2_s = warm_cache(everything)

        print(f"\npackage   {root}\npayload   {len(payload)} files, {nbytes / MB:.0f} MB")
        print(f"machine   {platform.machine()}, {cores} usable cores, Python {platform.python_version()}, "
              f"{platform.platform()}")
        print(f"cache     warmed: every file read once ({warm_s:.2f} s), a second read took {warm2_s:.2f} s "
              f"({nbytes / warm2_s / MB:.0f} MB/s): the runs below compare CPU cost, not disk speed")
        print()
        runs = {
            "hashing limit": lambda: hashing_limit(payload, cores),
            "archivist verify": lambda: in_fresh_process("_run_archivist", str(root), args.workers),
            "bagit validate processes=1": lambda: in_fresh_process("_run_bagit", str(root), 1),
            "bagit validate processes=2": lambda: in_fresh_process("_run_bagit", str(root), 2),
        }
        # Rounds go through every run in turn, so a burst of load elsewhere on the
        # machine hits all of them alike; the best round of each is reported.
        rounds: dict[str, list[dict]] = {name: [] for name in runs}
        for i in range(args.repeat):
            for name, run in runs.items():
                rounds[name].append(run())
            if args.repeat > 1:
                print(f"  round {i + 1}/{args.repeat} done", file=sys.stderr)
        results = {name: _best(found) for name, found in rounds.items()}
        print(f"best of {args.repeat} round(s); the limit's RSS is the sum over its processes, "
              "which hold the payload in memory\n")
        for name, result in results.items():
            print(_row(name, result, nbytes))

        def rate(name):
            r = results[name]
            return None if "error" in r else nbytes / r["seconds"] / MB

        def cpu_rate(name):
            r = results[name]
            return None if "error" in r else nbytes / r["cpu_seconds"] / MB

        a, a_cpu = rate("archivist verify"), cpu_rate("archivist verify")
        print()
        if a is not None:
            print(f"  {'ratio of archivist verify to':<40} {'wall MB/s':>10} {'MB/CPU-s':>10}")
            for other in ("hashing limit", "bagit validate processes=1", "bagit validate processes=2"):
                b, b_cpu = rate(other), cpu_rate(other)
                if b:
                    print(f"  {other:<40} {a / b:9.2f}x {a_cpu / b_cpu:9.2f}x")
        limit = rate("hashing limit")
        if a is not None and limit and a < 0.9 * limit:
            print("\n  archivist verify is below 0.9x the hashing limit")
        if args.json:
            args.json.write_text(json.dumps({
                "payload_bytes": nbytes, "files": len(payload), "cores": cores,
                "results": {k: {**v, "mb_per_s": (nbytes / v["seconds"] / MB) if "seconds" in v else None}
                            for k, v in results.items()},
            }, indent=2))
        failed = [k for k, v in results.items() if "error" in v or not v.get("ok", True)]
        return 1 if failed else 0
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp is not None:
            print(f"kept {root}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
