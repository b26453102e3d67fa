"""Reading and writing the BagIt tag files (RFC 8493).

bagit-python writes BagIt 0.97, rewrites every manifest by re-hashing the
whole payload, and does not percent-encode ``%``; archivist keeps its own
small writer for BagIt 1.0 so that ``add`` touches only new files. Parsing
is tolerant and returns what it found, so ``verify`` can report every
problem rather than stop at the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

BAGIT_TXT_CONTENT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


# -- percent-encoding of paths (RFC 8493 section 2.1.3) ----------------------

def encode_path(path: str) -> str:
    """Encode the three characters RFC 8493 requires: ``%``, CR and LF.

    >>> encode_path("a%b\\nc")
    'a%25b%0Ac'
    """
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


_ESCAPE = re.compile(r"%(25|0[aAdD])")


def decode_path(raw: str) -> tuple[str, bool]:
    """Decode a manifest path; the flag is False when a bare ``%`` was left unencoded.

    >>> decode_path("a%25b%0Ac")
    ('a%b\\nc', True)
    >>> decode_path("100%.exr")
    ('100%.exr', False)
    """
    ok = all(_ESCAPE.match(raw, m.start()) for m in re.finditer("%", raw))
    return _ESCAPE.sub(lambda m: {"25": "%", "0a": "\n", "0d": "\r"}[m.group(1).lower()], raw), ok


# -- manifests ------------------------------------------------------------------

@dataclass(slots=True)  # a manifest may list millions: no per-entry __dict__
class ManifestEntry:
    line: int
    digest: str
    path: str  # decoded
    binary_marker: bool = False  # md5sum-style "*path"
    encoding_ok: bool = True


@dataclass
class Manifest:
    entries: list[ManifestEntry] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, text)

    def as_dict(self) -> dict[str, str]:
        return {e.path: e.digest for e in self.entries}


_LINE = re.compile(r"^([0-9A-Fa-f]+)[ \t]+(.+)$")


def parse_line(line: str) -> tuple[str, str, bool, bool] | None:
    """``(digest, decoded path, binary marker, encoding ok)`` of one non-blank manifest line; None if malformed.

    >>> parse_line("AB  *data/a%25.txt")
    ('ab', 'data/a%.txt', True, True)
    """
    m = _LINE.match(line)
    if not m:
        return None
    digest, raw = m.group(1), m.group(2)
    marker = raw.startswith("*")
    if marker:
        raw = raw[1:]
    path, ok = decode_path(raw) if "%" in raw else (raw, True)
    return digest.lower(), path, marker, ok


def parse_manifest(text: str) -> Manifest:
    out = Manifest()
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() == "":
            continue
        parsed = parse_line(line)
        if parsed is None:
            out.malformed.append((n, line))
            continue
        out.entries.append(ManifestEntry(n, *parsed))
    return out


def format_manifest(entries: dict[str, str]) -> str:
    """One ``digest path`` line per file, sorted for stable bytes."""
    return "".join(f"{d}  {encode_path(p)}\n" for p, d in sorted(entries.items()))


# -- bag-info.txt -------------------------------------------------------------------

def parse_bag_info(text: str) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """Return (label, value) pairs in order, with continuation lines folded, and bad lines."""
    pairs: list[tuple[str, str]] = []
    bad: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line[:1] in (" ", "\t") and pairs:
            label, value = pairs[-1]
            pairs[-1] = (label, value + " " + line.strip())
        elif ":" in line and not line.startswith(":"):
            label, value = line.split(":", 1)
            pairs.append((label.strip(), value.strip()))
        elif line.strip():
            bad.append((n, line))
    return pairs, bad


# Archivematica turns bag-info.txt elements into XML elements (METS sourceMD), so a
# label must be an XML name; ASCII letters, digits, '-', '_' and '.' keep it one.
XML_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


def format_bag_info(pairs: list[tuple[str, str]]) -> str:
    """``bag-info.txt`` from (label, value) pairs; a label that is not an XML name is refused.

    >>> format_bag_info([("Source-Organization", "Filmoteca")])
    'Source-Organization: Filmoteca\\n'
    >>> format_bag_info([("Rights holder", "x")])
    Traceback (most recent call last):
    ...
    ValueError: bag-info label 'Rights holder' is not an XML name
    """
    lines = []
    for label, value in pairs:
        if not XML_LABEL.match(label):
            raise ValueError(f"bag-info label {label!r} is not an XML name")
        value = " ".join(str(value).split())  # tag values are single logical lines
        lines.append(f"{label}: {value}")
    return "\n".join(lines) + "\n"


def payload_oxum(sizes: Iterable[int]) -> str:
    sizes = list(sizes)
    return f"{sum(sizes)}.{len(sizes)}"
