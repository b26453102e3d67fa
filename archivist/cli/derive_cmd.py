"""derive: an inference run's outputs as an element of a later stage."""

from __future__ import annotations

import click

from archivist.cli.output import emit, json_option, package_argument
from archivist.package import derived

pkg_arg = package_argument()


@click.command()
@pkg_arg
@click.option("--run", "run_id", required=True, help="The complete inference run whose outputs become the element.")
@click.option("--element", help="Id of the derived element (default: <run>-derived).")
@click.option("--role", type=click.Choice(derived.ROLES), default="source", show_default=True,
              help="Use the outputs as a source (to restore further) or as a reference (to learn from).")
@click.option("--description", help="What the frames are, in words (default: from the run).")
@json_option
def derive(pkg, run_id, element, role, description, as_json):
    """Record an inference run's outputs as a derived element, without copying a frame.

    The element names the run's output frames by path and SHA-256, and each frame's parent; a later
    dataset, training run or inference run can use it like any element (see docs/package-format.md).
    """
    from archivist.package import Package

    record = derived.derive(Package.open(pkg), run_id, element=element, role=role, description=description)
    emit(as_json, {"ok": True, "element": record},
         lambda d: click.echo(f"derived {role} element {record['id']}: the {len(record['frames'])} output frames of "
                              f"run {run_id}, read back as {record['read_as']['colour_space']}"))


COMMANDS = [derive]
