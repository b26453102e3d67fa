"""init, add, amend, info, log, recover."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.errors import InputError
from archivist.package import iptc
from archivist.package.model import RECOVERY_TYPES, TRAINING_USE, Package, check_authorisation, recover_package
from archivist.units import count_text, size_text

pkg_arg = package_argument()


@click.command()
@package_argument(must_exist=False)
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
@click.option("--colour-space", "--color-space", "colour_space",
              help="Colour space of the frames, e.g. 'Rec.709', 'sRGB', 'ACEScct' (checked against the OpenColorIO "
                   "config infer uses). Left out, none is recorded: add warns, and infer needs it given or amended.")
@click.option("--frame-rate", help="e.g. 24, 25, 24000/1001.")
@click.option("--notes")
@click.option("--link", is_flag=True, help="Hard-link frames instead of copying (same filesystem only).")
@click.option("--first-frame", type=int, help="Number frames from N in name order instead of parsing names.")
@click.option("--allow-duplicate", is_flag=True,
              help="Add frames even when another element already holds the same files (byte for byte).")
@click.option("--hand-made", is_flag=True, help="A reference made by hand (painted frames, a grade made from "
              "artwork); needs --source-type digitalCreation or humanEdits and --artwork-title.")
@click.option("--artwork-title", help="Hand-made reference: title of the artwork it was made from.")
@click.option("--artwork-creator", help="Hand-made reference: who made the artwork.")
@click.option("--artwork-institution", help="Hand-made reference: the institution holding the artwork.")
@click.option("--artwork-rights", help="Hand-made reference: the artwork's rights statement.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@json_option
def add(pkg, role, element, description, source_type, gauge, generation, rights, rights_holder, training_use,
        authorised_by, scanner, colour_space, frame_rate, notes, link, first_frame, allow_duplicate, hand_made,
        artwork_title, artwork_creator, artwork_institution, artwork_rights, paths, as_json):
    """Add an element's frames (EXR, DPX, TIFF, PNG files or directories) to PKG."""
    check_authorisation(training_use, authorised_by, "ADD-AUTHORISED-BY")
    artwork = {"title": artwork_title, "creator": artwork_creator, "holding_institution": artwork_institution,
               "rights": artwork_rights}
    if not hand_made and any(artwork.values()):
        raise InputError("ADD-HAND-MADE", "--artwork-* options describe a hand-made reference; give --hand-made too")
    record = Package.open(pkg).add_element(
        role=role, element=element, paths=list(paths), description=description, source_type=source_type,
        gauge=gauge, generation=generation, rights=rights, rights_holder=rights_holder, training_use=training_use,
        authorised_by=authorised_by, scanner=scanner, colour_space=colour_space, frame_rate=frame_rate,
        notes=notes, link=link, first_frame=first_frame, progress=progress_for(as_json),
        allow_duplicate=allow_duplicate, hand_made={"artwork": artwork} if hand_made else None)
    warnings = []
    if not colour_space:
        warnings.append(f"no colour space recorded for {element}; infer will ask for one. Record it with "
                        f"'archivist amend {pkg} --element {element} --colour-space NAME'")
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    n = len(record["frames"])
    emit(as_json, {"ok": True, "element": record, "warnings": warnings},
         lambda d: click.echo(f"added {role} element {element}: {n} frames "
                              f"{record['frames'][0]['number']}-{record['frames'][-1]['number']}, "
                              f"{record['scan']['width']}x{record['scan']['height']} {record['scan']['pixel_type']}"))


@click.command()
@pkg_arg
@click.option("--element", required=True, help="The element to amend.")
@click.option("--description", help="New description, in the field's words.")
@click.option("--source-type", type=click.Choice(iptc.ACTIVE), help="IPTC digital source type of the scan.")
@click.option("--gauge")
@click.option("--generation")
@click.option("--notes")
@click.option("--rights", help="Rights statement.")
@click.option("--rights-holder")
@click.option("--training-use", type=click.Choice(TRAINING_USE), help="Whether the element may be used to train models.")
@click.option("--authorised-by", help="Who authorised training use (needed with --training-use authorised).")
@click.option("--scanner")
@click.option("--colour-space", "--color-space", "colour_space", help="Colour space of the frames, e.g. 'Rec.709'.")
@click.option("--frame-rate")
@json_option
def amend(pkg, element, as_json, **changes):
    """Amend an element's descriptive metadata in PKG without touching its frames.

    Only the options given change; an empty value ('') removes an optional field. The record is validated
    again and one event in the log lists each change, old and new value.
    """
    result = Package.open(pkg).amend_element(element, **changes)

    def human(d):
        click.echo(f"amended element {element}:")
        for c in d["changes"]:
            click.echo(f"  {c['field']:<14} {_shown(c['from'])} -> {_shown(c['to'])}")

    emit(as_json, {"ok": True, **result}, human)


def _shown(value) -> str:
    return "(none)" if value is None else str(value)


@click.command()
@pkg_arg
@json_option
def info(pkg, as_json):
    """Show what PKG holds."""
    data = Package.open(pkg).info()
    emit(as_json, data, _print_info)


def _print_info(d: dict) -> None:
    if d.get("interrupted"):
        click.echo(f"WARNING: an interrupted command left unfinished work; run 'archivist recover {d['path']}'")
    if d.get("writer"):
        click.echo(f"note: a command is writing to the package now ({d['writer']})")
    pay = d["payload"]
    files = "? files" if pay["files"] is None else count_text(pay["files"], "file")
    if not d["archivist"]:
        click.echo(f"{d['path']}: a BagIt bag without archivist records ({size_text(pay['bytes'])} in {files})")
        for k, v in d["bag_info"].items():
            click.echo(f"  {k}: {v}")
        return
    p = d["package"]
    click.echo(f"{p['title']}")
    click.echo(f"  identifier    {p['identifier']}")
    click.echo(f"  organization  {p['organization']}")
    click.echo(f"  recovery      {p['recovery']}")
    click.echo(f"  created       {p['created']} by archivist {p['archivist_version']}")
    click.echo(f"  payload       {size_text(pay['bytes'])} in {files}")
    click.echo(f"  sealed        {'yes' if d['sealed'] else 'no'}")
    click.echo(f"  events        {d['events']}")
    click.echo("elements:" if d["elements"] else "elements: none yet")
    for e in d["elements"]:
        who = f" by {e['authorised_by']}" if e.get("authorised_by") else ""
        click.echo(f"  {e['id']:<14} {e['role']:<9} {e['frames']:>5} frames {e['first_frame']}-{e['last_frame']}"
                   f"  {e['resolution']} {e['channels']}ch {e['pixel_type']}  {e['digital_source_type']}"
                   f"  colour space: {e.get('colour_space') or 'not recorded'}  training: {e['training_use']}{who}")
        click.echo(f"  {'':<14} {e['description']}")
    sections = (
        ("datasets", lambda x: f"{x['id']:<14} {x['pairs']} pairs, {x['held_out']} held out: "
                               f"{x['reference']} -> {x['source']}"),
        ("training_runs", lambda x: f"{x['id']:<14} {x['status']:<9} {x['mode']}, step {x['step']} of {x['total']}, "
                                    f"last checkpoint {x['last_checkpoint'] or 'none'}" + _abandoned(x)),
        ("models", lambda x: f"{x['id']:<14} from {x['run']} step {x['step']}: {x['path']}"),
        ("inference_runs", lambda x: f"{x['id']:<14} {x['status']:<9} {x['done']} of {x['total']} frames of "
                                     f"{x['element']} with {x['model']}, {'signed' if x['signed'] else 'unsigned'}"
                                     + _abandoned(x)),
        ("qc", lambda x: f"{x['id']:<14} of {x['run']}: ML "
                         f"{'beats' if x['ml_beats_baseline'] else 'does not beat'} the LUT baseline"
                         + ("" if x.get("sharpen_beats_baseline") is None else
                            f", {'beats' if x['sharpen_beats_baseline'] else 'does not beat'} resize and sharpen")),
        ("derived_elements", lambda x: f"{x['id']:<14} {x['role']:<9} {x['frames']:>5} frames: the outputs of run "
                                       f"{x['run']} ({x['model']}), no copies"),
    )
    for key, line in sections:
        if d.get(key):
            click.echo(f"{key.replace('_', ' ')}:")
            for x in d[key]:
                click.echo(f"  {line(x)}")
    for r in d["training_runs"]:
        if r["abandoned"]:
            click.echo(f"warning: training run {r['id']} was abandoned at step {r['step']}: no command is working on "
                       f"it. Continue it with 'archivist train {d['path']} --resume {r['id']}'", err=True)
    for r in d["inference_runs"]:
        if r["abandoned"]:
            click.echo(f"warning: inference run {r['id']} was abandoned with {r['done']} of {r['total']} frames: no "
                       f"command is working on it. Run 'archivist infer {d['path']} --run {r['id']}' to finish it",
                       err=True)


def _abandoned(run: dict) -> str:
    return "  ABANDONED" if run["abandoned"] else ""


@click.command()
@pkg_arg
@json_option
def log(pkg, as_json):
    """Show PKG's event log, oldest first."""
    found = Package.open(pkg).events()

    def human(evs):
        for e in evs:
            click.echo(f"{e['time']}  {e['command']:<8} {e['type']:<10} {e['outcome']:<8} {e.get('detail', '')}")

    emit(as_json, {"ok": True, "events": found}, lambda d: human(d["events"]))


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


COMMANDS = [init, add, amend, info, log, recover]
