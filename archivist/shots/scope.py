"""A command's scope: one shot, one scene (a group of shots), or the whole element.

``dataset``, ``train``, ``infer``, ``qc`` and ``report`` take ``--shot NAME``
or ``--scene NAME``; this module turns the name into the element and frame
ranges it covers, records it, and finds what was made for it (the dataset,
model or inference run of that scope).

The granularity rule of thumb (the seeds' guide) sets ``--auto`` without a
number: 3 to 4 pairs per shot, about 16 per scene, 33 or more per sequence
(a whole element), never more than the scope has frames to spare for a
held-out frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from archivist.errors import InputError
from archivist.package import Package, kinds, ranges
from archivist.package.layout import Layout
from archivist.shots import store

RULE_OF_THUMB = {"shot": 4, "scene": 16, "element": 33}


@dataclass(frozen=True)
class Scope:
    """Where a command works: the element and the inclusive frame ranges of its shots."""

    kind: str  # "shot" or "scene"
    name: str
    element: str
    shots: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def contains(self, number: int) -> bool:
        return any(lo <= number <= hi for lo, hi in self.spans)

    def numbers(self, numbers: list[int]) -> list[int]:
        """The frame numbers of ``numbers`` that lie in the scope, in order."""
        return sorted(n for n in numbers if self.contains(n))

    def frames_text(self) -> str:
        """The ranges as ``--frames`` takes them, e.g. ``1001-1008,1017-1024``."""
        return ",".join(f"{lo}-{hi}" for lo, hi in self.spans)

    def as_record(self) -> dict:
        return {"kind": self.kind, "name": self.name, "element": self.element, "shots": list(self.shots),
                "frames": ranges.show([n for lo, hi in self.spans for n in range(lo, hi + 1)])}

    def matches(self, recorded: dict | None) -> bool:
        return recorded is not None and recorded.get("kind") == self.kind and recorded.get("name") == self.name


def resolve(pkg: Package, shot: str | None = None, scene: str | None = None) -> Scope | None:
    """The scope ``--shot`` or ``--scene`` names, or None when neither is given."""
    if shot and scene:
        raise InputError("SCOPE-USAGE", "give --shot or --scene, not both")
    if shot:
        s = store.shot(pkg, shot)
        return Scope("shot", s["id"], s["element"], (s["id"],), ((s["first"], s["last"]),))
    if scene:
        sc = store.scene(pkg, scene)
        members = sorted((store.shot(pkg, n) for n in sc["shots"]), key=lambda s: s["first"])
        return Scope("scene", sc["id"], sc["element"], tuple(m["id"] for m in members),
                     tuple((m["first"], m["last"]) for m in members))
    return None


def auto_count(kind: str, available: int) -> int:
    """Pairs ``--auto`` picks without a number: the rule of thumb, leaving at least one frame to hold out.

    >>> auto_count("shot", 24), auto_count("shot", 3), auto_count("scene", 100), auto_count("element", 40)
    (4, 2, 16, 33)
    >>> auto_count("shot", 1)
    1
    """
    return max(1, min(RULE_OF_THUMB[kind], available - 1))


def check_element(scope: Scope | None, element: str | None, code: str, what: str) -> str | None:
    """The element a scoped command works on; refuses one other than the scope's."""
    if scope is None:
        return element
    if element and element != scope.element:
        raise InputError(code, f"{scope.kind} {scope.name} is a range of element {scope.element}, not the {what} "
                         f"{element!r}")
    return scope.element


def _dataset_scope(pkg: Package, ds_id: str) -> dict | None:
    rec = pkg.read_record(Layout.record(kinds.DATASET, ds_id), kinds.DATASET.label)
    return rec.get("scope")


def datasets_for(pkg: Package, scope: Scope) -> list[str]:
    """Ids of the datasets built for exactly this scope, oldest first."""
    found = []
    for ds_id in pkg.record_ids(kinds.DATASET):
        rec = pkg.read_record(Layout.record(kinds.DATASET, ds_id), kinds.DATASET.label)
        if scope.matches(rec.get("scope")):
            found.append((rec["created"], ds_id))
    return [i for _, i in sorted(found)]


def models_for(pkg: Package, scope: Scope) -> list[str]:
    """Ids of the exported models trained on a dataset of exactly this scope, oldest first."""
    found = []
    for model_id in pkg.record_ids(kinds.MODEL_CARD):
        card = pkg.read_record(Layout.record(kinds.MODEL_CARD, model_id), kinds.MODEL_CARD.label)
        ds = card.get("dataset") or {}
        if ds.get("id") in pkg.record_ids(kinds.DATASET) and scope.matches(_dataset_scope(pkg, ds["id"])):
            found.append((card["created"], model_id))
    return [i for _, i in sorted(found)]


def model_for_shot(pkg: Package, shot: dict) -> tuple[str, str] | None:
    """The model for one shot, and the scope it was trained for: the shot's own, else its scene's (latest)."""
    own = models_for(pkg, Scope("shot", shot["id"], shot["element"], (shot["id"],), ((shot["first"], shot["last"]),)))
    if own:
        return own[-1], f"shot {shot['id']}"
    sc_name = store.scene_of(pkg, shot["id"])
    if sc_name:
        sc = resolve(pkg, scene=sc_name)
        assert sc is not None
        theirs = models_for(pkg, sc)
        if theirs:
            return theirs[-1], f"scene {sc_name}"
    return None


def runs_for(pkg: Package, scope: Scope, complete: bool = True) -> list[dict]:
    """Inference run records made for exactly this scope, oldest first."""
    found = []
    for run_id in pkg.record_ids(kinds.INFERENCE_RUN):
        rec = pkg.read_record(Layout.record(kinds.INFERENCE_RUN, run_id), kinds.INFERENCE_RUN.label)
        if scope.matches(rec.get("scope")) and (rec["status"] == "complete" or not complete):
            found.append(rec)
    return sorted(found, key=lambda r: (r["started"], r["id"]))


def plan_all_shots(pkg: Package, element: str | None = None) -> dict:
    """What ``infer --all-shots`` would do: each shot with its model, or why it cannot run.

    The shots of the element must cover every one of its frames exactly once: an overlap is refused
    (``INFER-SHOTS-OVERLAP``), and so is a frame in no shot (``INFER-SHOTS-GAP``) unless a shot that
    covers it is marked ``leave_as_source``. A shot without a model of its own or of its scene is
    refused (``INFER-SHOT-MODEL``).

    Returns:
        ``{"element", "shots": [{"shot", "first", "last", "model", "trained_for"} or
        {"shot", ..., "leave_as_source": True}]}``
    """
    all_shots = store.shots(pkg)
    if element is None:
        elements = sorted({s["element"] for s in all_shots})
        if len(elements) != 1:
            raise InputError("INFER-ELEMENT", "--all-shots: " + ("the package has no shots" if not elements else
                             f"shots of several elements ({', '.join(elements)})"),
                             hint="import a shot list with 'archivist shots PKG import' first" if not elements
                             else "give --element")
        element = elements[0]
    mine = [s for s in all_shots if s["element"] == element]
    if not mine:
        raise InputError("INFER-ELEMENT", f"--all-shots: element {element!r} has no shots",
                         hint="import a shot list with 'archivist shots PKG import' first")
    el = pkg.element(element)
    numbers = sorted(f["number"] for f in el["frames"])
    owner: dict[int, str] = {}
    overlaps = []
    for s in mine:
        for n in numbers:
            if s["first"] <= n <= s["last"]:
                if n in owner:
                    overlaps.append((n, owner[n], s["id"]))
                else:
                    owner[n] = s["id"]
    if overlaps:
        n, a, b = overlaps[0]
        raise InputError("INFER-SHOTS-OVERLAP", f"shots {a} and {b} both cover frame {n} of {element} "
                         f"({len(overlaps)} frame(s) are in more than one shot); nothing was inferred",
                         hint="every frame must belong to one shot; import a corrected shot list")
    gaps = [n for n in numbers if n not in owner]
    if gaps:
        raise InputError("INFER-SHOTS-GAP", f"frames {ranges.show(gaps)} of {element} are in no shot; nothing was "
                         "inferred", hint="add a shot over them, with --leave-as-source to keep them as scanned: "
                                          f"'archivist shots PKG add --name NAME --frames {gaps[0]}-{gaps[-1]} "
                                          "--leave-as-source'")
    plan = []
    missing = []
    for s in mine:
        entry = {"shot": s["id"], "first": s["first"], "last": s["last"]}
        if s["leave_as_source"]:
            entry["leave_as_source"] = True
        else:
            found = model_for_shot(pkg, s)
            if found is None:
                missing.append(s["id"])
            else:
                entry["model"], entry["trained_for"] = found
        plan.append(entry)
    if missing:
        raise InputError("INFER-SHOT-MODEL", f"no model was trained for shot(s) {', '.join(missing)} (nor for their "
                         "scene); nothing was inferred",
                         hint="build a dataset, train and export with --shot NAME (or --scene), or mark the shot "
                              "--leave-as-source")
    return {"element": element, "shots": plan}
