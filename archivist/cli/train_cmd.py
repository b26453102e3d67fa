"""train and export."""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.errors import InputError
from archivist.package import Package
from archivist.package import rights as training_rights
from archivist.training import devices, models, presets
from archivist.training.run import TrainSettings

pkg_arg = package_argument()
D = TrainSettings()

# CLI parameter -> TrainSettings field, for the settings a resume must not change.
_SETTING_PARAMS = ("mode", "tone", "size", "batch", "patch", "lr", "checkpoint_every", "contact_every", "seed",
                   "threads", "device", "channels_last", "dataset")


@click.command()
@pkg_arg
@click.option("--mode", type=click.Choice(models.MODES), help="chroma: recover colour; spatial: recover detail.")
@click.option("--dataset", help="Dataset id (default: the most recent dataset).")
@click.option("--tone/--keep-luma", default=None,
              help="Chroma mode: correct the lightness with a grain-preserving low-frequency luma correction "
                   "(the default), or keep the scan's luma bit for bit (--keep-luma).")
@click.option("--preset", type=click.Choice(presets.NAMES),
              help="Named settings: quick (chroma: the closed-form fit alone, seconds on a CPU; spatial: "
                   "300 steps, minutes), standard, full (the guide's; for a GPU). "
                   "Default: quick on CPU, full on CUDA. The options below override its values.")
@click.option("--size", type=click.Choice(models.SIZES), help="Model size (default: the preset's).")
@click.option("--steps", type=int, help="Total steps (default: the preset's; on resume: the new total).")
@click.option("--batch", type=int, help="Patches per step (default: the preset's).")
@click.option("--patch", type=int, help="Patch size; clamped to the crop (default: the preset's).")
@click.option("--lr", type=float, help="Adam learning rate, constant (default: the preset's).")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints (default: the preset's).")
@click.option("--contact-every", type=int, help="Steps between contact sheets, 0: none (default: the preset's).")
@click.option("--seed", type=int, default=D.seed, show_default=True)
@click.option("--threads", type=int, help="CPU threads (default: physical cores, 1 on a machine of 2 or fewer; "
                                          "recorded, as it changes the weights).")
@click.option("--device", type=click.Choice(devices.DEVICES), default=D.device, show_default=True)
@click.option("--channels-last", is_flag=True, help="channels_last memory format (recorded: changes the weights).")
@click.option("--run", "run_id", help="Id for the new run (default: <mode>-NN).")
@click.option("--resume", "resume_id", metavar="RUN", help="Continue RUN from its last checkpoint.")
@click.option("--shot", help="Train on the latest dataset built for this shot (dataset --shot).")
@click.option("--scene", help="Train on the latest dataset built for this scene (dataset --scene).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Train on Ray workers (one task per run): the cluster at ADDRESS, or without one a cluster on "
                   "this machine for this command. The package must be on a filesystem every node shares.")
@click.option("--all-datasets", is_flag=True, help="With --ray: one run per dataset that has no complete run of "
              "this mode, trained in parallel, each committed as it finishes.")
@json_option
@click.pass_context
def train(ctx, pkg, mode, dataset, tone, preset, size, steps, batch, patch, lr, checkpoint_every, contact_every, seed,
          threads, device, channels_last, run_id, resume_id, shot, scene, ray_address, all_datasets, as_json):
    """Train a restoration model on PKG's dataset; checkpoints go into the package."""
    from archivist.training import run as training

    p = Package.open(pkg)
    if shot or scene:
        from archivist.shots import scope as scopes

        scope = scopes.resolve(p, shot, scene)
        assert scope is not None
        if dataset or resume_id:
            raise InputError("SCOPE-USAGE", f"--{scope.kind} chooses the dataset; leave out --dataset and --resume")
        found = scopes.datasets_for(p, scope)
        if not found:
            raise InputError("SCOPE-NOTHING", f"no dataset was built for {scope.kind} {scope.name}",
                             hint=f"run 'archivist dataset {pkg} --{scope.kind} {scope.name} ...' first")
        dataset = found[-1]
        ctx.params["dataset"] = dataset
    progress = progress_for(as_json)
    notify = _notify
    if all_datasets and ray_address is None:
        raise InputError("TRAIN-USAGE", "--all-datasets trains the runs in parallel on Ray; give --ray [ADDRESS]")
    if ray_address is not None and (resume_id or run_id or (all_datasets and dataset)):
        raise InputError("TRAIN-USAGE", "with --ray, runs are named <mode>-NN and start anew: leave out --run and "
                         "--resume (and --dataset with --all-datasets)")
    if resume_id:
        if run_id:
            raise InputError("TRAIN-USAGE", "give either --run (a new run) or --resume (an existing one), not both")
        if preset:
            raise InputError("TRAIN-USAGE", "a run keeps the settings it started with; --preset applies to new runs",
                             hint="only --steps may change on resume")
        given = {name: ctx.params[name] for name in _SETTING_PARAMS
                 if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
        rec = training.resume(p, resume_id, steps=steps, given=given, progress=progress, notify=notify)
    else:
        if not mode:
            raise InputError("TRAIN-USAGE", "--mode chroma or --mode spatial is required for a new run")
        explicit = {name: ctx.params[name] for name in presets.FIELDS if ctx.params[name] is not None}
        name = preset or presets.default_for(devices.resolve(device))
        if tone is None:  # measured closer to the original than keeping the scan's luma (docs/qc.md)
            tone = mode == "chroma"
        settings = presets.apply(TrainSettings(mode=mode, tone=tone, seed=seed, threads=threads, device=device,
                                               channels_last=channels_last, dataset=dataset), name, explicit)
        if ray_address is not None:
            from archivist.training import onray

            chosen = None if all_datasets else [training._dataset_api().load(p, dataset)[0]["id"]]
            result = onray.train_all(p.root, settings, ray=ray_address, datasets=chosen, notify=notify)
            emit(as_json, result, _print_ray_runs)
            return
        rec = training.train(p, settings, run_id=run_id, progress=progress, notify=notify)
    emit(as_json, {"ok": True, "run": rec}, _print_run)


def _print_ray_runs(d: dict) -> None:
    c = d["cluster"]
    click.echo(f"{len(d['runs'])} run(s) trained on Ray {c['ray_version']} at {c['address']} ({c['nodes']} node(s))")
    for rec in d["runs"]:
        _print_run({"run": rec})
    if d["skipped"]:
        click.echo(f"skipped, already trained: {', '.join(d['skipped'])}")


def _notify(message: str) -> None:
    """Messages during a run (the time estimate) go to stderr, so --json output stays one object."""
    try:
        from tqdm import tqdm
    except ImportError:
        click.echo(message, err=True)
    else:
        tqdm.write(message, file=sys.stderr)  # above the progress bar, which is redrawn below it


def _print_run(d: dict) -> None:
    r = d["run"]
    s, loss = r["settings"], r["loss_summary"]
    steps = (f"{r['step']} of {s['steps']} steps" if s["steps"] else
             "fitted in closed form, no gradient steps")
    click.echo(f"run {r['id']} {r['status']}: {r['mode']}{' + tone' if r['tone'] else ''}, "
               f"{r['architecture']['size']} ({r['architecture']['parameters']:,} parameters), "
               f"{steps} on {s['device']} ({s['threads']} thread{'' if s['threads'] == 1 else 's'})")
    if s.get("preset"):
        changed = s["preset"]["overrides"]
        click.echo(f"  preset      {s['preset']['name']}" + (f" (given otherwise: {', '.join(changed)})" if changed else ""))
    if loss.get("steps"):
        click.echo(f"  loss        {loss['first']:.5f} -> {loss['last']:.5f} (mean of last 100: {loss['mean_last_100']:.5f})")
    if "holdout_l1_last" in loss:
        click.echo(f"  preview L1  {loss['holdout_l1_last']:.5f} at step {loss['holdout_l1_step']}")
    if r["checkpoints"]:
        click.echo(f"  checkpoint  {r['checkpoints'][-1]['path']}")
    chosen = r.get("selection")
    if chosen and chosen["by"] == "holdout-loss" and len(r["checkpoints"]) > 1:
        frames = ", ".join(map(str, chosen["frames"]))
        click.echo(f"  export      step {chosen['step']}: the lowest held-out loss ({chosen['holdout_loss']:.5f} on "
                   f"frames {frames}) of {len(r['checkpoints'])} checkpoints")
    sess = r["sessions"][-1]
    rate = f"; this session {sess['steps_per_second']:.2f} steps/s" if sess["to_step"] > sess["from_step"] else ""
    click.echo(f"  time        {r['wall_seconds']:.1f} s in all{rate}")
    for right in r["rights"]:
        said = training_rights.warning(right["role"], right["element"], right["training_use"])
        if said:
            click.echo(f"  warning     {said}", err=True)


@click.command("export")
@pkg_arg
@click.option("--run", help="Training run (default: the package's only run).")
@click.option("--checkpoint", help="Checkpoint step or package path (default: the one with the lowest held-out "
              "loss, else the run's last).")
@click.option("--id", "model_id", help="Model id (default: <run>-s<step>).")
@click.option("--trace", is_flag=True, help="Trace the graph afresh even where a model of the same architecture and "
              "versions in PKG could lend its graph (the same bytes either way, traced is slower).")
@json_option
def export_cmd(pkg, run, checkpoint, model_id, trace, as_json):
    """Export a checkpoint of PKG to ONNX, with a model card and a parity check."""
    from archivist.training import export

    card = export.export(Package.open(pkg), run=run, checkpoint=checkpoint, model_id=model_id,
                         progress=progress_for(as_json), reuse_graph=not trace)
    emit(as_json, {"ok": True, "model": card}, _print_card)


def _print_card(d: dict) -> None:
    c = d["model"]
    par = c["parity"]
    click.echo(f"exported {c['id']}: {c['model']['path']} ({c['model']['size']:,} bytes, opset {c['format']['opset']})")
    ck = c["checkpoint"]
    why = {"holdout-loss": f", the lowest held-out loss ({ck.get('holdout_loss', 0.0):.5f})",
           "last": ", the run's last", "named": ""}.get(ck.get("chosen_by", "named"), "")
    click.echo(f"  from        run {c['run']['id']} step {ck['step']}{why}")
    click.echo(f"  parity      max |torch - onnxruntime| {par['max_abs_error']:.2g} (bound {par['bound']:g}), "
               f"passthrough bit-exact: {'yes' if par['passthrough_bit_exact'] else 'no'}")
    graph = c["format"].get("graph") or {}
    if graph.get("from") == "template":
        click.echo(f"  graph       model {graph['model']}'s, with this checkpoint's weights")


COMMANDS = [train, export_cmd]
