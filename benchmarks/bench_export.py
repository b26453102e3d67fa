"""Time of ``archivist export`` against a bare ``torch.onnx.export`` of the same module, in one process.

Builds a package with a real dataset (as ``bench_train.py`` does), trains a
few steps, then takes turns between

* ``archivist export`` with a fresh trace (``reuse_graph=False``, what the
  first export of an architecture in a package does):
  ``archivist.training.export.export`` as the command runs it (checkpoint
  check, the dynamo exporter, the optimisation with the weights hidden,
  ``onnx.checker``, the parity check against onnxruntime, the model card,
  one transaction), with the time of its stages: ``torch.export.export``
  (the capture), the decompositions (a second symbolic trace), the
  translation to ONNX, ``optimize_ir`` and ``onnx.checker``;
* ``archivist export`` taking the graph from a model already in the
  package (the default when there is one): the template's weights replaced
  by the checkpoint's;
* a bare ``torch.onnx.export(model, dynamo=True)`` of the same module with
  the same dynamic batch, height and width and the exporter's default
  optimisation, serialised to bytes (the baseline of the ratios).

The first export in a process also pays for the exporter's one-time set-up
(about a second on two cores), so the first round is reported apart. It
also times the command end to end in a fresh process (``python -m
archivist export``, imports included, taking a template), and checks that
every export of the checkpoint, traced or from a template, has the same
bytes.

Usage::

    python benchmarks/bench_export.py                    # chroma small
    python benchmarks/bench_export.py --mode spatial --rounds 3
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

        import onnx
        import onnxscript
        from torch.onnx._internal.exporter import _fx_passes

        # Each stage is patched where the exporter and archivist look it up, and only while our export runs.
        patches = [(torch.export, "export", "capture (torch.export.export)"),
                   (_fx_passes, "decompose_with_registry", "decompositions (second trace)"),
                   (onnxscript.optimizer, "optimize_ir", "optimize_ir (weights hidden)"),
                   (onnx.checker, "check_model", "onnx.checker (full check)"),
                   (export, "to_onnx", "to_onnx (the whole trace path)"),
                   (export, "from_template", "from_template (weights replaced)"),
                   (export, "parity", "parity (torch eager vs onnxruntime)")]
        originals = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]

        def ours(model_id, reuse, checkpoint=None):
            for obj, attr, name in patches:
                setattr(obj, attr, timed(f"{'template' if reuse else 'traced'}: {name}", getattr(obj, attr)))
            try:
                return export.export(pkg, run="bench", model_id=model_id, reuse_graph=reuse, checkpoint=checkpoint)
            finally:
                for obj, attr, fn in originals:
                    setattr(obj, attr, fn)

        traced, reused, bare, hashes, graphs = [], [], [], [], []
        order = ("traced", "reused", "bare")
        for r in range(args.rounds):
            # Take turns, and rotate who goes first, so that none gains from the order.
            for which in order[r % 3:] + order[:r % 3]:
                t = _clock()
                if which == "bare":
                    bare_export(model)
                    bare.append(_since(t))
                    continue
                card = ours(f"{which}-{r}", which == "reused")
                (traced if which == "traced" else reused).append(_since(t))
                hashes.append(card["model"]["sha256"])
                graphs.append(card["format"]["graph"]["from"])
        t = _clock()
        proc = subprocess.run([sys.executable, "-m", "archivist", "export", str(pkg.root), "--run", "bench", "--id",
                               "bench-cli", "--json"], capture_output=True, text=True)
        cli = _since(t)[0]
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        from archivist.package.layout import Layout

        cli_card = pkg.read_record(Layout.record("models", "bench-cli"), export.CARD_LABEL)
        hashes.append(cli_card["model"]["sha256"])
        graphs.append(cli_card["format"]["graph"]["from"])
        # Another checkpoint (other weights), from a template and traced: the graph must not depend on the weights.
        round_stages = {k: list(v) for k, v in stages.items()}  # the rounds' only
        other = next(c["step"] for c in rec["checkpoints"] if c["step"] != cli_card["checkpoint"]["step"])
        other_t = ours("other-template", True, checkpoint=other)["model"]["sha256"]
        other_f = ours("other-traced", False, checkpoint=other)["model"]["sha256"]
        other_ok = other_t == other_f != hashes[0]

        def best(runs):
            return min(w for w, _ in runs)

        out = {"mode": args.mode, "size": args.size, "parameters": rec["architecture"]["parameters"],
               "frame": [width, height], "threads": args.threads, "torch": torch.__version__,
               "load_average": list(os.getloadavg()),
               "traced_export_s": [w for w, _ in traced], "traced_export_cpu_s": [c for _, c in traced],
               "template_export_s": [w for w, _ in reused], "template_export_cpu_s": [c for _, c in reused],
               "bare_torch_onnx_export_s": [w for w, _ in bare], "bare_cpu_s": [c for _, c in bare],
               "stages_s": round_stages, "cli_end_to_end_s": cli, "graphs": graphs,
               "identical_bytes": len(set(hashes)) == 1, "other_checkpoint": other,
               "other_checkpoint_identical": other_ok}
        print(f"archivist export vs bare torch.onnx.export: {args.mode} {args.size} "
              f"({out['parameters']:,} parameters), frame {width}x{height}, {args.threads} thread(s), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for name, runs in (("export, traced", traced), ("export, from a template", reused),
                           ("bare torch.onnx.export", bare)):
            print(f"  {name:26s} " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in runs))
        print("  (round 1 of the first in the process pays for the exporter's set-up)")
        for name, runs in round_stages.items():
            print(f"    {name:50s} " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in runs))
        base = best(bare)
        print(f"  best against the bare exporter: traced {best(traced) / base:.2f}, "
              f"from a template {best(reused) / base:.3f}")
        print(f"  archivist export CLI       {cli:.2f} s end to end in a fresh process (imports included, "
              f"graph from a {graphs[-1]})")
        print(f"  every export byte-identical: {'yes' if out['identical_bytes'] else 'NO'} ({len(hashes)} exports: "
              + ", ".join(f"{h[:12]} ({g})" for h, g in zip(hashes, graphs)) + ")")
        print(f"  checkpoint {other} (other weights) from a template and traced: "
              f"{'the same bytes' if other_ok else 'DIFFERENT BYTES'} ({other_t[:12]}, {other_f[:12]})")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=2))
        return 0 if out["identical_bytes"] and other_ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
