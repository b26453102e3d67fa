"""Training speed of ``archivist train`` against a bare PyTorch loop of the same model, batch and patch.

Builds a package with a real dataset (faded photographs as the source, the
originals as the reference, through ``archivist.dataset.build``), then, in
one process, takes turns between

* ``archivist train``: ``archivist.training.run.train`` as the command runs it,
  with the guide's checkpoint and contact-sheet intervals (so a short run
  writes its first commit, its final checkpoint and one contact sheet into
  the package); its steps/s is timed from inside, between the first and the
  last step, with patch sampling, loss logging and progress included
  (commits and contact sheets are reported apart);
* a bare loop: the same model, optimizer, loss, batch and patch size on one
  fixed batch already in memory (no sampling, no logging, no package),

for ``--repeat`` rounds, and reports the best round of each and their
ratio (target >= 0.9). It also times patch sampling alone (the data-loading
cost per step), one checkpoint commit and one contact sheet, and projects
the rate of a real run with the guide's intervals. On CPU it also gives
steps per CPU second, which other work on a shared machine disturbs far
less than wall time. CUDA is used when present (``--device auto``).

Usage::

    python benchmarks/bench_train.py                       # chroma medium, batch 3, patch 256, 40 steps
    python benchmarks/bench_train.py --patch 512 --steps 100 --size large
    python benchmarks/bench_train.py --mode spatial --size small
    python benchmarks/bench_train.py --busy                # thread counts on an idle and a busy machine

``--busy`` compares thread counts (1 up to the usable cores, each with
OpenMP's default and passive waiting) in fresh processes, first as the
machine is, then with a CPU-burning process held on one core for the
duration, and shows the count ``archivist train`` chooses by default. Each
measurement is a bare loop of the real model on one in-memory batch, timed
over ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _photo(width: int, height: int, index: int) -> np.ndarray:
    from skimage import data as skdata

    img = skdata.astronaut()[..., :3].astype(np.float32) / 255.0
    img = np.concatenate([img, img[:, ::-1]], axis=1)
    img = np.concatenate([img, img[::-1]], axis=0)
    img = np.roll(img, (17 * index, 29 * index), axis=(0, 1))
    reps = (-(-height // img.shape[0]), -(-width // img.shape[1]), 1)
    return np.tile(img, reps)[:height, :width]


def _fade(rgb: np.ndarray, seed: int) -> np.ndarray:
    grey = rgb.mean(axis=-1, keepdims=True)
    out = (0.35 * rgb + 0.65 * grey) * np.array([1.05, 0.85, 1.0]) + np.array([0.03, 0.0, 0.04])
    out = out + np.random.default_rng(seed).normal(0, 0.01, out.shape[:2])[..., None]
    return np.clip(out, 0, 1).astype(np.float32)


def make_package(folder: Path, pairs: int, width: int, height: int, median: int):
    from archivist import dataset
    from archivist.imaging import oiio
    from archivist.package import Package

    src_dir, ref_dir = folder / "scan", folder / "dvd"
    src_dir.mkdir(parents=True)
    ref_dir.mkdir(parents=True)
    for i in range(pairs + 1):
        ref = _photo(width, height, i)
        oiio.write(ref_dir / f"dvd.{i + 1:04d}.png", ref, pixel_type="uint8")
        oiio.write(src_dir / f"scan.{1001 + i:04d}.exr", _fade(ref, i), pixel_type="half", compression="piz")
    pkg = Package.create(folder / "pkg", title="Benchmark", organization="Benchmarks")
    pkg.add_element(role="source", element="print16", paths=[src_dir], description="16mm positive print",
                    training_use="authorised")
    pkg.add_element(role="reference", element="dvd", paths=[ref_dir], description="PAL DVD 2003",
                    training_use="authorised")
    dataset.build(pkg, source="print16", reference="dvd", pairs=[(1001 + i, 1 + i) for i in range(pairs)],
                  preview_frames=[(1001 + pairs, 1 + pairs)], align_mode="none", median_size=median)
    return pkg


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


WARMUP = 3  # steps left out of both timings


class Probe:
    """A progress bar that notes the wall and CPU clocks at every step."""

    def __init__(self, **_):
        self.marks: list[tuple[float, float]] = []

    def update(self, n: int = 1) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def close(self) -> None:
        pass

    def rates(self) -> tuple[float, float]:
        """Steps per wall second and per CPU second between the first and the last step.

        The first three steps are warm-up, as in the bare loop, and the last
        carries the final commit and contact sheet (reported apart); what is
        measured is a training step as the loop runs it, with sampling,
        logging and progress.
        """
        (w0, c0), (w1, c1) = self.marks[WARMUP - 1], self.marks[-2]
        n = len(self.marks) - 1 - WARMUP
        return n / (w1 - w0), n / (c1 - c0)


def bare_loop(settings, rec, data, steps: int) -> tuple[float, float]:
    """Steps/s of the same model, optimizer and loss on one fixed in-memory batch."""
    import torch

    from archivist.training import devices

    s = rec["settings"]
    device, fmt = s["device"], torch.channels_last if s["channels_last"] else torch.contiguous_format
    with devices.pinned(s["threads"], device):  # the same threads and flags as the library's run
        return _bare(s, rec, data, steps, device, fmt)


def _bare(s, rec, data, steps, device, fmt) -> tuple[float, float]:

    from archivist.training import run as training
    from archivist.training.sampling import PatchSampler

    model = training.build_model(rec["architecture"]["config"], s["seed"], device, s["channels_last"])
    opt = training.build_optimizer(model, s["optimizer"])
    sampler = PatchSampler(s["seed"], data.sizes, s["batch"], s["patch_effective"])
    xb, yb, windows = sampler.batch_of(data, fmt)
    model.train()

    def step():
        loss = training.loss_fn(model, xb, yb, data.kr, data.kb, windows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(WARMUP):
        step()
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)


def _worker(args) -> int:
    """One measurement of ``--busy``: steps/s of the bare loop on ``args.threads`` threads, as one JSON line."""
    import torch

    from archivist.training import devices, models
    from archivist.training import run as training

    with devices.pinned(args.threads, "cpu"):
        arch = models.architecture(args.mode, args.size, args.tone)
        model = training.build_model(arch, 0, "cpu", False)
        opt = training.build_optimizer(model, training.optimizer_settings(1e-3, "cpu"))
        gen = torch.Generator().manual_seed(0)
        xb = torch.rand(args.batch, 3, args.patch, args.patch, generator=gen) - torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)
        yb = torch.rand(args.batch, 3, args.patch, args.patch, generator=gen)

        def step():
            loss = training.loss_fn(model, xb, yb, 0.2126, 0.0722)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(WARMUP):
            step()
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < args.seconds or n < 2:
            step()
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"threads": args.threads, "steps": n, "steps_per_s": n / wall, "cpu_per_step": cpu / n}))
    return 0


def _burn_one_core() -> None:
    """A busy neighbour: spin on the first usable core until killed."""
    import os

    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})
    while True:
        pass


def busy(args) -> int:
    """Steps/s by thread count and OpenMP wait policy, idle and with one core taken."""
    import multiprocessing
    import os
    import subprocess

    from archivist.training import devices

    usable = len(devices._cpus())
    counts = list(range(1, min(usable, 4) + 1)) if usable <= 4 else [1, usable // 2, usable]
    results: dict = {"cpu": platform.processor() or platform.machine(), "usable_cpus": usable,
                     "physical_cores": devices.physical_cores(), "default_threads": devices.default_threads(),
                     "mode": args.mode, "size": args.size, "batch": args.batch, "patch": args.patch,
                     "seconds": args.seconds, "load_before": os.getloadavg(), "runs": []}

    def measure(state: str) -> None:
        for threads in counts:
            for policy in ("default", "passive"):
                env = dict(os.environ)
                env.pop("OMP_WAIT_POLICY", None)
                if policy == "passive":
                    env["OMP_WAIT_POLICY"] = "PASSIVE"  # read by OpenMP when torch loads it
                cmd = [sys.executable, __file__, "--worker", "--threads", str(threads), "--mode", args.mode,
                       "--size", args.size, "--batch", str(args.batch), "--patch", str(args.patch),
                       "--seconds", str(args.seconds)] + (["--tone"] if args.tone else [])
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                r.update(state=state, wait_policy=policy)
                results["runs"].append(r)
                print(f"  {state:5s} threads {threads}  wait {policy:8s} {r['steps_per_s']:7.2f} steps/s "
                      f"({r['steps']} steps)", flush=True)

    print(f"thread counts, idle and busy: {args.mode} {args.size}, batch {args.batch}, patch {args.patch}; "
          f"{usable} usable CPUs, {results['physical_cores']} physical cores, load {results['load_before'][0]:.2f}")
    measure("idle")
    burner = multiprocessing.get_context("spawn").Process(target=_burn_one_core, daemon=True)
    burner.start()
    try:
        measure("busy")
    finally:
        burner.terminate()
        burner.join()
    best = {}
    for r in results["runs"]:
        key = r["state"]
        if key not in best or r["steps_per_s"] > best[key]["steps_per_s"]:
            best[key] = r
    chosen = [r for r in results["runs"] if r["threads"] == results["default_threads"] and r["wait_policy"] == "default"]
    for r in chosen:
        print(f"  default ({r['threads']} thread{'s' if r['threads'] > 1 else ''}) {r['state']}: "
              f"{r['steps_per_s']:.2f} steps/s, {r['steps_per_s'] / best[r['state']]['steps_per_s']:.0%} of the best "
              f"({best[r['state']]['threads']} threads, wait {best[r['state']]['wait_policy']})")
    results["best"] = best
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["chroma", "spatial"], default="chroma")
    ap.add_argument("--tone", action="store_true")
    ap.add_argument("--size", choices=["small", "medium", "large"], default="medium")
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--patch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the best of each is reported")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--frame", default="1024x778", help="source frame size WxH (default: half 2K)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    ap.add_argument("--busy", action="store_true", help="compare thread counts on an idle and a busy machine")
    ap.add_argument("--seconds", type=float, default=8.0, help="--busy: seconds each measurement runs")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.busy:
        return busy(args)
    if args.steps < WARMUP + 3:
        ap.error(f"--steps must be at least {WARMUP + 3}")

    import torch

    from archivist.imaging import oiio
    from archivist.training import checkpoints, devices
    from archivist.training import data as training_data
    from archivist.training import run as training
    from archivist.training.sampling import PatchSampler

    width, height = (int(v) for v in args.frame.lower().split("x"))
    device = devices.resolve(args.device)
    threads = args.threads or devices.default_threads()
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        t0 = time.perf_counter()
        pkg = make_package(tmp, args.pairs, width, height, median=0 if args.mode == "spatial" else 10)
        build_s = time.perf_counter() - t0
        base = dict(mode=args.mode, tone=args.tone, size=args.size, batch=args.batch, patch=args.patch,
                    threads=threads, device=device, channels_last=args.channels_last)
        lib, session, bare, wall, lib_cpu, bare_cpu = [], [], [], [], [], []
        settings = training.TrainSettings(steps=args.steps, **base)

        def library(r):
            probe = Probe()
            t0 = time.perf_counter()
            rec = training.train(pkg, settings, run_id=f"bench-{r}", progress=lambda **kw: probe)
            wall.append(args.steps / (time.perf_counter() - t0))
            w, c = probe.rates()
            lib.append(w)
            lib_cpu.append(c)
            session.append(rec["sessions"][-1]["steps_per_second"])
            return rec

        rec = library("first")  # also gives the settings the bare loop copies
        record, _ = training_data._dataset_api().load(pkg)
        data = training_data.load_data(pkg, record, args.mode, args.tone, device, args.channels_last)
        for r in range(args.repeat):
            # Take turns, and swap who goes first, so that neither gains from the order.
            for which in (("bare", "lib") if r % 2 == 0 else ("lib", "bare")):
                if which == "lib" and r > 0:
                    library(r)
                elif which == "bare":
                    w, c = bare_loop(settings, rec, data, args.steps)
                    bare.append(w)
                    bare_cpu.append(c)

        # Where the difference goes: sampling, one checkpoint, one contact sheet (under the run's settings).
        with devices.pinned(threads, device):
            s = rec["settings"]
            fmt = torch.channels_last if s["channels_last"] else torch.contiguous_format
            sampler = PatchSampler(0, data.sizes, s["batch"], s["patch_effective"])
            n = 200
            t0 = time.perf_counter()
            for _ in range(n):
                sampler.batch_of(data, fmt)
            _sync(device)
            sample_ms = (time.perf_counter() - t0) / n * 1000
            model = training.build_model(rec["architecture"]["config"], 0, device, s["channels_last"])
            opt = training.build_optimizer(model, s["optimizer"])
            t0 = time.perf_counter()
            blob = checkpoints.pack(model, opt, sampler.generator, step=1, architecture=rec["architecture"]["config"],
                                    digest=rec["settings_digest"])
            pack_ms = (time.perf_counter() - t0) * 1000
            run = training._Run(pkg, json.loads(json.dumps(rec)), data, model, opt, sampler, loss_lines=[],
                                loss_values=[], holdout=[])
            t0 = time.perf_counter()
            run._contact(1)
            _sync(device)
            contact_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            with pkg.transaction("bench") as txn:
                txn.write_bytes("data/training/bench-commit/checkpoint.safetensors", blob)
                oiio.write(txn.staging_path("data/training/bench-commit/contact.png"), run.pending_contacts[0][1],
                              pixel_type="uint8")
                txn.adopt("data/training/bench-commit/contact.png")
                txn.commit()
            commit_ms = (time.perf_counter() - t0) * 1000

        best_lib, best_bare = max(lib), max(bare)
        step_ms = 1000 / best_bare
        # A real run commits every checkpoint_every steps and draws a sheet every contact_every steps.
        projected = 1 / (1 / best_lib + commit_ms / 1000 / s["checkpoint_every"]
                         + contact_ms / 1000 / max(1, s["contact_every"]))
        out = {
            "device": device, "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
            "cpu": platform.processor() or platform.machine(), "threads": threads, "torch": torch.__version__,
            "mode": args.mode, "tone": args.tone, "size": args.size, "parameters": rec["architecture"]["parameters"],
            "batch": args.batch, "patch": s["patch_effective"], "steps": args.steps, "frame": [width, height],
            "pairs": args.pairs, "archivist_steps_per_s": lib, "bare_steps_per_s": bare,
            "archivist_end_to_end_steps_per_s": wall, "best_archivist": best_lib, "best_bare": best_bare,
            "ratio": best_lib / best_bare, "archivist_session_steps_per_s": session,
            "projected_steps_per_s": projected, "projected_ratio": projected / best_bare,
            "archivist_steps_per_cpu_s": lib_cpu, "bare_steps_per_cpu_s": bare_cpu,
            "cpu_time_ratio": max(lib_cpu) / max(bare_cpu), "sampling_ms_per_step": sample_ms,
            "sampling_share_of_step": sample_ms / step_ms, "checkpoint_bytes": len(blob), "checkpoint_pack_ms": pack_ms,
            "contact_sheet_ms": contact_ms, "commit_ms": commit_ms, "package_build_s": build_s,
        }
        print(f"archivist train vs bare torch loop: {args.mode}{' + tone' if args.tone else ''} {args.size} "
              f"({out['parameters']:,} parameters), batch {args.batch}, patch {s['patch_effective']}, "
              f"{args.steps} steps, {device}" + (f" ({out['gpu']})" if out["gpu"] else f", {threads} threads"))
        print(f"  archivist train   {best_lib:8.3f} steps/s   (training steps with sampling, logging, progress; "
              f"rounds: {', '.join(f'{v:.3f}' for v in lib)})")
        print(f"  bare torch loop   {best_bare:8.3f} steps/s   (rounds: {', '.join(f'{v:.3f}' for v in bare)})")
        print(f"  ratio             {out['ratio']:8.3f}          (target >= 0.9: "
              f"{'met' if out['ratio'] >= 0.9 else 'NOT met'})")
        print(f"  with commits      {projected:8.3f} steps/s   (projected for a checkpoint every "
              f"{s['checkpoint_every']} and a sheet every {s['contact_every']} steps: ratio {out['projected_ratio']:.3f})")
        print(f"  this short run    {max(session):8.3f} steps/s   (the session, first and last commit included); "
              f"{max(wall):.3f} end to end with data loading")
        if device == "cpu":
            # CPU time is far less disturbed than wall time by other work on a shared machine.
            print(f"  per CPU second    {max(lib_cpu):8.3f} vs {max(bare_cpu):.3f} steps: ratio {out['cpu_time_ratio']:.3f} "
                  "(archivist train vs bare loop, CPU time of the process)")
        print(f"  patch sampling    {sample_ms:8.2f} ms/step   ({100 * out['sampling_share_of_step']:.2f}% of a bare step)")
        print(f"  checkpoint        {len(blob) / 1e6:8.2f} MB, packed in {pack_ms:.0f} ms; commit with a contact "
              f"sheet {commit_ms:.0f} ms")
        print(f"  contact sheet     {contact_ms:8.0f} ms (prediction on the preview window)")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=2))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
