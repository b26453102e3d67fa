"""How commands print: readable text for people, ``--json`` for machines."""

from __future__ import annotations

import json
import sys

import click

from archivist.errors import EXIT_USAGE, ArchivistError
from archivist.progress import terminal

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def progress_for(as_json: bool):
    """A terminal progress bar, unless output is for a machine."""
    return None if as_json else terminal


def emit(as_json: bool, data, human) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        human(data)


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
