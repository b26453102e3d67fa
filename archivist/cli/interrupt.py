"""What a command interrupted with Ctrl-C tells its user.

Each command changes a package only through transactions, so after an
interruption the package is in one of three states: as it was before the
command, valid with the work committed so far (``infer`` and ``train``
commit as they go and resume), or with a commit cut short, which
``archivist recover`` rolls back. This module tells them apart and names
the command that continues or undoes.
"""

from __future__ import annotations

import shlex
from pathlib import Path

# Commands that never write to the package.
READ_ONLY = ("info", "log", "verify", "report", "reproduce")

_seen: dict = {}


def seen(command: str | None, pkg: Path | None) -> None:
    """Remember the package the running command works on (called while click parses ``PKG``)."""
    if pkg is not None:
        _seen.update(command=command, pkg=Path(pkg))


def _command_name(argv: list[str]) -> str | None:
    return _seen.get("command") or next((a for a in argv if not a.startswith("-")), None)


def advice(argv: list[str]) -> dict:
    """The package's state after an interruption and the command to run next.

    Returns:
        ``command``, ``package`` (or None), ``state`` (a sentence), ``next`` (what to run, a sentence),
        and ``continue`` / ``undo``: the exact command lines, or None.
    """
    from archivist.package.layout import BAGIT_TXT, Layout

    command = _command_name(argv)
    pkg: Path | None = _seen.get("pkg")
    again = shlex.join(["archivist", *argv])
    out = {"command": command, "package": str(pkg) if pkg else None, "continue": None, "undo": None}
    if pkg is None or not pkg.is_dir():
        out.update(state="nothing was changed", next=f"run '{again}' again", **{"continue": again})
        return out
    if (pkg / Layout.JOURNAL).exists() or (pkg / Layout.STAGING).exists():
        undo = shlex.join(["archivist", "recover", str(pkg)])
        out.update(state=f"{pkg} was stopped in the middle of a commit and is not valid as it is",
                   next=f"run '{undo}' to roll the unfinished change back, then '{again}'", undo=undo,
                   **{"continue": again})
        return out
    if not (pkg / BAGIT_TXT).is_file():
        out.update(state=f"no package was made at {pkg}", next=f"run '{again}' again", **{"continue": again})
        return out
    if command in READ_ONLY:
        out.update(state=f"{pkg} was not changed ('{command}' only reads it)", next=f"run '{again}' again",
                   **{"continue": again})
        return out
    running = _running(pkg, "inference" if command == "infer" else "training" if command == "train" else None)
    if command == "infer" and running:
        r = running[0]
        out.update(state=f"{pkg} is valid; inference run {r['id']} holds the {r['done']} of {r['total']} frames "
                         "committed before the interruption", next=f"run '{again}' to resume it",
                   **{"continue": again})
        return out
    if command == "train" and running:
        r = running[0]
        resume = shlex.join(["archivist", "train", str(pkg), "--resume", r["id"]])
        out.update(state=f"{pkg} is valid; training run {r['id']} is kept up to its last checkpoint "
                         f"(step {r['checkpoint_step']} of {r['total']})", next=f"run '{resume}' to continue it",
                   **{"continue": resume})
        return out
    out.update(state=f"{pkg} is as it was before '{command}': nothing it did was kept",
               next=f"run '{again}' again", **{"continue": again})
    return out


def _running(pkg: Path, kind: str | None) -> list[dict]:
    if kind is None:
        return []
    try:
        from archivist.package import Package

        runs = Package(pkg).runs()
    except Exception:  # a damaged record must not hide the interruption itself: no advice on runs, then
        return []
    return [r for r in runs[kind] if r["status"] == "running"]
