"""A DaVinci Resolve metadata CSV for a package's output frames, from the records only.

Resolve's Media Pool "Import Metadata" matches each row to a clip by its
``File Name`` and each column to a metadata field by its header, both
exactly, and ignores what it cannot match. The headers here are spelt as
in Resolve's own metadata template ("Roll Card #", "Production Name").
An image sequence is one clip in Resolve, named with its frame range in
brackets in place of the frame number (``print16.[000001-000120].exr``),
so there is one row per contiguous run of output frames in one folder.
docs/archives.md maps each column to the records.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

from archivist.errors import InputError
from archivist.package import kinds
from archivist.package.layout import Layout
from archivist.package.model import Package

COLUMNS = ["File Name", "Production Company", "Production Name", "Roll Card #", "Scene", "Shot", "Take",
           "Description", "Comments", "Keywords"]
_NUMBERED = re.compile(r"^(.*?)([0-9]+)(\.[^.]+)$")


def sequences(paths: list[str]) -> list[tuple[str, str, list[int]]]:
    """Group frame paths as Resolve groups an image sequence: ``(folder, clip file name, frame numbers)``.

    Frames of one folder, name and padding whose numbers follow one another
    make one clip; a gap starts another. A file without a frame number is a
    clip by itself.

    >>> sequences(["d/a.0001.exr", "d/a.0002.exr", "d/a.0004.exr", "d/b.exr"])
    [('d', 'a.[0001-0002].exr', [1, 2]), ('d', 'a.[0004-0004].exr', [4]), ('d', 'b.exr', [])]
    """
    groups: dict[tuple[str, str, str, int], list[int]] = defaultdict(list)
    single: list[tuple[str, str, list[int]]] = []
    for path in paths:
        folder, _, name = path.rpartition("/")
        m = _NUMBERED.match(name)
        if m is None:
            single.append((folder, name, []))
            continue
        groups[(folder, m.group(1), m.group(3), len(m.group(2)))].append(int(m.group(2)))
    out: list[tuple[str, str, list[int]]] = []
    for (folder, prefix, suffix, width), numbers in sorted(groups.items()):
        numbers.sort()
        run = [numbers[0]]
        for n in [*numbers[1:], None]:
            if n is not None and n == run[-1] + 1:
                run.append(n)
                continue
            out.append((folder, f"{prefix}[{run[0]:0{width}d}-{run[-1]:0{width}d}]{suffix}", run))
            if n is not None:
                run = [n]
    return out + sorted(single)


def _shot_of(shots: list[dict], element: str, numbers: list[int]) -> dict | None:
    """The shot that holds every one of ``numbers``, if one does."""
    if not numbers:
        return None
    lo, hi = min(numbers), max(numbers)
    inside = [s for s in shots if s["element"] == element and s["first"] <= lo and hi <= s["last"]]
    return inside[0] if len(inside) == 1 else None


def rows(pkg: Package) -> list[dict[str, str]]:
    """One row per output clip of every inference run (see ``sequences``)."""
    package = pkg.record()
    elements = {e["id"]: e for e in pkg.elements()}
    shots = [pkg.read_record(Layout.record(kinds.SHOT, i), kinds.SHOT.label) for i in pkg.record_ids(kinds.SHOT)]
    scenes = [pkg.read_record(Layout.record(kinds.SCENE, i), kinds.SCENE.label) for i in pkg.record_ids(kinds.SCENE)]
    scene_of = {(sc["element"], n): sc["id"] for sc in scenes for n in sc["shots"]}
    out = []
    for run_id in pkg.record_ids(kinds.INFERENCE_RUN):
        run = pkg.read_record(Layout.record(kinds.INFERENCE_RUN, run_id), kinds.INFERENCE_RUN.label)
        element_id = run["source"]["element"]
        element = elements.get(element_id, {})
        rights = element.get("rights", {})
        for _, name, numbers in sequences([f["output"]["path"] for f in run["frames"]]):
            shot = _shot_of(shots, element_id, numbers)
            comments = [rights.get("statement") or "No rights statement was recorded."]
            if rights.get("holder"):
                comments.append(f"Rights holder: {rights['holder']}.")
            comments.append(f"Restored from element {element_id} by model {run['model']['id']} "
                            f"(digital source type {run['digital_source_type']['uri']}).")
            keywords = [k for k in (package.get("recovery"), run["digital_source_type"]["uri"].rsplit("/", 1)[-1],
                                    element.get("gauge"), element.get("generation"),
                                    f"training use {rights['training_use']}" if rights.get("training_use") else None)
                        if k]
            out.append({
                "File Name": name,
                "Production Company": package["organization"],
                "Production Name": package["title"],
                "Roll Card #": element_id,
                "Scene": scene_of.get((element_id, shot["id"]), "") if shot else "",
                "Shot": shot["id"] if shot else "",
                "Take": run_id,
                "Description": f"{run['source']['description']}, restored ({package['identifier']})",
                "Comments": " ".join(c.strip() for c in comments),
                "Keywords": ", ".join(keywords),
            })
    return out


def resolve_csv(pkg: Package, table: list[dict[str, str]] | None = None) -> bytes:
    """The CSV's bytes (of ``table``, default ``rows(pkg)``): UTF-8, the header row, CRLF line ends (RFC 4180)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    w.writeheader()
    for row in rows(pkg) if table is None else table:
        w.writerow(row)
    return buf.getvalue().encode("utf-8")


def check_place(pkg: Package, out: Path | str) -> Path:
    """Refuse a CSV path inside the package, a directory, or one whose folder is missing (DESCRIBE-RESOLVE-PLACE)."""
    out = Path(out)
    if out.resolve().is_relative_to(pkg.root.resolve()):
        raise InputError("DESCRIBE-RESOLVE-PLACE", f"{out} is inside the package, where it would be in no manifest",
                         hint="write the Resolve CSV outside the package")
    if out.is_dir() or not out.parent.is_dir():
        raise InputError("DESCRIBE-RESOLVE-PLACE", f"{out} is a directory or its folder does not exist",
                         hint="give a file name in an existing folder outside the package")
    return out


def write_csv(pkg: Package, out: Path | str) -> dict:
    """Write the CSV to ``out`` (outside the package); return its path and row count."""
    out = check_place(pkg, out)
    table = rows(pkg)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(resolve_csv(pkg, table))
    tmp.replace(out)  # a reader never sees half a file
    return {"path": str(out), "rows": len(table)}
