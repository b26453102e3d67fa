"""Shot and scene records: written in one transaction with an event, read back validated.

A shot is ``data/records/shots/<name>.json`` (``archivist/shot/1``): an
inclusive range of one source element's frame numbers and where it came
from. A scene is ``data/records/scenes/<name>.json`` (``archivist/scene/1``):
a named group of shots of the same element. Records are never replaced:
a shot list is imported once, and a shot is named once.
"""

from __future__ import annotations

from pathlib import Path

from archivist.errors import ArchivistError, InputError, InterruptedTransactionError
from archivist.package import Package, events, kinds, records
from archivist.package.layout import Layout
from archivist.package.safepath import check_element_id
from archivist.package.transaction import utcnow
from archivist.shots import timeline
from archivist.shots.timeline import ShotSpec

SHOT_LABEL = kinds.SHOT.label
SCENE_LABEL = kinds.SCENE.label


def shot_ids(pkg: Package) -> list[str]:
    return pkg.record_ids(kinds.SHOT)


def scene_ids(pkg: Package) -> list[str]:
    return pkg.record_ids(kinds.SCENE)


def shot(pkg: Package, name: str) -> dict:
    return pkg.read_kind(kinds.SHOT, _name(name, "shot"), SHOT_LABEL, "SCOPE-UNKNOWN", "shot")


def scene(pkg: Package, name: str) -> dict:
    return pkg.read_kind(kinds.SCENE, _name(name, "scene"), SCENE_LABEL, "SCOPE-UNKNOWN", "scene")


def shots(pkg: Package, element: str | None = None) -> list[dict]:
    """Every shot (of one element), in order of first frame."""
    found = [shot(pkg, i) for i in shot_ids(pkg)]
    return sorted((s for s in found if element is None or s["element"] == element),
                  key=lambda s: (s["element"], s["first"], s["id"]))


def scenes(pkg: Package) -> list[dict]:
    return [scene(pkg, i) for i in scene_ids(pkg)]


def scene_of(pkg: Package, shot_name: str) -> str | None:
    """The scene a shot belongs to, or None."""
    for sc in scenes(pkg):
        if shot_name in sc["shots"]:
            return sc["id"]
    return None


def _name(name: str, what: str) -> str:
    try:
        return check_element_id(name)
    except ArchivistError:
        raise InputError("SHOTS-NAME", f"{what} name {name!r} is not usable: letters, digits, '.', '_' and '-', "
                         "up to 64, starting with a letter or digit") from None


def _source(pkg: Package, element: str | None) -> dict:
    sources = [e for e in pkg.elements() if e["role"] == "source"]
    if element is None:
        if len(sources) != 1:
            raise InputError("SHOTS-ELEMENT", "cannot tell which source element the shots are of",
                             hint="give --element")
        return sources[0]
    for e in pkg.elements():
        if e["id"] == element:
            if e["role"] != "source":
                raise InputError("SHOTS-ELEMENT", f"element {element!r} is a {e['role']}; shots are ranges of a "
                                 "source element")
            return e
    raise InputError("SHOTS-ELEMENT", f"no element {element!r} in the package (elements: "
                     f"{', '.join(pkg.element_ids()) or 'none'})")


def _shot_record(spec: ShotSpec, element: dict, origin: dict, now: str) -> dict:
    numbers = [f["number"] for f in element["frames"]]
    inside = [n for n in numbers if spec.first <= n <= spec.last]
    if spec.last < spec.first:
        raise InputError("SHOTS-RANGE", f"shot {spec.name}: range {spec.first}-{spec.last} runs backwards")
    if not inside:
        raise InputError("SHOTS-RANGE", f"shot {spec.name}: frames {spec.first}-{spec.last} are not frames of "
                         f"element {element['id']} (it has {min(numbers)}-{max(numbers)})",
                         hint="for a timeline, check --fps, --timecode and --start (docs/dataset.md, shots)")
    if spec.first < min(numbers) or spec.last > max(numbers):
        raise InputError("SHOTS-RANGE", f"shot {spec.name}: frames {spec.first}-{spec.last} run past element "
                         f"{element['id']}'s frames {min(numbers)}-{max(numbers)}",
                         hint="for a timeline, check --fps, --timecode and --start (docs/dataset.md, shots)")
    rec = {"schema": SHOT_LABEL, "id": _name(spec.name or "", "shot"), "element": element["id"],
           "first": spec.first, "last": spec.last, "frames": len(inside), "leave_as_source": spec.leave_as_source,
           "origin": dict(origin), "created": now}
    if spec.event is not None:
        rec["origin"]["event"] = spec.event
    if spec.clip:
        rec["origin"]["clip"] = spec.clip
    if spec.timecode:
        rec["origin"]["timecode"] = spec.timecode
    if spec.description:
        rec["description"] = spec.description
    return rec


def write(pkg: Package, specs: list[ShotSpec], *, element: str | None, origin: dict,
          scene_name: str | None = None, command: str = "shots", detail: str | None = None) -> dict:
    """Write new shot records (and the scenes they name) in one transaction.

    Args:
        pkg: the package.
        specs: the shots, named.
        element: the source element they are ranges of (default: the package's only source).
        origin: ``{"kind", "file"?}`` for every shot.
        scene_name: put every shot in this scene (new, or an existing scene of the same element).
        command: the command the event names.
        detail: the event's detail (default: a count).

    Returns:
        ``{"shots": [...], "scenes": [...]}``, the records written.
    """
    if pkg.interrupted():
        raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was "
                                          "interrupted", hint=f"run 'archivist recover {pkg.root}' first")
    el = _source(pkg, element)
    now = utcnow()
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise InputError("SHOTS-EXISTS", f"shot {dupes[0]!r} is named twice")
    new_shots = [_shot_record(s, el, origin, now) for s in specs]
    grouped: dict[str, list[str]] = {}
    for s in specs:
        sc = scene_name or s.scene
        if sc:
            grouped.setdefault(_name(sc, "scene"), []).append(s.name or "")
    with pkg.transaction(command) as txn:
        for rec in new_shots:
            if txn.exists(Layout.record(kinds.SHOT, rec["id"])):
                raise InputError("SHOTS-EXISTS", f"shot {rec['id']!r} is already in the package",
                                 hint="shots are never replaced; give other names (--prefix, or a name column)")
        member = {n: sc for sc in (scene(pkg, i) for i in scene_ids(pkg)) for n in sc["shots"]}
        scene_recs = []
        for sc_name, members in grouped.items():
            rel = Layout.record(kinds.SCENE, sc_name)
            old = scene(pkg, sc_name) if txn.exists(rel) else None
            if old is not None and old["element"] != el["id"]:
                raise InputError("SHOTS-SCENE", f"scene {sc_name!r} groups shots of element {old['element']}, "
                                 f"not {el['id']}")
            rec = {"schema": SCENE_LABEL, "id": sc_name, "element": el["id"],
                   "shots": (old["shots"] if old else []) + members, "created": old["created"] if old else now}
            scene_recs.append((rel, rec, old is not None))
        for rec in new_shots:
            if rec["id"] in member:
                raise InputError("SHOTS-SCENE", f"shot {rec['id']!r} is already in scene {member[rec['id']]['id']}")
        objects = []
        for rec in new_shots:
            rel = Layout.record(kinds.SHOT, rec["id"])
            fx = txn.write_bytes(rel, _dumps(rec, SHOT_LABEL))
            objects.append({"path": rel, "role": "created", "sha256": fx.sha256})
        for rel, rec, existed in scene_recs:
            fx = txn.write_bytes(rel, _dumps(rec, SCENE_LABEL), replace=existed)
            objects.append({"path": rel, "role": "modified" if existed else "created", "sha256": fx.sha256})
        objects.append({"path": Layout.element_record(el["id"]), "role": "source"})
        events.append(txn, events.new_event(
            command, "creation", now, objects,
            detail=detail or f"{len(new_shots)} shot(s) of {el['id']}"
                             + (f" in scene(s) {', '.join(grouped)}" if grouped else "")))
        txn.commit()
    return {"shots": new_shots, "scenes": [r for _, r, _ in scene_recs]}


def group(pkg: Package, scene_name: str, shot_names: list[str], description: str | None = None) -> dict:
    """Make (or extend) a scene of existing shots; one transaction, one event."""
    if pkg.interrupted():
        raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was "
                                          "interrupted", hint=f"run 'archivist recover {pkg.root}' first")
    sc_name = _name(scene_name, "scene")
    if not shot_names:
        raise InputError("SHOTS-SCENE", "a scene needs at least one shot (--shots A,B,...)")
    members = [shot(pkg, n) for n in shot_names]
    elements = {m["element"] for m in members}
    if len(elements) != 1:
        raise InputError("SHOTS-SCENE", f"a scene groups shots of one element, not {', '.join(sorted(elements))}")
    now = utcnow()
    with pkg.transaction("shots") as txn:
        rel = Layout.record(kinds.SCENE, sc_name)
        old = scene(pkg, sc_name) if txn.exists(rel) else None
        for other in scenes(pkg):
            clash = [m["id"] for m in members if m["id"] in other["shots"]]
            if clash:
                raise InputError("SHOTS-SCENE", f"shot {clash[0]!r} is already in scene {other['id']}")
        if old is not None and old["element"] not in elements:
            raise InputError("SHOTS-SCENE", f"scene {sc_name!r} groups shots of element {old['element']}")
        rec = {"schema": SCENE_LABEL, "id": sc_name, "element": members[0]["element"],
               "shots": (old["shots"] if old else []) + [m["id"] for m in members],
               "created": old["created"] if old else now}
        desc = description or (old or {}).get("description")
        if desc:
            rec["description"] = desc
        fx = txn.write_bytes(rel, _dumps(rec, SCENE_LABEL), replace=old is not None)
        events.append(txn, events.new_event(
            "shots", "creation" if old is None else "metadata modification", now,
            [{"path": rel, "role": "modified" if old else "created", "sha256": fx.sha256}],
            detail=f"scene {sc_name}: shots {', '.join(rec['shots'])}"))
        txn.commit()
    return rec


def import_list(pkg: Package, path: Path, *, element: str | None = None, fmt: str | None = None,
                rate: float | None = None, side: str = "record", start: str | None = None, prefix: str = "sh",
                scene_name: str | None = None) -> dict:
    """Import a shot list (EDL, OTIO or CSV) as shot records; see ``timeline.read`` for the timecode mapping."""
    el = _source(pkg, element)
    if rate is None and el["scan"].get("frame_rate"):
        rate = _rate(el["scan"]["frame_rate"])
    first = min(f["number"] for f in el["frames"])
    found = timeline.read(path, fmt=fmt, rate=rate, side=side, start=start, element_first=first)
    timeline.default_names(found.shots, prefix)
    out = write(pkg, found.shots, element=el["id"], origin={"kind": found.kind, "file": found.file},
                scene_name=scene_name,
                detail=f"{len(found.shots)} shot(s) of {el['id']} imported from {found.file['name']} "
                       f"({found.kind}, sha256 {found.file['sha256'][:12]})")
    out["warnings"] = found.warnings
    return out


def _rate(text: str) -> float:
    """``"24"``, ``"23.976"``, ``"24000/1001"`` -> frames per second.

    >>> _rate("24000/1001") == 24000 / 1001, _rate("25")
    (True, 25.0)
    """
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


def _dumps(rec: dict, label: str) -> bytes:
    try:
        return records.dumps(rec, label)
    except records.RecordError as exc:
        raise InputError("SHOTS-FIELDS", exc.message) from None
