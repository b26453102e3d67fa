"""qc, report, demo."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.errors import EXIT_CHECK_FAILED

pkg_arg = package_argument()


def _print_qc(rec: dict) -> None:
    click.echo(f"QC {rec['id']} of inference run {rec['inference']['id']} on held-out frames "
               f"{', '.join(map(str, rec['dataset']['held_out']))}")
    names = {"source": "source as scanned", "baseline": "LUT baseline", "ml": "ML result"}
    for basis, cands in rec["summary"].items():
        click.echo(f"  against the {basis.replace('_', ' ')}:          CIEDE2000 mean    p95   chroma part")
        for c in ("source", "baseline", "ml"):
            m = cands[c]
            click.echo(f"    {names[c]:<22} {m['ciede2000']['mean']:>24.2f} {m['ciede2000']['p95']:>6.2f} "
                       f"{m['ciede2000_chroma']['mean']:>12.2f}")
    click.echo(rec["verdict"]["statement"])
    if rec.get("verdict_original"):
        click.echo(rec["verdict_original"]["statement"])
    for w in rec.get("warnings") or []:
        click.echo(f"warning: {w}")
    click.echo(f"LUT: {rec['baseline']['lut']['path']}")


@click.command()
@pkg_arg
@click.option("--run", "run_id", help="Inference run to judge (default: the latest complete one).")
@click.option("--id", "qc_id", help="QC id (default: the next free qc-NN).")
@click.option("--original", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Folder of the true original frames (name.####.ext), when known: synthetic material only.")
@click.option("--lut-size", type=int, default=33, show_default=True, help="Points per axis of the baseline LUT.")
@click.option("--smoothness", type=float, default=0.05, show_default=True,
              help="Weight of the LUT's curvature penalty (per lattice node).")
@click.option("--interpolation", type=click.Choice(["trilinear", "tetrahedral"]), default="trilinear",
              show_default=True, help="LUT interpolation, in the fit and when applying it.")
@click.option("--lut-luma/--source-luma", "lut_luma", default=False, show_default=True,
              help="Chroma mode: keep the LUT's luma, or give the baseline the scan's luma as the model keeps it.")
@click.option("--fail-if-worse", is_flag=True, help="Exit with status 1 when the ML result does not beat the baseline.")
@click.option("--shot", help="Judge the latest complete inference run made for this shot.")
@click.option("--scene", help="Judge the latest complete inference run made for this scene.")
@json_option
def qc(pkg, run_id, qc_id, original, lut_size, smoothness, interpolation, lut_luma, fail_if_worse, as_json, shot=None,
       scene=None):
    """Judge an inference run of PKG against a 3D LUT baseline on held-out frames.

    Fits the baseline on the training pairs, applies it to the frames the model never trained on, measures
    the scan, the baseline and the ML result against the ground truth (and the true original with --original),
    and writes the .cube LUT, comparison strips, the loss curve and the QC record into the package.
    """
    from archivist.package import Package
    from archivist.qc import compare, run

    settings = compare.BaselineSettings(size=lut_size, smoothness=smoothness, interpolation=interpolation,
                                        keep_source_luma=not lut_luma)
    if shot or scene:
        run_id = _scoped_run(Package.open(pkg), run_id, shot, scene)
    rec = run.run_qc(Package.open(pkg), run.QCOptions(run=run_id, qc_id=qc_id, original=original, baseline=settings),
                     progress=progress_for(as_json))
    emit(as_json, rec, _print_qc)
    if fail_if_worse and not rec["verdict"]["ml_beats_baseline"]:
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _scoped_run(pkg, run_id: str | None, shot: str | None, scene: str | None) -> str:
    """The latest complete inference run made for a shot or scene."""
    from archivist.errors import InputError
    from archivist.shots import scope as scopes

    scope = scopes.resolve(pkg, shot, scene)
    assert scope is not None
    if run_id:
        raise InputError("SCOPE-USAGE", f"--{scope.kind} chooses the run; leave out --run")
    found = scopes.runs_for(pkg, scope)
    if not found:
        raise InputError("SCOPE-NOTHING", f"no complete inference run was made for {scope.kind} {scope.name}",
                         hint=f"run 'archivist infer PKG --{scope.kind} {scope.name}' first")
    return found[-1]["id"]


@click.command()
@pkg_arg
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="HTML file to write (default: <PKG>.report.html beside the package).")
@click.option("--trust-anchor", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM certificate(s) to trust when validating Content Credentials.")
@click.option("--shot", help="Limit the per-shot table to this shot, and say so in the title.")
@click.option("--scene", help="Limit the per-shot table to this scene's shots, and say so in the title.")
@json_option
def report(pkg, output, trust_anchor, as_json, shot=None, scene=None):
    """Write one self-contained HTML report about PKG (images embedded, no network requests)."""
    from archivist.report import write_report

    out = write_report(pkg, output, trust_anchor=trust_anchor, **({"shot": shot, "scene": scene} if shot or scene else {}))
    emit(as_json, {"ok": True, "report": str(out)}, lambda d: click.echo(f"report written to {d['report']}"))


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default="demo-output")
@click.option("--quick", is_flag=True, envvar="ARCHIVIST_DEMO_QUICK",
              help="Tiny frames and few training steps (the test suite's configuration) [env ARCHIVIST_DEMO_QUICK].")
@click.option("--uniform-fade", is_flag=True, help="Fade the print evenly, the case a LUT handles well.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@click.option("--combined", is_flag=True, help="The second story: combined recovery of a reel of three shots, a "
              "spatial model (16mm print to 35mm internegative detail) then a chroma model (colour from a DVD).")
@json_option
def demo(directory, quick, uniform_fade, device, no_report, as_json, combined=False):
    """Run the whole restoration on bundled photographs into DIRECTORY (new or empty).

    Makes a faded print and a DVD reference from a scikit-image photograph, then init, add, dataset, train,
    export, a test signing identity, infer with Content Credentials, qc, seal, verify and report. Prints
    where the package and the report are, and the QC verdict.
    """
    from archivist.demo import run as demo_run

    if combined:
        _demo_combined(directory, quick, device, no_report, as_json)
        return
    config = demo_run.quick(uniform_fade) if quick else demo_run.full(uniform_fade)
    config = demo_run.with_device(config, device)
    echo = (lambda _msg: None) if as_json else (lambda msg: click.echo(msg, err=True))
    result = demo_run.run_demo(directory, config, echo=echo, progress=progress_for(as_json), report=not no_report)
    summary = result.summary()

    def human(d: dict) -> None:
        _human_head(d, no_report)
        click.echo(f"{'':<26}CIEDE2000 mean    p95")
        for row in d["qc_table"]:
            click.echo(f"  {row['basis'].replace('_', ' '):<12} {row['candidate']:<18} {row['mean']:>6.2f} {row['p95']:>6.2f}")
        click.echo("QC verdict: " + d["verdict"]["statement"])
        if d.get("verdict_original"):
            click.echo("            " + d["verdict_original"]["statement"])
        click.echo("time per stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in d["timings"].items())
                   + f"; total {d['total_seconds']:.0f} s")

    emit(as_json, summary, human)
    if not result.verify_ok:
        click.echo("error: the demo package did not verify; see the report", err=True)
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _human_head(d: dict, no_report: bool) -> None:
    """What both demo stories print first: where the package, report and test identity are, and the verdict."""
    click.echo("")
    click.echo(f"package:  {d['package']}")
    if not no_report:
        click.echo(f"report:   {d['report']}")
    click.echo(f"identity: {d['identity']}  (a TEST signing identity; its ca.pem is the trust anchor)")
    click.echo(f"verify:   {'valid' if d['verify_ok'] else 'NOT valid'}")


def _demo_combined(directory, quick, device, no_report, as_json) -> None:
    from archivist.demo import combined as story

    config = story.with_device(story.quick() if quick else story.full(), device)
    echo = (lambda _msg: None) if as_json else (lambda msg: click.echo(msg, err=True))
    result = story.run_combined(directory, config, echo=echo, progress=progress_for(as_json), report=not no_report)

    def human(d: dict) -> None:
        _human_head(d, no_report)
        for stage, q in d["qc"].items():
            click.echo(f"{stage} stage (run {q['run']}, QC {q['qc_id']}):")
            if "sharpen_verdict" in q:
                click.echo(f"{'':<34}luma PSNR  detail  grain")
                for row in q["sharpen_table"]:
                    click.echo(f"  {row['basis'].replace('_', ' '):<12} {row['candidate']:<19} "
                               f"{row['psnr_luma']:>8.2f} {row['detail_ratio']:>7.2f} {row['grain_ratio']:>6.2f}")
                click.echo("  verdict: " + q["sharpen_verdict"]["statement"])
            else:
                click.echo(f"{'':<34}CIEDE2000 mean    p95")
                for row in q["lut_table"]:
                    click.echo(f"  {row['basis'].replace('_', ' '):<12} {row['candidate']:<19} {row['mean']:>6.2f} "
                               f"{row['p95']:>6.2f}")
                click.echo("  verdict: " + q["lut_verdict"]["statement"])
        click.echo("time per stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in d["timings"].items())
                   + f"; total {d['total_seconds']:.0f} s")

    emit(as_json, result.summary(), human)
    if not result.verify_ok:
        click.echo("error: the demo package did not verify; see the report", err=True)
        click.get_current_context().exit(EXIT_CHECK_FAILED)


COMMANDS = [qc, report, demo]
