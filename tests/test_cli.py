"""The command line loads only what the command needs."""

from __future__ import annotations

import importlib
import subprocess
import sys

from archivist.cli import COMMANDS


def test_the_command_table_matches_the_modules():
    for name, (module, _) in COMMANDS.items():
        commands = {c.name for c in importlib.import_module(f"archivist.cli.{module}").COMMANDS}
        assert name in commands, f"{name} is not in archivist.cli.{module}.COMMANDS"
    every = {c.name for m in {m for m, _ in COMMANDS.values()}
             for c in importlib.import_module(f"archivist.cli.{m}").COMMANDS}
    assert every == set(COMMANDS)


def test_help_and_verify_do_not_import_torch():
    code = ("import sys\nfrom archivist.cli import cli\n"
            "for args in (['--help'], ['verify', '--help'], ['info', '--help']):\n"
            "    try:\n        cli.main(args, standalone_mode=False)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules, 'c2pa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"
