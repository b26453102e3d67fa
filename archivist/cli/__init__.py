"""The ``archivist`` command line: a thin layer over the library.

Exit codes are stable: 0 ok, 1 a check failed (``verify``), 2 usage error,
bad input or a package that cannot be used as asked.
"""

from __future__ import annotations

import click

from archivist import __version__
from archivist.cli import dataset_cmd, infer_cmd, keys_cmd, package_cmds, qc_cmd, train_cmd, verify_cmd
from archivist.cli.output import run_guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archivist")
def cli() -> None:
    """Provenance-first BagIt packages for ML film restoration."""


for module in (package_cmds, keys_cmd, verify_cmd, dataset_cmd, infer_cmd, train_cmd, qc_cmd):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    run_guarded(cli)
