"""shots: import a shot list, add shots by hand, group shots into scenes, list them."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument
from archivist.errors import InputError
from archivist.package import Package, ranges
from archivist.shots import store, timeline


@click.group("shots", invoke_without_command=True)
@package_argument()
@click.pass_context
def shots(ctx, pkg):
    """Shots and scenes of PKG: ranges of a source element's frames.

    \b
    archivist shots PKG import reel1.edl --fps 24 [--timecode record|source] [--start TC]
    archivist shots PKG import shots.otio | shots.csv
    archivist shots PKG add --name sh040 --frames 1001-1024 [--leave-as-source]
    archivist shots PKG scene sc01 --shots sh010,sh020
    archivist shots PKG list
    """
    ctx.obj = Package.open(pkg)
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


def _print_written(d: dict) -> None:
    for s in d["shots"]:
        _print_shot(s)
    for sc in d["scenes"]:
        click.echo(f"scene {sc['id']}: {', '.join(sc['shots'])}")
    for w in d.get("warnings") or []:
        click.echo(f"warning: {w}", err=True)


def _print_shot(s: dict) -> None:
    tc = s["origin"].get("timecode")
    how = f" ({tc['side']} {tc['in']}-{tc['out']} at {tc['rate']:g} fps)" if tc else ""
    keep = "  left as source" if s["leave_as_source"] else ""
    click.echo(f"shot {s['id']:<12} {s['element']} {s['first']}-{s['last']} ({s['frames']} frames){how}{keep}")


@shots.command("import")
@click.argument("shot_list", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--element", help="Source element the shots are ranges of (default: the package's only source).")
@click.option("--format", "fmt", type=click.Choice(timeline.FORMATS), help="Default: from the file's suffix.")
@click.option("--fps", type=float, help="Frame rate of the timecode (needed for an EDL unless the element records "
              "its --frame-rate; an OTIO file says its own).")
@click.option("--timecode", "side", type=click.Choice(timeline.SIDES), default="record", show_default=True,
              help="Map the record (programme) timecode or the source timecode to the element's frames.")
@click.option("--start", help="Timecode of the element's first frame (default: the earliest in point of the list).")
@click.option("--prefix", default="sh", show_default=True, help="Names of unnamed shots: PREFIX010, PREFIX020, ...")
@click.option("--scene", "scene_name", help="Put every imported shot in this scene.")
@json_option
@click.pass_obj
def import_cmd(pkg, shot_list, element, fmt, fps, side, start, prefix, scene_name, as_json):
    """Import the shots of an EDL (CMX 3600), an OpenTimelineIO file or a CSV (columns first,last[,name,scene,...])."""
    out = store.import_list(pkg, shot_list, element=element, fmt=fmt, rate=fps, side=side, start=start,
                            prefix=prefix, scene_name=scene_name)
    emit(as_json, {"ok": True, **out}, _print_written)


@shots.command("add")
@click.option("--name", required=True, help="The shot's name.")
@click.option("--frames", required=True, help="Inclusive frame range, e.g. 1001-1024.")
@click.option("--element", help="Source element (default: the package's only source).")
@click.option("--scene", "scene_name", help="Put the shot in this scene.")
@click.option("--description", help="The shot in words.")
@click.option("--leave-as-source", is_flag=True, help="infer --all-shots keeps this range as scanned.")
@json_option
@click.pass_obj
def add_cmd(pkg, name, frames, element, scene_name, description, leave_as_source, as_json):
    """Add one shot by hand."""
    spans = ranges.parse(frames, "SHOTS-RANGE")
    if len(spans) != 1:
        raise InputError("SHOTS-RANGE", f"a shot is one range FIRST-LAST, not {frames!r}")
    spec = timeline.ShotSpec(name, spans[0][0], spans[0][1], description=description, leave_as_source=leave_as_source)
    out = store.write(pkg, [spec], element=element, origin={"kind": "manual"}, scene_name=scene_name,
                      detail=f"shot {name} added by hand: frames {frames}")
    emit(as_json, {"ok": True, **out}, _print_written)


@shots.command("scene")
@click.argument("name")
@click.option("--shots", "members", required=True, help="Shots to group, e.g. sh010,sh020.")
@click.option("--description", help="The scene in words.")
@json_option
@click.pass_obj
def scene_cmd(pkg, name, members, description, as_json):
    """Group shots into scene NAME (a new scene, or more shots for an existing one)."""
    rec = store.group(pkg, name, [m.strip() for m in members.split(",") if m.strip()], description)
    emit(as_json, {"ok": True, "scene": rec}, lambda d: click.echo(f"scene {rec['id']}: {', '.join(rec['shots'])}"))


@shots.command("list")
@json_option
@click.pass_obj
def list_cmd(pkg, as_json=False):
    """List the shots and scenes."""
    found, scenes = store.shots(pkg), store.scenes(pkg)

    def human(_d):
        if not found:
            click.echo("no shots")
        for s in found:
            _print_shot(s)
        for sc in scenes:
            click.echo(f"scene {sc['id']}: {', '.join(sc['shots'])}")

    emit(as_json, {"ok": True, "shots": found, "scenes": scenes}, human)


COMMANDS = [shots]
