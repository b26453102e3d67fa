"""Time of ``archivist export`` against a bare ``torch.onnx.export`` of the same module, in one process.

Builds a package with a real dataset (as ``bench_train.py`` does), trains a
few steps, then takes turns between

* ``archivist export``: ``archivist.training.export.export`` as the command
  runs it (checkpoint check, the dynamo exporter, ``onnx.checker``, the
  parity check against onnxruntime, the model card, one transaction), with
  the time of its stages;
* a bare ``torch.onnx.export(model, dynamo=True)`` of the same module with
  the same dynamic batch, height and width and the exporter's default
  optimisation, serialised to bytes.

The first export in a process also pays for the exporter's one-time set-up
(about a second on two cores), so the first round of each is reported
apart. It also times the command end to end in a fresh process
(``python -m archivist export``, imports included), and checks that the
re-exported bytes are identical.

Usage::

    python benchmarks/bench_export.py                    # chroma small
    python benchmarks/bench_export.py --size medium --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _clock():
    return time.perf_counter(), time.process_time()


def _since(t) -> tuple[float, float]:
    w, c = _clock()
    return w - t[0], c - t[1]


def bare_export(model) -> bytes:
    """``torch.onnx.export`` with its defaults, dynamic batch/height/width, to bytes."""
    import logging
    import warnings

    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    dyn = torch.export.Dim.DYNAMIC
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model.eval(), (torch.zeros(2, 3, 64, 64),), dynamo=True, external_data=False,
                                    dynamic_shapes=({0: dyn, 2: dyn, 3: dyn},), verbose=False)
    return program.model_proto.SerializeToString()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["chroma", "spatial"], default="chroma")
    ap.add_argument("--size", choices=["small", "medium", "large"], default="small")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--frame", default="1024x778", help="source frame size WxH")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_train import make_package

    from archivist.training import checkpoints, export, models
    from archivist.training import run as training

    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.frame.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        pkg = make_package(tmp, 2, width, height, median=0 if args.mode == "spatial" else 10)
        rec = training.train(pkg, training.TrainSettings(mode=args.mode, size=args.size, steps=4, batch=1, patch=64,
                                                         checkpoint_every=4, contact_every=0, threads=args.threads,
                                                         device="cpu"), run_id="bench")
        _, tensors = checkpoints.unpack(pkg.layout.path(rec["checkpoints"][-1]["path"]).read_bytes())
        model = models.build(rec["architecture"]["config"])
        model.load_state_dict(checkpoints.model_state(tensors))

        stages: dict[str, list[tuple[float, float]]] = {}

        def timed(name, fn):
            def inner(*a, **k):
                t = _clock()
                try:
                    return fn(*a, **k)
                finally:
                    stages.setdefault(name, []).append(_since(t))
            return inner

        export.to_onnx = timed("to_onnx (exporter, optimisation, checker)", export.to_onnx)
        export.parity = timed("parity (torch eager vs onnxruntime)", export.parity)

        ours, bare, hashes = [], [], []
        for r in range(args.rounds):
            # Take turns, and swap who goes first, so that neither gains from the order.
            for which in (("ours", "bare") if r % 2 == 0 else ("bare", "ours")):
                t = _clock()
                if which == "ours":
                    card = export.export(pkg, run="bench", model_id=f"bench-{r}")
                    hashes.append(card["model"]["sha256"])
                    ours.append(_since(t))
                else:
                    bare_export(model)
                    bare.append(_since(t))
        t = _clock()
        proc = subprocess.run([sys.executable, "-m", "archivist", "export", str(pkg.root), "--run", "bench", "--id",
                               "bench-cli", "--json"], capture_output=True, text=True)
        cli = _since(t)[0]
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        from archivist.package.layout import Layout

        hashes.append(pkg.read_record(Layout.record("models", "bench-cli"), export.CARD_LABEL)["model"]["sha256"])

        out = {"mode": args.mode, "size": args.size, "parameters": rec["architecture"]["parameters"],
               "frame": [width, height], "threads": args.threads, "torch": torch.__version__,
               "archivist_export_s": [w for w, _ in ours], "archivist_export_cpu_s": [c for _, c in ours],
               "bare_torch_onnx_export_s": [w for w, _ in bare], "bare_cpu_s": [c for _, c in bare],
               "stages_s": stages, "cli_end_to_end_s": cli, "identical_bytes": len(set(hashes)) == 1}
        first = "first in the process, with the exporter's set-up"
        print(f"archivist export vs bare torch.onnx.export: {args.mode} {args.size} "
              f"({out['parameters']:,} parameters), frame {width}x{height}, {args.threads} thread(s)")
        for name, runs in (("archivist export", ours), ("bare torch.onnx.export", bare)):
            print(f"  {name:24s} " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in runs))
        print(f"  (round 1 of archivist export is {first})")
        for name, runs in stages.items():
            print(f"    {name:44s} " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in runs))
        print(f"  archivist export CLI     {cli:.2f} s end to end in a fresh process (imports included)")
        print(f"  re-exports byte-identical: {'yes' if out['identical_bytes'] else 'NO'} ({len(hashes)} exports: "
              + ", ".join(h[:12] for h in hashes) + ")")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=2))
        return 0 if out["identical_bytes"] else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
