"""The ``archivist`` command line: a thin layer over the library.

Exit codes are stable: 0 ok, 1 a check failed (``verify``), 2 usage error,
bad input or a package that cannot be used as asked, 130 interrupted (Ctrl-C).

Command modules are imported only when their command runs, so that
``archivist verify`` or ``archivist info`` never pay for importing torch.
"""

from __future__ import annotations

import importlib

import click

from archivist import __version__
from archivist.cli.output import run_guarded

# command name -> (module under archivist.cli, one-line help shown by --help)
COMMANDS = {
    "init": ("package_cmds", "Create a new, empty restoration package at PKG."),
    "add": ("package_cmds", "Add an element's frames (EXR, DPX, TIFF, PNG) to PKG."),
    "amend": ("package_cmds", "Amend an element's description, rights or colour space; frames untouched."),
    "info": ("package_cmds", "Show what PKG holds."),
    "log": ("package_cmds", "Show PKG's event log, oldest first."),
    "recover": ("package_cmds", "Roll back a command that was killed before it finished."),
    "verify": ("verify_cmd", "Check PKG: BagIt, fixity, profile, records, lineage, credentials."),
    "dataset": ("dataset_cmd", "Build a dataset: frame pairs, aligned and preprocessed references."),
    "train": ("train_cmd", "Train a restoration model on a dataset; checkpoints go into PKG."),
    "export": ("train_cmd", "Export a checkpoint to ONNX, with a model card and a parity report."),
    "infer": ("infer_cmd", "Run the package's archived ONNX model over a source element."),
    "derive": ("derive_cmd", "Record an inference run's outputs as an element of a later stage (no copies)."),
    "reproduce": ("infer_cmd", "Re-run an inference run and compare with the archived outputs."),
    "qc": ("qc_cmd", "Judge an inference run against a 3D LUT baseline on held-out frames."),
    "report": ("qc_cmd", "Write one self-contained HTML report about PKG."),
    "shots": ("shots_cmd", "Shots and scenes: import an EDL, OTIO or CSV shot list, or add ranges by hand."),
    "demo": ("qc_cmd", "Run the whole restoration on bundled photographs."),
    "keys": ("keys_cmd", "Signing identities for Content Credentials."),
    "seal": ("keys_cmd", "Sign PKG's tag manifest, so the package as a whole is signed."),
    "describe": ("archive_cmds", "Write archive metadata (metadata.csv, rights.csv, PREMIS, METS) into PKG."),
    "transfer": ("archive_cmds", "Write PKG as a reproducible .tar.gz or .zip transfer for an archive."),
    "deposit": ("archive_cmds", "Add PKG as the next version of an OCFL object."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"archivist.cli.{COMMANDS[name][0]}")
        return next(c for c in module.COMMANDS if c.name == name)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archivist")
def cli() -> None:
    """Provenance-first BagIt packages for ML film restoration."""


def main() -> None:
    run_guarded(cli)
