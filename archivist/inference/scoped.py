"""Inference by shot: ``infer --shot``, ``--scene`` and ``--all-shots``.

A scoped run is an ordinary inference run over the scope's frames, with the
model trained for that scope (the latest exported model whose dataset was
built with the same ``--shot`` or ``--scene``; a shot without one of its own
takes its scene's), and the scope in its record. ``--all-shots`` plans every
shot of the element first (``archivist.shots.scope.plan_all_shots``: no
overlaps, no gaps unless a range is left as source, a model for every shot)
and only then runs them one by one, so a refusal leaves the package as it was.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from archivist.errors import InputError
from archivist.inference import runner
from archivist.package import Package
from archivist.shots import scope as scopes
from archivist.shots import store


def scoped_options(pkg: Package, options: runner.InferOptions, scope: scopes.Scope) -> runner.InferOptions:
    """The options of a run over ``scope``: its element, its frames, and its model unless one is given."""
    if options.frames:
        raise InputError("SCOPE-USAGE", f"--{scope.kind} chooses the frames; leave out --frames")
    element = scopes.check_element(scope, options.element, "SCOPE-USAGE", "element")
    model, trained_for = options.model, None
    if model is None:
        if scope.kind == "shot":
            found = scopes.model_for_shot(pkg, store.shot(pkg, scope.name))
            if found is not None:
                model, trained_for = found
        else:
            theirs = scopes.models_for(pkg, scope)
            if theirs:
                model, trained_for = theirs[-1], f"scene {scope.name}"
        if model is None:
            raise InputError("SCOPE-NOTHING", f"no model was trained for {scope.kind} {scope.name}",
                             hint=f"build a dataset with --{scope.kind} {scope.name}, train and export it, or give "
                                  "--model")
    record = scope.as_record()
    if trained_for and trained_for != f"{scope.kind} {scope.name}":
        record["trained_for"] = trained_for
    return replace(options, element=element, frames=scope.frames_text(), model=model, scope=record)


def infer_scope(root: Path | str, options: runner.InferOptions, *, shot: str | None = None,
                scene: str | None = None, progress: Any = None) -> dict:
    """``infer --shot`` / ``--scene``: one run over the scope's frames with its model."""
    pkg = Package.open(root)
    scope = scopes.resolve(pkg, shot, scene)
    assert scope is not None
    return runner.infer(root, scoped_options(pkg, options, scope), progress=progress)


def infer_all_shots(root: Path | str, options: runner.InferOptions, *, progress: Any = None) -> dict:
    """``infer --all-shots``: each shot's model over its own range, the ranges left as source untouched.

    Returns:
        ``{"ok", "element", "shots": [{"shot", "first", "last", "model", "trained_for", "run", "status"} or
        {"shot", "first", "last", "leave_as_source": True}]}``.
    """
    if options.frames or options.model:
        raise InputError("SCOPE-USAGE", "--all-shots chooses each shot's frames and model; leave out --frames "
                         "and --model")
    if options.run:
        raise InputError("SCOPE-USAGE", "--all-shots makes one run per shot; leave out --run")
    pkg = Package.open(root)
    plan = scopes.plan_all_shots(pkg, options.element)
    todo = [p for p in plan["shots"] if not p.get("leave_as_source")]
    out = []
    for entry in plan["shots"]:
        if entry.get("leave_as_source"):
            out.append(dict(entry))
            continue
        shot_scope = scopes.resolve(pkg, shot=entry["shot"])
        assert shot_scope is not None
        record = shot_scope.as_record()
        if entry["trained_for"] != f"shot {entry['shot']}":
            record["trained_for"] = entry["trained_for"]
        last = entry is todo[-1]
        opts = replace(options, element=plan["element"], frames=shot_scope.frames_text(), model=entry["model"],
                       scope=record, seal=options.seal and last)
        result = runner.infer(root, opts, progress=progress)
        out.append({**entry, "run": result["run"], "status": result["status"],
                    "frames_inferred": result["frames"]["computed"]})
    return {"ok": True, "element": plan["element"], "shots": out}
