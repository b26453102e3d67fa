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
* ``infer-ray1`` and ``infer-ray2``: the same inference as ``infer`` (same settings, on a fresh copy of
  the package as ``add`` left it), run as ``archivist infer PKG --ray ADDRESS --workers 1`` (and 2) on
  a Ray cluster this benchmark starts on the machine (``ray start --head``, loopback only, ``--ray-cpus``
  CPUs, its own token and temporary directory) and stops at the end, also on Ctrl-C or an error; every
  Ray run's output files are checked to be byte-identical to the local run's;
* ``describe``: ``metadata.csv``, ``rights.csv``, PREMIS, METS and the RO-Crate (written as streams).

The model comes from the real pipeline (``dataset.build`` on a small pair
of elements, a few training steps, ``export``), made once and copied into
every package. Per command and size it prints wall seconds, milliseconds per
frame, the child process's peak resident memory (``os.wait4``'s rusage, the
process's own high-water mark), and, against the smallest size, how time
and memory grow: a time ratio near the size ratio is linear; a peak memory
that grows by much more than the interpreter's and libraries' fixed share is
a per-frame structure that a 130,000-frame element would have to afford.

For the Ray runs the peak memory and CPU are the driver's (the ``archivist
infer`` process, which hashes the sources, commits and writes the record);
the workers are processes of the cluster, not children of the benchmark, so
their resident high-water mark (``VmHWM``) and CPU seconds are sampled from
``/proc`` every half second while the command runs (the last sample of each
worker before it exits), and printed beside the driver's, with each Ray
run's wall time as a ratio to the local ``infer`` at the same size. The
cluster's own daemons (GCS, raylet, idle workers) are not counted.

Usage::

    python benchmarks/bench_scale.py                                  # 1,000 and 10,000 frames
    python benchmarks/bench_scale.py --sizes 1000,10000,50000          # the full test (hours on 2 loaded cores)
    python benchmarks/bench_scale.py --sizes 1000,4000 --commands add,verify,info --json scale.json
    python benchmarks/bench_scale.py --sizes 50000 --json big.json     # a long size on its own, then
    python benchmarks/bench_scale.py --sizes 1000,10000 --with big.json  # in one table with the others
    python benchmarks/bench_scale.py --sizes 1000,2000 --commands add,infer,infer-ray1,infer-ray2  # infer, local and on Ray
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COMMANDS = ("add", "verify", "info", "infer", "infer-ray1", "infer-ray2", "describe")
RAY_COMMANDS = {"infer-ray1": 1, "infer-ray2": 2}  # command -> Ray workers
EPOCH = "1767225600"  # SOURCE_DATE_EPOCH of every infer run: the local and Ray runs can then be compared byte for byte
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # Ray's object store: only plain data crosses; the default takes 30% of RAM
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


class LocalRay:
    """A Ray cluster on this machine for the benchmark's Ray runs, on loopback only.

    ``ray start --head --block`` in a session of its own, with its own temporary directory and an
    authentication token made for it, so that it neither joins nor disturbs another Ray on the machine;
    ``stop`` signals that process alone, which stops what it started (``ray stop`` would stop every Ray
    cluster of the user). Given 127.0.0.1 as its node address, Ray 2.60 still resolves the node to the
    machine's outward address and listens on every interface; ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
    (Ray's switch for a cluster of one machine) keeps the node and every port on 127.0.0.1.
    """

    def __init__(self, cpus: int):
        self.cpus = cpus
        self.proc: subprocess.Popen | None = None
        self.temp: Path | None = None
        self.address = ""
        self.env: dict[str, str] = {}  # what a driver needs to join: the token and the loopback switch
        self.start_seconds = 0.0
        self.version = ""

    def start(self, timeout: float = 180.0) -> None:
        import secrets
        import socket
        import threading
        from importlib.metadata import version

        self.version = version("ray")  # not imported here: this process must stay small (see in_child)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # Short: Ray's socket paths under it must stay within the 107 bytes a Unix socket's name allows.
        self.temp = Path(tempfile.mkdtemp(prefix="ray-"))
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        self.address = f"127.0.0.1:{port}"
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address",
             "127.0.0.1", "--port", str(port), "--num-cpus", str(self.cpus), "--include-dashboard=false",
             "--disable-usage-stats", "--object-store-memory", str(OBJECT_STORE_BYTES), "--temp-dir", str(self.temp)],
            env=dict(os.environ, PYTHONPATH=str(REPO), **self.env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        lines: queue.Queue = queue.Queue()
        log: list[str] = []

        def drain() -> None:  # read it all, so that a full pipe never stops the cluster
            assert self.proc is not None and self.proc.stdout is not None
            for raw in self.proc.stdout:
                lines.put(raw.decode(errors="replace"))
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=max(0.1, timeout - (time.perf_counter() - t0)))
            except queue.Empty:
                raise RuntimeError(f"the Ray cluster did not start within {timeout:.0f} s:\n{''.join(log)[-2000:]}") \
                    from None
            if line is None:
                raise RuntimeError(f"ray start exited {self.proc.wait()}:\n{''.join(log)[-2000:]}")
            log.append(line)
            if "block forever" in line:  # printed once the head node is up
                break
        self.start_seconds = time.perf_counter() - t0

    def _leftovers(self) -> list[int]:
        """Processes still running whose command line names this cluster's temporary directory."""
        if self.temp is None:
            return []
        mark = str(self.temp).encode()
        found = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        if mark in f.read():
                            found.append(int(d))
                except OSError:
                    pass
        return found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # ray start --block then stops every process it started
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        time.sleep(1)
        for pid in self._leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
        self.proc = None


class WorkerWatch:
    """The Ray workers that run frames (``ray::FrameWorker`` actors below the cluster's head process).

    They are the cluster's processes, not the benchmark's children, so ``os.wait4`` cannot give their
    peaks: each worker's resident high-water mark (``VmHWM``, which only rises) and CPU seconds are read
    from ``/proc`` every ``every`` seconds while a command runs, and the last reading of each is kept.
    A worker's peak in its last moments, or CPU it spent after its last reading, can be missed.
    """

    def __init__(self, head_pid: int, every: float = 0.5):
        self.head_pid = head_pid
        self.every = every
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, tuple[int, float]] = {}  # pid -> (VmHWM KiB, CPU s)
        self.others: set[int] = set()  # processes found not to be below the head
        self._stop = None
        self._thread = None

    def _ppid(self, pid: int) -> int:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])

    def _ours(self, pid: int) -> bool:
        for _ in range(8):
            pid = self._ppid(pid)
            if pid == self.head_pid:
                return True
            if pid <= 1:
                return False
        return False

    def _read(self, pid: int) -> None:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime
        old = self.seen.get(pid, (0, 0.0))
        self.seen[pid] = (max(hwm, old[0]), max(cpu, old[1]))

    def sample(self) -> None:
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in self.others:
                continue
            pid = int(d)
            try:
                if pid not in self.seen:
                    if not self._ours(pid):
                        self.others.add(pid)
                        continue
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        # A pooled worker takes the actor's title when the actor starts in it.
                        if not f.read().startswith(b"ray::FrameWorker"):
                            continue
                self._read(pid)
            except (OSError, ValueError, IndexError):
                continue

    def start(self) -> None:
        import threading

        self.seen.clear()
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.every):
                self.sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.sample()
        hwm = [kib / 1024 for kib, _ in self.seen.values()]
        return {"workers_seen": len(self.seen), "worker_peak_mib": max(hwm, default=0.0),
                "workers_peak_sum_mib": sum(hwm), "workers_cpu": sum(cpu for _, cpu in self.seen.values())}


def output_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under the package's ``data/outputs`` (frames, sidecars, markers), by path."""
    base = root / "data" / "outputs"
    out = {}
    for p in sorted(base.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[str(p.relative_to(base))] = h.hexdigest()
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    except (OSError, ValueError):
        return 0


def timed(args: list[str], *, cwd: Path, cap_mib: float, env: dict | None = None,
          workers: WorkerWatch | None = None) -> dict:
    """Run ``python -m archivist ARGS`` in a new process: wall seconds, CPU seconds, peak RSS (MiB).

    A command whose resident memory passes ``cap_mib`` is stopped (so that one that grows without bound
    cannot take the machine down) and reported as ``over_cap``. ``env`` is added to the environment;
    with ``workers``, the Ray workers' sampled memory and CPU are added (``WorkerWatch.result``).
    """
    import threading

    env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    if workers is not None:
        workers.start()
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
    try:
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:  # Ctrl-C or a kill: the command goes too, before the cluster it may be using
        proc.kill()
        proc.wait()
        if workers is not None:
            workers.stop()
        raise
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    out = {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
           "load": os.getloadavg()[0]}  # the machine is shared: the load when the command ended
    if workers is not None:
        out.update(workers.stop())
    if over.is_set():
        return {**out, "over_cap": True}
    if proc.returncode != 0:
        raise RuntimeError(f"archivist {' '.join(args)} exited {proc.returncode}:\n{err.decode()[-2000:]}")
    return out


def _line(n: int, name: str, r: dict, local: dict | None) -> str:
    text = (f"  {n:>7} frames  {name:<10} {r['seconds']:8.2f} s  {r['seconds'] / n * 1000:7.3f} ms/frame  "
            f"CPU {r['cpu'] / n * 1000:7.3f} ms/frame  peak {r['peak_mib']:7.1f} MiB  load {r['load']:.1f}")
    if "workers_seen" in r:
        text += (f"  | {r['workers_seen']} worker(s): peak {r['worker_peak_mib']:.1f} MiB (largest), "
                 f"CPU {r['workers_cpu'] / n * 1000:.3f} ms/frame (sampled)")
        if local:
            text += f"; {r['seconds'] / local['seconds']:.2f}x local wall"
        if r.get("same_bytes") is not None:
            text += f"; same bytes as local: {'yes' if r['same_bytes'] else 'NO'}"
    return text + ("  STOPPED: over the memory cap" if r.get("over_cap") else "")


def run_size(work: Path, model_pkg: Path, n: int, commands: tuple[str, ...], cap_mib: float,
             ray: LocalRay | None = None) -> dict:
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
        "describe": ["describe", str(root), "--json"],
    }
    infer = ["--element", "scale", "--backend", "ort-cpu", "--threads", "1", "--json"]  # the default commit
    # cadence: batches of 8, growing with the record; on Ray, one model thread per worker.
    steps["infer"] = ["infer", str(root), *infer]
    on_ray = [c for c in RAY_COMMANDS if c in commands]
    if on_ray and ray is None:
        raise ValueError("the Ray commands need the benchmark's cluster")
    added = work / f"pkg-{n}-added"  # the package as add left it: each Ray run infers on a fresh copy of it
    # add first (everything needs the element); the Ray runs next to the local infer, under the same load;
    # verify, info and describe after, on the local run's package, so that they see its outputs too.
    order = ["add", "infer", *RAY_COMMANDS, "verify", "info", "describe"]
    local_digests = None
    for name in order:
        if name not in commands and name != "add":
            continue
        env, watch, pkg = None, None, root
        if name in RAY_COMMANDS:
            assert ray is not None and ray.proc is not None
            pkg = work / f"pkg-{n}-{name}"
            shutil.rmtree(pkg, ignore_errors=True)
            shutil.copytree(added, pkg)
            steps[name] = ["infer", str(pkg), *infer, "--ray", ray.address, "--workers", str(RAY_COMMANDS[name])]
            env, watch = {**ray.env, "SOURCE_DATE_EPOCH": EPOCH}, WorkerWatch(ray.proc.pid)
        elif name == "infer":
            env = {"SOURCE_DATE_EPOCH": EPOCH}
        r = timed(steps[name], cwd=work, cap_mib=cap_mib, env=env, workers=watch)
        if name == "infer" and not r.get("over_cap") and on_ray:
            local_digests = output_digests(root)
        if name in RAY_COMMANDS:
            if not r.get("over_cap") and local_digests is not None:
                r["same_bytes"] = output_digests(pkg) == local_digests
            shutil.rmtree(pkg, ignore_errors=True)
        print(_line(n, name, r, out.get("infer") if name in RAY_COMMANDS else None), file=sys.stderr, flush=True)
        if r.get("over_cap"):
            out.setdefault("over_cap", []).append(name)
            if name == "add":
                break
            continue
        out[name] = r
        if name == "add" and on_ray:
            shutil.rmtree(added, ignore_errors=True)
            shutil.copytree(root, added)
    shutil.rmtree(added, ignore_errors=True)
    shutil.rmtree(frames)
    return out


def growth(results: list[dict], commands: tuple[str, ...]) -> dict:
    """How each command's time and peak memory grow from size to size.

    ``marginal_ms`` is the cost of each added frame between one size and the next, so the fixed start-up
    (imports, opening the package) drops out: a linear command keeps it flat from step to step, and its
    ratio to the first step (``marginal_ratio``) near 1. ``extra_kib_per_frame`` is the peak memory added
    per added frame. For the Ray runs also the workers' sampled peak (the largest worker's) and CPU, the
    peak added per added frame by the largest worker, and ``x_local``: the wall time over the local
    ``infer``'s at the same size.
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
            if "workers_seen" in cur[name]:
                row.update(workers=cur[name]["workers_seen"], worker_peak_mib=round(cur[name]["worker_peak_mib"], 1),
                           workers_peak_sum_mib=round(cur[name]["workers_peak_sum_mib"], 1),
                           workers_cpu_ms_per_frame=round(cur[name]["workers_cpu"] / cur["frames"] * 1000, 3),
                           same_bytes=cur[name].get("same_bytes"))
                if "infer" in cur:
                    row["x_local"] = round(cur[name]["seconds"] / cur["infer"]["seconds"], 3)
            if prev is not None:
                dn = cur["frames"] - prev["frames"]
                row["marginal_ms"] = round((cur[name]["seconds"] - prev[name]["seconds"]) / dn * 1000, 3)
                row["marginal_cpu_ms"] = round((cur[name]["cpu"] - prev[name]["cpu"]) / dn * 1000, 3)
                row["extra_kib_per_frame"] = round((cur[name]["peak_mib"] - prev[name]["peak_mib"]) * 1024 / dn, 3)
                first = first or row["marginal_ms"]
                row["marginal_ratio"] = round(row["marginal_ms"] / first, 2) if first > 0 else None
                if "workers_seen" in cur[name] and "workers_seen" in prev[name]:
                    row["worker_extra_kib_per_frame"] = round(
                        (cur[name]["worker_peak_mib"] - prev[name]["worker_peak_mib"]) * 1024 / dn, 3)
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
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray cluster the infer-ray runs use "
                    "(default 2)")
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
    unknown = set(args.commands.split(",")) - set(COMMANDS) - {""}
    if unknown:
        ap.error(f"unknown command(s) {', '.join(sorted(unknown))}; choose from {', '.join(COMMANDS)}")
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    ray = LocalRay(args.ray_cpus) if sizes and any(c in RAY_COMMANDS for c in commands) else None

    def terminated(signum, frame):  # a kill stops the cluster too, as Ctrl-C does (the finally below)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        model_pkg = work / "model-pkg"
        if not (model_pkg / "bagit.txt").exists():
            in_child("--build-model", str(model_pkg))
        if ray is not None:
            ray.start()
            print(f"Ray {ray.version} cluster at {ray.address} started in {ray.start_seconds:.1f} s "
                  f"({args.ray_cpus} CPUs)", file=sys.stderr, flush=True)
        results = []
        for n in sizes:
            results.append(run_size(work, model_pkg, n, commands, args.memory_cap_gb * 1024, ray))
            shutil.rmtree(work / f"pkg-{n}", ignore_errors=True)
        for earlier in args.earlier:
            results += [r for r in json.loads(earlier.read_text())["results"]
                        if r["frames"] not in {x["frames"] for x in results}]
        results.sort(key=lambda r: r["frames"])
        table = growth(results, commands)
        print(f"\n{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}; "
              f"{FRAME[1]}x{FRAME[0]} half-float PIZ frames")
        print(f"{'command':<10} {'frames':>7} {'s':>9} {'ms/frame':>9} {'CPU ms/fr':>9} {'peak MiB':>9} "
              f"{'marginal ms':>11} {'x first step':>12} {'CPU marg.':>9} {'KiB/frame':>9}")
        for name in commands:
            for g in table[name]:
                extra = (f"{g['marginal_ms']:>11.3f} {g['marginal_ratio'] or 0:>12.2f} {g['marginal_cpu_ms']:>9.3f} "
                         f"{g['extra_kib_per_frame']:>9.3f}" if "marginal_ms" in g else "")
                print(f"{name:<10} {g['frames']:>7} {g['seconds']:>9.2f} {g['ms_per_frame']:>9.3f} "
                      f"{g['cpu_ms_per_frame']:>9.3f} {g['peak_mib']:>9.1f} {extra}")
            stopped = [r["frames"] for r in results if name in r.get("over_cap", [])]
            if stopped:
                print(f"{name:<9} {', '.join(map(str, stopped))} frames: stopped over the {args.memory_cap_gb} GB cap")
        same = True
        if any(c in RAY_COMMANDS for c in commands):
            print("\nOn Ray (s, ms/frame, CPU and peak above are the driver's; the workers' are sampled from /proc:"
                  " wk peak is the largest worker's, wk KiB/frame what it added per added frame)")
            print(f"{'command':<10} {'frames':>7} {'workers':>7} {'x local':>7} {'wk CPU ms/fr':>12} "
                  f"{'wk peak MiB':>11} {'sum of wk':>9} {'wk KiB/frame':>12} {'same bytes':>10}")
            for name in (c for c in RAY_COMMANDS if c in commands):
                for g in table[name]:
                    same = same and g["same_bytes"] is not False
                    x_local = f"{g['x_local']:.2f}" if "x_local" in g else "-"  # no local infer at this size
                    print(f"{name:<10} {g['frames']:>7} {g['workers']:>7} {x_local:>7} "
                          f"{g['workers_cpu_ms_per_frame']:>12.3f} {g['worker_peak_mib']:>11.1f} "
                          f"{g['workers_peak_sum_mib']:>9.1f} "
                          f"{g['worker_extra_kib_per_frame'] if 'worker_extra_kib_per_frame' in g else '':>12} "
                          f"{ {True: 'yes', False: 'NO', None: '-'}[g['same_bytes']]:>10}")
        if args.json:
            args.json.write_text(json.dumps({"cores": len(os.sched_getaffinity(0)), "frame": list(FRAME),
                                             "ray": ray and {"version": ray.version, "cpus": ray.cpus,
                                                             "start_seconds": round(ray.start_seconds, 2)},
                                             "results": results, "growth": table}, indent=2))
        if not same:
            print("a Ray run's outputs differ from the local run's", file=sys.stderr)
            return 1
        return 0
    finally:
        if ray is not None:
            ray.stop()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
