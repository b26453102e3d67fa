"""Does every command stay linear in the number of frames?

A feature film is about 130,000 frames per element. This benchmark builds
packages of tiny frames (so that per-frame overhead, not pixels, is what
shows) at several sizes and runs the real commands on each, every command
in a newly started ``python -m archivist`` process:

* ``add``: a source element of N frames (copied into the bag);
* ``verify``: every check, fixity of every file included;
* ``info``;
* ``infer``: the package's archived model over the N-frame element (it
  also hash-checks every source frame, writes an EXR, three sidecars and a
  marker per frame, and commits in batches at the default cadence);
* ``describe``: ``metadata.csv``, ``rights.csv``, PREMIS, METS and the RO-Crate (written as streams).

The model comes from the real pipeline (``dataset.build`` on a small pair
of elements, a few training steps, ``export``), made once and copied into
every package. Per command and size it prints wall seconds, milliseconds per
frame, the child process's peak resident memory (``os.wait4``'s rusage, the
process's own high-water mark), and, against the smallest size, how time
and memory grow: a time ratio near the size ratio is linear; a peak memory
that grows by much more than the interpreter's and libraries' fixed share is
a per-frame structure that a 130,000-frame element would have to afford.

Infer on Ray with 1 and 2 local workers is measured by ``bench_ray.py``,
not here.

Usage::

    python benchmarks/bench_scale.py                                  # 1,000 and 10,000 frames
    python benchmarks/bench_scale.py --sizes 1000,10000,50000          # the full test (hours on 2 loaded cores)
    python benchmarks/bench_scale.py --sizes 1000,4000 --commands add,verify,info --json scale.json
    python benchmarks/bench_scale.py --sizes 50000 --json big.json     # a long size on its own, then
    python benchmarks/bench_scale.py --sizes 1000,10000 --with big.json  # in one table with the others
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COMMANDS = ("add", "verify", "info", "infer", "describe")
FRAME = (32, 32)  # height, width: tiny, but the model's minimum size


def write_frames(folder: Path, n: int, *, seed: int = 7) -> None:
    """``n`` distinct tiny R'G'B' half-float frames (PIZ), ``scan.<number>.exr`` from 1001."""
    import numpy as np

    from archivist.imaging import oiio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.random((*FRAME, 3), dtype=np.float32) * 0.8 + 0.1
    for i in range(n):
        frame = base.copy()
        # The frame index in the first pixels keeps every frame unique (add refuses duplicates).
        frame.flat[:4] = [(i >> s & 0xFF) / 255.0 for s in (0, 8, 16, 24)]
        oiio.write(folder / f"scan.{1001 + i:06d}.exr", frame, pixel_type="half", compression="piz")


def build_model_package(root: Path) -> None:
    """A package with a small chroma model made by the real pipeline, and no large element yet."""
    import numpy as np

    from archivist import dataset
    from archivist.imaging import oiio
    from archivist.package import Package
    from archivist.training import export
    from archivist.training import run as training

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_infer import base_image

    frames = root.parent / "model-frames"
    for sub in ("scan", "ref"):
        (frames / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, h = 96, 64
    base = base_image(w + 8, h)
    for i in range(2):
        window = base[:, i * 4:i * 4 + w]
        grey = window.mean(axis=2, keepdims=True)
        faded = np.clip(grey + 0.4 * (window - grey) + rng.standard_normal(window.shape, dtype=np.float32) * 0.01, 0, 1)
        oiio.write(frames / "scan" / f"train.{1001 + i}.exr", faded, pixel_type="half", compression="piz")
        oiio.write(frames / "ref" / f"ref.{1001 + i}.png", np.clip(oiio.resize(window, w // 2, h // 2), 0, 1),
                   pixel_type="uint8")
    pkg = Package.create(root, title="Scale benchmark", organization="archivist benchmarks", recovery="chroma")
    pkg.add_element(role="source", element="train", paths=[frames / "scan"], description="35mm positive print",
                    training_use="authorised", rights="Synthetic benchmark frames", colour_space="Rec.709")
    pkg.add_element(role="reference", element="dvd", paths=[frames / "ref"], description="PAL DVD",
                    training_use="authorised", rights="Synthetic benchmark frames", colour_space="Rec.709")
    dataset.build(pkg, source="train", reference="dvd", frames=[1001], align_mode="none")
    training.train(pkg, training.TrainSettings(mode="chroma", size="small", steps=2, patch=32, batch=2,
                                               checkpoint_every=2, contact_every=0, threads=1, device="cpu"))
    export.export(pkg)
    shutil.rmtree(frames)


def in_child(*args: str) -> None:
    """Run this script's own step in a new process, so that this process stays small.

    Linux folds a parent's resident high-water mark into a child's at fork and exec, so a parent that
    has loaded PyTorch would make every command's peak look like its own.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, __file__, *args], check=True, env=env)


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    except (OSError, ValueError):
        return 0


def timed(args: list[str], *, cwd: Path, cap_mib: float) -> dict:
    """Run ``python -m archivist ARGS`` in a new process: wall seconds, CPU seconds, peak RSS (MiB).

    A command whose resident memory passes ``cap_mib`` is stopped (so that one that grows without bound
    cannot take the machine down) and reported as ``over_cap``.
    """
    import threading

    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "archivist", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    over = threading.Event()

    def watch() -> None:
        while proc.returncode is None and not over.is_set():
            if _rss_kib(proc.pid) > cap_mib * 1024:
                over.set()
                proc.kill()
                return
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    out = {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
           "load": os.getloadavg()[0]}  # the machine is shared: the load when the command ended
    if over.is_set():
        return {**out, "over_cap": True}
    if proc.returncode != 0:
        raise RuntimeError(f"archivist {' '.join(args)} exited {proc.returncode}:\n{err.decode()[-2000:]}")
    return out


def run_size(work: Path, model_pkg: Path, n: int, commands: tuple[str, ...], cap_mib: float) -> dict:
    """Every command once on a package with an ``n``-frame element."""
    frames = work / f"frames-{n}"
    t0 = time.perf_counter()
    in_child("--write-frames", str(frames), str(n))
    made = time.perf_counter() - t0
    root = work / f"pkg-{n}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(model_pkg, root)
    out: dict = {"frames": n, "writing_frames_s": round(made, 2)}
    steps = {
        "add": ["add", str(root), str(frames), "--role", "source", "--element", "scale",
                "--description", "35mm positive print", "--colour-space", "Rec.709", "--rights", "Synthetic"],
        "verify": ["verify", str(root), "--json"],
        "info": ["info", str(root), "--json"],
        "infer": ["infer", str(root), "--element", "scale", "--backend", "ort-cpu", "--threads", "1",
                  "--json"],  # the default commit cadence: batches of 8, growing with the record
        "describe": ["describe", str(root), "--json"],
    }
    # add first (everything needs the element); verify, info and describe after infer, so they see its outputs too.
    order = ["add", "infer", "verify", "info", "describe"]
    for name in order:
        if name not in commands and name != "add":
            continue
        r = timed(steps[name], cwd=work, cap_mib=cap_mib)
        print(f"  {n:>7} frames  {name:<9} {r['seconds']:8.2f} s  {r['seconds'] / n * 1000:7.3f} ms/frame  "
              f"CPU {r['cpu'] / n * 1000:7.3f} ms/frame  peak {r['peak_mib']:7.1f} MiB  load {r['load']:.1f}"
              + ("  STOPPED: over the memory cap" if r.get("over_cap") else ""), file=sys.stderr, flush=True)
        if r.get("over_cap"):
            out.setdefault("over_cap", []).append(name)
            if name == "add":
                break
            continue
        out[name] = r
    shutil.rmtree(frames)
    return out


def growth(results: list[dict], commands: tuple[str, ...]) -> dict:
    """How each command's time and peak memory grow from size to size.

    ``marginal_ms`` is the cost of each added frame between one size and the next, so the fixed start-up
    (imports, opening the package) drops out: a linear command keeps it flat from step to step, and its
    ratio to the first step (``marginal_ratio``) near 1. ``extra_kib_per_frame`` is the peak memory added
    per added frame.
    """
    out: dict = {}
    for name in commands:
        rows = [r for r in results if name in r]
        table, first = [], None
        for prev, cur in zip([None, *rows], rows):
            row = {"frames": cur["frames"], "seconds": round(cur[name]["seconds"], 3),
                   "ms_per_frame": round(cur[name]["seconds"] / cur["frames"] * 1000, 3),
                   "cpu_ms_per_frame": round(cur[name]["cpu"] / cur["frames"] * 1000, 3),
                   "peak_mib": round(cur[name]["peak_mib"], 1)}
            if prev is not None:
                dn = cur["frames"] - prev["frames"]
                row["marginal_ms"] = round((cur[name]["seconds"] - prev[name]["seconds"]) / dn * 1000, 3)
                row["marginal_cpu_ms"] = round((cur[name]["cpu"] - prev[name]["cpu"]) / dn * 1000, 3)
                row["extra_kib_per_frame"] = round((cur[name]["peak_mib"] - prev[name]["peak_mib"]) * 1024 / dn, 3)
                first = first or row["marginal_ms"]
                row["marginal_ratio"] = round(row["marginal_ms"] / first, 2) if first > 0 else None
            table.append(row)
        out[name] = table
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated frame counts (default 1000,10000; "
                    "the issue's full test is 1000,10000,50000)")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="which commands to time (add always runs)")
    ap.add_argument("--memory-cap-gb", type=float, default=4.0,
                    help="stop a command whose resident memory passes this (default 4 GB) and report it")
    ap.add_argument("--dir", type=Path, help="work here instead of a temporary directory (kept)")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    ap.add_argument("--with", dest="earlier", type=Path, action="append", default=[], metavar="JSON",
                    help="include the sizes of an earlier run's --json file in the table and growth (repeatable; "
                         "a long size can run on its own and be put together with the others after)")
    ap.add_argument("--write-frames", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--build-model", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.write_frames:
        write_frames(Path(args.write_frames[0]), int(args.write_frames[1]))
        return 0
    if args.build_model:
        build_model_package(args.build_model)
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    commands = tuple(c for c in COMMANDS if c in args.commands.split(","))
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        model_pkg = work / "model-pkg"
        if not (model_pkg / "bagit.txt").exists():
            in_child("--build-model", str(model_pkg))
        results = []
        for n in sizes:
            results.append(run_size(work, model_pkg, n, commands, args.memory_cap_gb * 1024))
            shutil.rmtree(work / f"pkg-{n}", ignore_errors=True)
        for earlier in args.earlier:
            results += [r for r in json.loads(earlier.read_text())["results"]
                        if r["frames"] not in {x["frames"] for x in results}]
        results.sort(key=lambda r: r["frames"])
        table = growth(results, commands)
        print(f"\n{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}; "
              f"{FRAME[1]}x{FRAME[0]} half-float PIZ frames")
        print(f"{'command':<9} {'frames':>7} {'s':>9} {'ms/frame':>9} {'CPU ms/fr':>9} {'peak MiB':>9} "
              f"{'marginal ms':>11} {'x first step':>12} {'CPU marg.':>9} {'KiB/frame':>9}")
        for name in commands:
            for g in table[name]:
                extra = (f"{g['marginal_ms']:>11.3f} {g['marginal_ratio'] or 0:>12.2f} {g['marginal_cpu_ms']:>9.3f} "
                         f"{g['extra_kib_per_frame']:>9.3f}" if "marginal_ms" in g else "")
                print(f"{name:<9} {g['frames']:>7} {g['seconds']:>9.2f} {g['ms_per_frame']:>9.3f} "
                      f"{g['cpu_ms_per_frame']:>9.3f} {g['peak_mib']:>9.1f} {extra}")
            stopped = [r["frames"] for r in results if name in r.get("over_cap", [])]
            if stopped:
                print(f"{name:<9} {', '.join(map(str, stopped))} frames: stopped over the {args.memory_cap_gb} GB cap")
        if args.json:
            args.json.write_text(json.dumps({"cores": len(os.sched_getaffinity(0)), "frame": list(FRAME),
                                             "results": results, "growth": table}, indent=2))
        return 0
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
