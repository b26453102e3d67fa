"""How commands print: readable text for people, ``--json`` for machines."""

from __future__ import annotations

import json
import os
import sys

import click

from archivist.errors import EXIT_USAGE, ArchivistError
from archivist.progress import terminal

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def progress_for(as_json: bool):
    """A terminal progress bar, unless output is for a machine."""
    return None if as_json else terminal


def _removed_seals() -> list[dict]:
    """Seals this command's commits removed from packages that are still unsealed."""
    from archivist.package.layout import Layout
    from archivist.package.transaction import REMOVED_SEALS

    out = {}
    for entry in REMOVED_SEALS:
        if not os.path.lexists(Path(entry["package"]) / Layout.PACKAGE_SEAL):
            out[entry["package"]] = entry
    return list(out.values())


def emit(as_json: bool, data, human) -> None:
    removed = _removed_seals() if isinstance(data, dict) else []
    if removed:
        data = {**data, "seal_removed": removed[-1]}
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        human(data)
        for entry in removed:
            click.echo(f"note: the package seal of {entry['package']} was removed ('{entry['command']}' changed the "
                       f"package it signed); run 'archivist seal {entry['package']}' to seal it again")


def run_guarded(cli) -> None:
    """Run the click group; turn ArchivistErrors into messages and exit codes."""
    as_json = "--json" in sys.argv[1:]
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead of exiting.
        code = cli.main(standalone_mode=False)
    except ArchivistError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": exc.to_dict()}, indent=2))
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code != 0 else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
