"""Findings gathered off the main thread, and how a message says what differs.

``Findings`` and ``Outcome`` hold what one output frame's job found, to be
reported later in a fixed order; ``differences`` and its helpers phrase a
comparison of what a file says with what its record says. Shared by the
output, sidecar, credential and lineage checks, and importing none of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from archivist.verify.report import Report


class Findings:
    """Problems found off the main thread, reported later in a fixed order (``Report.add``'s signature)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str | None, str]] = []

    def add(self, code: str, path: str | None, message: str) -> None:
        self.items.append((code, path, message))

    def into(self, report: Report) -> None:
        for code, path, message in self.items:
            report.add(code, path, message)


@dataclass
class Outcome:
    """What one frame's job (or one credential no run names) found and hashed."""

    fixity: Findings = field(default_factory=Findings)
    checks: Findings = field(default_factory=Findings)
    sha256: dict[str, str] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    untrusted: tuple | None = None  # (directory, signer) when the credential's signer is not trusted
    ingredients: list = field(default_factory=list)  # (credential, its ingredients), checked once all is hashed
    credential: str | None = None  # validation status, when the frame has a credential


_HEX = re.compile(r"^[0-9a-f]{32,}$")


def short(value: object) -> str:
    """A value as a message shows it: digests by their first 16 digits, anything else up to 100 characters.

    >>> short("a" * 64)
    "'aaaaaaaaaaaaaaaa...'"
    >>> short("urn:uuid:00000000-0000-4000-8000-000000000001")
    "'urn:uuid:00000000-0000-4000-8000-000000000001'"
    >>> short(1001)
    '1001'
    """
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if _HEX.match(text):
        text = text[:16] + "..."
    elif len(text) > 100:
        text = text[:97] + "..."
    return repr(text) if isinstance(value, str) else text


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Leaves of a JSON value by dotted path (lists are leaves).

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a.b': 1, 'a.c': [1, 2], 'd': None}
    """
    if isinstance(value, dict) and value:
        out = {}
        for k in sorted(value):
            out.update(flatten(value[k], f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def differences(actual: dict, wanted: dict, said: str = "the run record says") -> list[str]:
    """``key is X, <said> Y`` for every key whose values differ.

    >>> differences({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
    ['b is 2, the run record says 3', 'c is missing, the run record says 4']
    """
    out = []
    for key in sorted(set(actual) | set(wanted)):
        a, w = actual.get(key, _MISSING), wanted.get(key, _MISSING)
        if a != w:
            shown = "missing" if a is _MISSING else short(a)
            out.append(f"{key} is {shown}, {said} {'nothing' if w is _MISSING else short(w)}")
    return out


_MISSING = object()


def listing(diffs: list[str], limit: int = 4) -> str:
    more = f" (and {len(diffs) - limit} more)" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


def copy_note(origin: str | None) -> str:
    return f"; it describes {origin}: copied from another frame" if origin else ""
