"""infer, reproduce."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.credentials import keys as keymod
from archivist.credentials.signer import ENV_ALG, ENV_CERT, ENV_KEY, ENV_TSA
from archivist.errors import EXIT_CHECK_FAILED
from archivist.inference import COMPRESSIONS, DEFAULT_COMMIT_EVERY, backends
from archivist.package import iptc

pkg_arg = package_argument()
backend_option = click.option("--backend", type=click.Choice(backends.BACKENDS), default="auto", show_default=True,
                              help="ort-cpu: onnxruntime on CPU; ort-cuda: onnxruntime's CUDA/TensorRT provider "
                                   "(onnxruntime-gpu); torch-cpu/torch-cuda: PyTorch executing the archived ONNX graph.")
device_option = click.option("--device", type=click.Choice(backends.DEVICES), default="auto", show_default=True)
ray_option = click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                          help="Run on Ray: join the cluster at ADDRESS ('auto', HOST:PORT), or without one start a "
                               "cluster on this machine for this command (or join RAY_ADDRESS's). The package must be "
                               "on a filesystem every node shares, at the same path.")


def _print_infer(d: dict) -> None:
    f = d["frames"]
    if d.get("already_complete"):
        click.echo(f"run {d['run']} already made these frames ({f['skipped']}); nothing to do")
        return
    how = "resumed" if d["resumed"] else "run"
    parts = [f"{f['computed']} frame(s) inferred"]
    if f["reused"]:
        parts.append(f"{f['reused']} finished by an interrupted session")
    if f["skipped"]:
        parts.append(f"{f['skipped']} already in the package (re-hashed)")
    click.echo(f"{how} {d['run']}: {', '.join(parts)}; {d['status']}")
    b = d["backend"]
    click.echo(f"  backend {b['name']} ({b['engine']['name']} {b['engine']['version']})"
               + (f", parity with ort-cpu {'passed' if d['parity']['passed'] else 'FAILED'} "
                  f"(max |diff| {d['parity']['max_abs_diff']:.2g})" if d.get("parity") else ""))
    click.echo(f"  IPTC digital source type: {d['digital_source_type']['term']}")
    click.echo(f"  outputs in {d['outputs']}, record {d['record']}")
    if d.get("frames_per_second"):
        click.echo(f"  {d['frames_per_second']:.3g} frames/s")
    if d.get("sealed"):
        click.echo(f"  package sealed: {d['sealed']['path']}")
    if d.get("unfinished_runs"):
        click.echo(f"  note: unfinished run(s) with other settings: {', '.join(d['unfinished_runs'])} "
                   "(repeat their options, or --run ID, to resume one)")


@click.command()
@pkg_arg
@click.option("--model", help="Model id (default: the package's only model).")
@click.option("--chain", help="Combined recovery: models run one after the other, each over the previous one's "
              "outputs (kept as a derived element), e.g. --chain spatial-model,chroma-model.")
@click.option("--element", help="Source element (default: the one the model's dataset was built from).")
@click.option("--frames", help="Frame numbers, e.g. 1001-1100 or 1001,1005-1010 (default: all).")
@device_option
@backend_option
@click.option("--tile", type=int, help="Tile size in pixels; 0 for whole frames (default: whole frames up to "
              "2048x2048, 1024 px tiles above).")
@click.option("--overlap", type=int, help="Overlap of neighbouring tiles in pixels (default: twice the model's "
              "receptive radius plus 32, which makes tiled output equal to untiled).")
@click.option("--compression", type=click.Choice(COMPRESSIONS), default="piz", show_default=True,
              help="piz is lossless (archival masters); htj2k256 is lossless, smaller and faster, but needs "
                   "OpenEXR 3.4 or later to read; dwaa is lossy (deliveries).")
@click.option("--source-type", type=click.Choice(iptc.ACTIVE + iptc.RETIRED),
              help="Override the IPTC digital source type the policy chooses (retired terms are refused).")
@click.option("--colour-space", "--color-space", "colour_space",
              help="Colour space of the source frames when the element does not record it, e.g. 'Rec.709'.")
@click.option("--run", "run_id", help="Run id: resumes that run, or names a new one (default: resume an "
              "unfinished run with the same settings, else infer-NN).")
@click.option("--commit-every", type=int, default=DEFAULT_COMMIT_EVERY, show_default=True,
              help="Commit finished frames into the package every N frames.")
@click.option("--threads", type=int, help="Threads for the model (default: all cores).")
@click.option("--queue-depth", type=int, default=2, show_default=True,
              help="Frames read ahead of the model and written behind it (memory: about 3 + 2N frames).")
@click.option("--sign", is_flag=True, help="Sign every output frame with a C2PA manifest (keys from the options "
              f"below or {ENV_CERT} / {ENV_KEY}).")
@click.option("--cert", "--sign-cert", "cert", type=click.Path(path_type=Path, dir_okay=False),
              help=f"PEM certificate chain, signing certificate first [env {ENV_CERT}].")
@click.option("--key", "--sign-key", "key", type=click.Path(path_type=Path, dir_okay=False),
              help=f"PEM private key of the signing certificate [env {ENV_KEY}].")
@click.option("--sign-alg", type=click.Choice(keymod.ALGORITHMS), help=f"Signing algorithm [env {ENV_ALG}].")
@click.option("--tsa-url", help="RFC 3161 timestamp authority; without one, credentials become invalid when the "
              f"certificate expires, and the run record says so [env {ENV_TSA}].")
@click.option("--no-seal", is_flag=True, help="With --sign, do not seal the package's tag manifest at the end.")
@ray_option
@click.option("--workers", type=int, help="With --ray: Ray workers, one model session each (default: one per GPU "
              "for the CUDA backends, one per CPU otherwise; --queue-depth frames in flight per worker).")
@click.option("--shot", help="Infer one shot's frames with the model trained for it (or for its scene).")
@click.option("--scene", help="Infer one scene's frames with the model trained for it.")
@click.option("--all-shots", is_flag=True, help="Infer every shot of the element with its own model, one run per shot; "
              "refuses overlapping shots and frames in no shot (a shot added --leave-as-source keeps its frames).")
@json_option
def infer(pkg, model, chain, element, frames, device, backend, tile, overlap, compression, source_type, colour_space, run_id,
          commit_every, threads, queue_depth, sign, cert, key, sign_alg, tsa_url, no_seal, ray_address, workers,
          as_json, shot=None, scene=None, all_shots=False):
    """Run the package's archived ONNX model over a source element.

    Writes half-float ACES 2065-1 EXRs with provenance in their headers, JSON, text and XMP sidecars and
    (with --sign) C2PA credentials into data/outputs/<run>/, committing every few frames. A killed run
    resumes when the same command is run again.
    """
    from archivist.inference import runner

    options = runner.InferOptions(
        model=model, frames=frames, element=element, device=device, backend=backend, tile=tile, overlap=overlap,
        compression=compression, source_type=source_type, colour_space=colour_space, run=run_id,
        commit_every=commit_every, threads=threads, queue_depth=queue_depth, sign=bool(sign or cert or key), cert=cert, key=key,
        alg=sign_alg, tsa_url=tsa_url, seal=not no_seal, ray=ray_address, workers=workers)
    if shot or scene or all_shots:
        from archivist.errors import InputError
        from archivist.inference import scoped

        if chain or sum(map(bool, (shot, scene, all_shots))) > 1:
            raise InputError("SCOPE-USAGE", "give one of --shot, --scene and --all-shots (and not with --chain)")
        if all_shots:
            result = scoped.infer_all_shots(pkg, options, progress=progress_for(as_json))
            emit(as_json, result, _print_all_shots)
            return
        result = scoped.infer_scope(pkg, options, shot=shot, scene=scene, progress=progress_for(as_json))
        emit(as_json, result, _print_infer)
        return
    if chain:
        result = runner.infer_chain(pkg, chain.split(","), options, progress=progress_for(as_json))
        emit(as_json, result, _print_chain)
        return
    result = runner.infer(pkg, options, progress=progress_for(as_json))
    emit(as_json, result, _print_infer)


def _print_chain(d: dict) -> None:
    for i, stage in enumerate(d["stages"]):
        click.echo(f"stage {i + 1} of {len(d['stages'])}: model {stage['model']}")
        _print_infer(stage)
        if i < len(d["derived"]):
            click.echo(f"  its outputs are derived element {d['derived'][i]}, the next stage's source")


def _print_all_shots(d: dict) -> None:
    for s in d["shots"]:
        if s.get("leave_as_source"):
            click.echo(f"shot {s['shot']:<12} {s['first']}-{s['last']}  left as source")
        else:
            click.echo(f"shot {s['shot']:<12} {s['first']}-{s['last']}  model {s['model']} ({s['trained_for']})  "
                       f"run {s['run']} {s['status']}")


def _print_reproduce(d: dict) -> None:
    click.echo(f"reproduce {d['run']} with {d['backend']} (recorded: {d['recorded_backend']}), expecting "
               f"{d['expectation']} pixels")
    isa = d.get("instruction_set") or {}
    if isa.get("differences"):
        click.echo(f"  another instruction set than the run's: {'; '.join(isa['differences'])}; "
                   "judged within the recorded tolerance, not bit for bit")
    for f in d["frames"]:
        if f["ok"]:
            extra = " (bytes identical)" if f.get("bytes_identical") else ""
            c = f.get("comparison") or {}
            if c.get("mode") == "tolerance":
                extra += (f", largest difference {c['max_abs_diff']:.3g}, {c['mismatched_per_million']:g} "
                          "mismatched per million")
            click.echo(f"  frame {f['number']}: ok{extra}")
        else:
            for p in f["problems"]:
                click.echo(f"  frame {f['number']}: FAILED: {p}")
    click.echo(f"{d['checked'] - len(d['failed'])} of {d['checked']} frame(s) reproduced"
               + ("" if d["ok"] else f"; failed: {', '.join(map(str, d['failed']))}"))
    if d.get("max_abs_diff") is not None:
        t = d["tolerance"]
        allowed = ("none (bit-identical)" if d["expectation"] == "bit-identical" else
                   f"|difference| <= {t['absolute_tolerance']:g} + {t['relative_tolerance']:g} x |value|, "
                   f"at most {t['mismatched_elements_per_million']:g} values per million beyond it")
        click.echo(f"  largest difference {d['max_abs_diff']:.3g}; tolerance: {allowed}")


@click.command()
@pkg_arg
@click.option("--run", "run_id", help="Inference run (default: the latest complete run).")
@click.option("--frames", help="Frames to re-run, e.g. 1001-1010 (default: all of the run's frames).")
@click.option("--sample", type=int, help="Re-run N frames spread evenly over the run.")
@click.option("--backend", type=click.Choice(backends.BACKENDS),
              help="Backend to re-run with (default: the run's own when available here, else ort-cpu).")
@device_option
@click.option("--threads", type=int, help="Threads for the model (default: all cores).")
@click.option("--record", is_flag=True, help="Append a validation event with the result to the package's log.")
@click.option("--chain", is_flag=True, help="Re-run every stage of the chain the run ends (combined recovery), "
              "first stage first, each from its own archived inputs.")
@json_option
def reproduce(pkg, run_id, frames, sample, backend, device, threads, record, chain, as_json):
    """Re-run an inference run from the archived ONNX model and source frames, and compare.

    Frames are made in a temporary directory outside PKG. The same backend and versions must give
    bit-identical pixels; another backend must agree within the run's recorded tolerance. Exit status
    0 when every frame agrees, 1 when one does not. PKG is not changed unless --record is given.
    """
    from archivist.inference.reproduce import reproduce as reproduce_run
    from archivist.inference.reproduce import reproduce_chain

    if chain:
        report = reproduce_chain(pkg, run=run_id, frames=frames, sample=sample, backend=backend, device=device,
                                 threads=threads, record=record, progress=progress_for(as_json))
        emit(as_json, report, _print_reproduce_chain)
        if not report["ok"]:
            raise SystemExit(EXIT_CHECK_FAILED)
        return
    report = reproduce_run(pkg, run=run_id, frames=frames, sample=sample, backend=backend, device=device,
                           threads=threads, record=record, progress=progress_for(as_json))
    emit(as_json, report, _print_reproduce)
    if not report["ok"]:
        raise SystemExit(EXIT_CHECK_FAILED)


def _print_reproduce_chain(d: dict) -> None:
    for i, stage in enumerate(d["stages"]):
        click.echo(f"stage {i + 1} of {len(d['stages'])}:")
        _print_reproduce(stage)
    click.echo("chain " + " -> ".join(d["runs"]) + (": every stage reproduced" if d["ok"] else
                                                    f": FAILED in {', '.join(d['failed'])}"))


COMMANDS = [infer, reproduce]
