"""describe, transfer, deposit: what an archive ingests."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option
from archivist.package.model import Package

pkg_arg = click.argument("pkg", type=click.Path(path_type=Path, file_okay=False, exists=True))


@click.command()
@pkg_arg
@click.option("--resolve-csv", "resolve_csv", type=click.Path(path_type=Path),
              help="Also write a DaVinci Resolve metadata CSV of the output frames to this file (outside PKG).")
@json_option
def describe(pkg, resolve_csv, as_json):
    """Write data/metadata/ for archives (metadata.csv, rights.csv, premis.xml, mets.xml) from PKG's records."""
    from archivist.archive.describe import describe as run
    from archivist.archive.resolve import check_place, write_csv

    package = Package.open(pkg)
    if resolve_csv is not None:
        check_place(package, resolve_csv)  # before the package is touched
    result = run(package)
    if resolve_csv is not None:
        result["resolve_csv"] = write_csv(package, resolve_csv)

    def human(d):
        c = d["counts"]
        click.echo(f"wrote {', '.join(f['path'] for f in d['files'])} in {pkg}: {c['metadata_rows']} "
                   f"descriptions, {c['rights_rows']} rights statements, {c['objects']} objects, "
                   f"{c['events']} events")
        if d.get("resolve_csv"):
            click.echo(f"wrote {d['resolve_csv']['path']}: {d['resolve_csv']['rows']} clips for Resolve's "
                       "Import Metadata")
    emit(as_json, result, human)


@click.command()
@pkg_arg
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@json_option
def transfer(pkg, out, as_json):
    """Write PKG as one reproducible .tar.gz, .tgz or .zip transfer file OUT, checked after writing."""
    from archivist.archive.transfer import transfer as run

    result = run(Package.open(pkg), out)
    emit(as_json, result, lambda d: click.echo(
        f"wrote {d['path']}: {d['files']} files, {d['size']} bytes, sha256 {d['sha256']}"))


@click.command()
@pkg_arg
@click.option("--ocfl", "ocfl_root", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="OCFL storage root (created when absent).")
@click.option("--message", help="Message of the new OCFL version.")
@json_option
def deposit(pkg, ocfl_root, message, as_json):
    """Add PKG as the next version of its OCFL 1.1 object in an OCFL storage root."""
    from archivist.archive.deposit import deposit as run

    result = run(Package.open(pkg), ocfl_root, message=message)

    def human(d):
        if not d["changed"]:
            click.echo(f"{d['object']}: unchanged since {d['head']}; no version added")
        else:
            click.echo(f"{d['object']}: added {d['head']} ({d['files']} files, {d['stored_files']} stored new)")
    emit(as_json, result, human)


COMMANDS = [describe, transfer, deposit]
