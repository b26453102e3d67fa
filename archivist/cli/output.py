"""How commands print: readable text for people, ``--json`` for machines.

Every failure prints one way, ``error: CODE: message`` (click's own usage
errors included), and with ``--json`` also an ``{"ok": false, "error": ...}``
object on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from archivist.cli.interrupt import advice, seen
from archivist.errors import EXIT_INTERRUPTED, EXIT_USAGE, ArchivistError, InputError, PackageError
from archivist.progress import terminal

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")



class Interrupted(ArchivistError):
    """Ctrl-C: the message says what state the package is in, the hint what to run next."""

    exit_code = 130  # EXIT_INTERRUPTED, spelt out so that the error catalogue's scan can read it


def _package_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Every command refuses a missing package the same way: ``PACKAGE-NOT-A-BAG``, exit 2."""
    if value is not None:
        seen(ctx.info_name, value)
        if not value.is_dir():
            what = "is not a directory" if value.exists() else "does not exist"
            raise PackageError("PACKAGE-NOT-A-BAG", f"{value} is not a package: it {what}",
                               hint="give the directory of a package made with 'archivist init'")
    return value


def package_argument(*, must_exist: bool = True):
    """The ``PKG`` argument; ``must_exist=False`` for ``init``, which makes it."""
    if must_exist:
        return click.argument("pkg", type=click.Path(path_type=Path), callback=_package_path)
    return click.argument("pkg", type=click.Path(path_type=Path, file_okay=False),
                          callback=lambda ctx, _p, v: seen(ctx.info_name, v) or v)


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


def _fail(as_json: bool, error: dict, exit_code: int, extra: dict | None = None) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": error, **(extra or {})}, indent=2, ensure_ascii=False))
    text = f"error: {error['code']}: {error['message']}"
    if error.get("hint"):
        text += f"\n  hint: {error['hint']}"
    click.echo(text, err=True)
    sys.exit(exit_code)


def _usage_error(exc: click.ClickException) -> ArchivistError:
    """Click's own errors (an unknown option, a bad value) in the form of every other error."""
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError):
        where = ctx.command_path if ctx is not None else "archivist"
        return InputError("CLI-USAGE", exc.format_message(), hint=f"see '{where} --help'")
    return InputError("CLI-INPUT", exc.format_message())


def run_guarded(cli) -> None:
    """Run the click group; turn errors and Ctrl-C into messages and exit codes."""
    as_json = "--json" in sys.argv[1:]
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead of exiting.
        code = cli.main(standalone_mode=False)
    except ArchivistError as exc:
        extra = None
        if exc.exit_code == EXIT_INTERRUPTED:
            extra = {"interrupted": advice(sys.argv[1:])}
        _fail(as_json, exc.to_dict(), exc.exit_code, extra)
    except (click.exceptions.Abort, KeyboardInterrupt):
        said = advice(sys.argv[1:])
        stop = Interrupted("CLI-INTERRUPTED", f"interrupted: {said['state']}", hint=said["next"])
        _fail(as_json, stop.to_dict(), stop.exit_code, {"interrupted": said})
    except click.ClickException as exc:
        if exc.exit_code == 0:
            sys.exit(0)
        _fail(as_json, _usage_error(exc).to_dict(), EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
