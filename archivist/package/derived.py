"""Derived elements: an inference run's outputs as the source or reference of a later stage.

A derived element (``data/records/derived/<id>.json``, ``archivist/derived-element/1``)
copies no frame. Its frames are the output frames of one complete inference run,
with the SHA-256 the run recorded and, for each, the frame it was made from
(``parent``), so a chain of runs can be walked back frame by frame to the scan.

The outputs are half-float ACES 2065-1; ``read_as`` says how a reader gets
back the working R'G'B' the run started from (the inverse of the run's
recorded OpenColorIO conversion), which is what a later dataset, training run
or inference run works in (``archivist.imaging.readback``).
"""

from __future__ import annotations

from typing import Any

from archivist.errors import InputError, InterruptedTransactionError
from archivist.package import events, kinds, records
from archivist.package.layout import Layout
from archivist.package.safepath import check_element_id
from archivist.package.transaction import utcnow

LABEL = kinds.DERIVED_ELEMENT.label
RUN_LABEL = kinds.INFERENCE_RUN.label
ROLES = ("source", "reference")


def default_id(run: str) -> str:
    """The id a derived element of ``run`` gets when none is given.

    >>> default_id("infer-01")
    'infer-01-derived'
    """
    return check_element_id(f"{run}-derived")


def find_for_run(pkg: Any, run: str, role: str = "source") -> dict | None:
    """The derived element of ``run`` with ``role`` already in the package, or None."""
    for ident in pkg.record_ids(kinds.DERIVED_ELEMENT):
        rec = pkg.read_record(Layout.record(kinds.DERIVED_ELEMENT, ident), LABEL)
        if rec["derived_from"]["run"] == run and rec["role"] == role:
            return rec
    return None


def record_for(pkg: Any, run_rec: dict, run_sha256: str, element: str, role: str, description: str | None,
               now: str) -> dict:
    """The derived element record for a complete run record (pure but for reading the run's source element)."""
    if role not in ROLES:
        raise InputError("DERIVE-ROLE", f"role must be one of {', '.join(ROLES)}")
    check_element_id(element)
    if run_rec["status"] != "complete" or not run_rec["frames"]:
        raise InputError("DERIVE-RUN-INCOMPLETE", f"inference run {run_rec['id']} is {run_rec['status']} with "
                         f"{len(run_rec['frames'])} frame(s); only a complete run's outputs can become an element",
                         hint=f"finish it first: run 'archivist infer {pkg.root} --run {run_rec['id']}' again")
    upstream = pkg.element(run_rec["source"]["element"])
    colour = run_rec["settings"]["colour"]
    conv = colour["conversion"]
    scan = {k: upstream["scan"][k] for k in ("width", "height")}
    scan.update({"channels": 3, "channel_names": ["R", "G", "B"], "pixel_type": "half", "bit_depth": 16,
                 "file_format": "openexr", "colour_space": colour["recorded"]})
    if upstream["scan"].get("frame_rate"):
        scan["frame_rate"] = upstream["scan"]["frame_rate"]
    rights = dict(upstream["rights"])
    model = run_rec["model"]
    frames = []
    for f in sorted(run_rec["frames"], key=lambda f: f["number"]):
        entry = {"number": f["number"], "path": f["output"]["path"], "sha256": f["output"]["sha256"],
                 "size": f["output"]["size"], "parent": {"path": f["source"]["path"], "sha256": f["source"]["sha256"]}}
        if f.get("credential"):
            entry["credential"] = dict(f["credential"])
        frames.append(entry)
    return {
        "schema": LABEL, "id": element, "role": role,
        "description": description or f"{upstream['description']}, {run_rec['provenance']['recovery_type'].lower()} "
                                      f"recovery by model {model['id']} (run {run_rec['id']})",
        "digital_source_type": run_rec["digital_source_type"]["uri"],
        "rights": rights, "scan": scan,
        "read_as": {"colour_space": colour["recorded"], "config": conv["config"], "source": conv["destination"],
                    "destination": conv["source"], "opencolorio": conv["opencolorio"]},
        "derived_from": {"run": run_rec["id"],
                         "record": {"path": Layout.record(kinds.INFERENCE_RUN, run_rec["id"]), "sha256": run_sha256},
                         "model": {"id": model["id"], "path": model["onnx"]["path"], "sha256": model["onnx"]["sha256"]},
                         "element": run_rec["source"]["element"], "mode": run_rec["provenance"]["mode"]},
        "frames": frames, "added": now,
    }


def derive(pkg: Any, run: str, *, element: str | None = None, role: str = "source", description: str | None = None) -> dict:
    """Record the outputs of complete inference run ``run`` as derived element ``element``; returns the record.

    Nothing is copied: the record names the run's output frames by path and SHA-256. Refuses
    (``DERIVE-*``) an unknown or unfinished run, a taken id, or outputs that no longer match the run record,
    leaving the package as it was.
    """
    if pkg.interrupted():
        raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                                          hint=f"run 'archivist recover {pkg.root}' first")
    element = element or default_id(run)
    run_rel = Layout.record(kinds.INFERENCE_RUN, run)
    with pkg.transaction("derive") as txn:
        if not txn.exists(run_rel):
            known = ", ".join(pkg.record_ids(kinds.INFERENCE_RUN)) or "none"
            raise InputError("DERIVE-NO-RUN", f"no inference run {run!r} in the package (runs: {known})")
        rel = Layout.record(kinds.DERIVED_ELEMENT, element)
        if txn.exists(rel) or txn.exists(Layout.element_record(element)):
            raise InputError("DERIVE-EXISTS", f"element {element!r} is already in the package",
                             hint="give another --element")
        run_bytes = pkg.verified_bytes({"path": run_rel, "sha256": txn.manifests["sha256"].get(run_rel, "")},
                                       "DERIVE-ALTERED", "run record")
        run_rec = records.loads(run_bytes, RUN_LABEL, where=run_rel)
        now = utcnow()
        record = record_for(pkg, run_rec, txn.manifests["sha256"][run_rel], element, role, description, now)
        for f in record["frames"]:
            pkg.verified_path(f, "DERIVE-ALTERED", f"output frame {f['number']} of run {run}")
        fix = txn.write_bytes(rel, records.dumps(record, LABEL))
        events.append(txn, events.new_event(
            "derive", "creation", now,
            [{"path": rel, "role": "created", "sha256": fix.sha256}, {"path": run_rel, "role": "source"}],
            detail=f"{role} element {element}: the {len(record['frames'])} output frames of inference run {run} "
                   f"(model {run_rec['model']['id']}), no frames copied"))
        txn.commit()
    return record
