"""init, add, info, log, recover."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, progress_for
from archivist.package import iptc
from archivist.package.model import RECOVERY_TYPES, TRAINING_USE, Package, recover_package

pkg_arg = click.argument("pkg", type=click.Path(path_type=Path, file_okay=False))


@click.command()
@pkg_arg
@click.option("--title", required=True, help="Title of the work being restored.")
@click.option("--organization", "--organisation", required=True, help="Organisation responsible for the package.")
@click.option("--identifier", help="Persistent identifier (default: a new urn:uuid).")
@click.option("--recovery", type=click.Choice(RECOVERY_TYPES), default="chroma", show_default=True)
@click.option("--description", help="Free-text description for bag-info.txt.")
@json_option
def init(pkg, title, organization, identifier, recovery, description, as_json):
    """Create a new, empty restoration package at PKG."""
    p = Package.create(pkg, title=title, organization=organization, identifier=identifier,
                       recovery=recovery, description=description)
    rec = p.record()
    emit(as_json, {"ok": True, "package": rec, "path": str(pkg)},
         lambda d: click.echo(f"created {pkg} ({rec['identifier']}, {recovery} recovery)"))


@click.command()
@pkg_arg
@click.option("--role", type=click.Choice(["source", "reference"]), required=True)
@click.option("--element", required=True, help="Short element id, e.g. print16 or dvd2003.")
@click.option("--description", required=True, help="In the field's words: '16mm positive print', 'PAL DVD 2003'.")
@click.option("--source-type", help="IPTC digital source type of the scan (inferred from the description if omitted).",
              type=click.Choice(iptc.ACTIVE + iptc.RETIRED))
@click.option("--gauge", help="e.g. 16mm, 35mm.")
@click.option("--generation", help="e.g. original negative, internegative, release print.")
@click.option("--rights", default="", help="Rights statement for this element.")
@click.option("--rights-holder")
@click.option("--training-use", type=click.Choice(TRAINING_USE), default="unknown", show_default=True,
              help="Whether this element may be used to train models.")
@click.option("--authorised-by", help="Who authorised training use.")
@click.option("--scanner", help="Scanner make and model, or transfer chain.")
@click.option("--colour-space", "--color-space", "colour_space", help="Colour space of the scan, e.g. 'ACEScct', 'Rec.709'.")
@click.option("--frame-rate", help="e.g. 24, 25, 24000/1001.")
@click.option("--notes")
@click.option("--link", is_flag=True, help="Hard-link frames instead of copying (same filesystem only).")
@click.option("--first-frame", type=int, help="Number frames from N in name order instead of parsing names.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@json_option
def add(pkg, role, element, description, source_type, gauge, generation, rights, rights_holder, training_use,
        authorised_by, scanner, colour_space, frame_rate, notes, link, first_frame, paths, as_json):
    """Add an element's frames (EXR, DPX, TIFF, PNG files or directories) to PKG."""
    record = Package.open(pkg).add_element(
        role=role, element=element, paths=list(paths), description=description, source_type=source_type,
        gauge=gauge, generation=generation, rights=rights, rights_holder=rights_holder, training_use=training_use,
        authorised_by=authorised_by, scanner=scanner, colour_space=colour_space, frame_rate=frame_rate,
        notes=notes, link=link, first_frame=first_frame, progress=progress_for(as_json))
    n = len(record["frames"])
    emit(as_json, {"ok": True, "element": record},
         lambda d: click.echo(f"added {role} element {element}: {n} frames "
                              f"{record['frames'][0]['number']}-{record['frames'][-1]['number']}, "
                              f"{record['scan']['width']}x{record['scan']['height']} {record['scan']['pixel_type']}"))


@click.command()
@pkg_arg
@json_option
def info(pkg, as_json):
    """Show what PKG holds."""
    data = Package.open(pkg).info()
    emit(as_json, data, _print_info)


def _print_info(d: dict) -> None:
    if d.get("interrupted"):
        click.echo("WARNING: an interrupted command left unfinished work; run 'archivist recover'")
    if not d["archivist"]:
        click.echo(f"{d['path']}: a BagIt bag without archivist records")
        for k, v in d["bag_info"].items():
            click.echo(f"  {k}: {v}")
        return
    p = d["package"]
    click.echo(f"{p['title']}")
    click.echo(f"  identifier    {p['identifier']}")
    click.echo(f"  organization  {p['organization']}")
    click.echo(f"  recovery      {p['recovery']}")
    click.echo(f"  created       {p['created']} by archivist {p['archivist_version']}")
    click.echo(f"  payload       {d['bag_info'].get('Payload-Oxum', '?')} (octets.files)")
    click.echo(f"  events        {d['events']}")
    click.echo("elements:" if d["elements"] else "elements: none yet")
    for e in d["elements"]:
        click.echo(f"  {e['id']:<14} {e['role']:<9} {e['frames']:>5} frames {e['first_frame']}-{e['last_frame']}"
                   f"  {e['resolution']} {e['channels']}ch {e['pixel_type']}  {e['digital_source_type']}"
                   f"  training: {e['training_use']}")
        click.echo(f"  {'':<14} {e['description']}")


@click.command()
@pkg_arg
@json_option
def log(pkg, as_json):
    """Show PKG's event log, oldest first."""
    found = Package.open(pkg).events()

    def human(evs):
        for e in evs:
            click.echo(f"{e['time']}  {e['command']:<8} {e['type']:<10} {e['outcome']:<8} {e.get('detail', '')}")

    emit(as_json, found, human)


@click.command()
@pkg_arg
@json_option
def recover(pkg, as_json):
    """Roll back a command that was killed before it finished."""
    report = recover_package(pkg)

    def human(r):
        if r["state"] is None:
            click.echo("nothing to recover")
        elif r["state"] == "committed":
            click.echo(f"the interrupted '{r.get('command')}' had finished; removed its working files")
        else:
            click.echo(f"rolled back an interrupted '{r.get('command', 'command')}': removed {len(r['removed'])} new files, "
                       f"restored {len(r['restored'])}")

    emit(as_json, {"ok": True, **report}, human)


COMMANDS = [init, add, info, log, recover]
