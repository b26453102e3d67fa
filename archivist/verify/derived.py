"""Derived elements: each one against the inference run whose outputs it names.

A derived element (``data/records/derived/<id>.json``) is the outputs of one
complete run used as an element of a later stage. It must name a run of the
package that is complete, the run record as it was when the element was
derived (by SHA-256), the run's model and source element (DER-001), and
exactly the run's output frames, each with the SHA-256 and parent frame the
run recorded (DER-002). With OUT-002 (a later run's source frames are the
element's frames) this closes the chain frame by frame back to the scan.
"""

from __future__ import annotations

from collections.abc import Mapping

from archivist.errors import ArchivistError
from archivist.package import kinds
from archivist.package.layout import Layout
from archivist.verify.findings import differences, listing
from archivist.verify.records import Records
from archivist.verify.report import Report

LABEL = kinds.DERIVED_ELEMENT.label
RUN_LABEL = kinds.INFERENCE_RUN.label


def check(recs: Records, manifest: Mapping[str, str], report: Report) -> None:
    """DER-001 and DER-002 for every valid derived element record."""
    for path, rec in sorted(recs.valid.items()):
        if rec.get("schema") != LABEL:
            continue
        src = rec["derived_from"]
        try:
            run_path = Layout.record(kinds.INFERENCE_RUN, src["run"])
        except ArchivistError:
            run_path = ""
        run = recs.valid.get(run_path) if run_path else None
        if run is None or run.get("schema") != RUN_LABEL:
            report.add("DER-001", path, f"derived element {rec['id']} names inference run {src['run']!r}, which is "
                                        "not a valid run record of the package")
            continue
        problems = []
        if run["status"] != "complete":
            problems.append(f"run {run['id']} is {run['status']}, not complete")
        if src["record"]["path"] != run_path:
            problems.append(f"its run record is {src['record']['path']}, run {run['id']}'s is {run_path}")
        elif manifest.get(run_path) != src["record"]["sha256"]:
            problems.append(f"run record {run_path} has changed since the element was derived (SHA-256 "
                            f"{str(manifest.get(run_path))[:16]}..., the element says {src['record']['sha256'][:16]}...)")
        problems += differences(
            {"derived_from.model.id": src["model"]["id"], "derived_from.model.path": src["model"]["path"],
             "derived_from.model.sha256": src["model"]["sha256"], "derived_from.element": src["element"]},
            {"derived_from.model.id": run["model"]["id"], "derived_from.model.path": run["model"]["onnx"]["path"],
             "derived_from.model.sha256": run["model"]["onnx"]["sha256"], "derived_from.element": run["source"]["element"]},
            f"run {run['id']} says")
        if problems:
            report.add("DER-001", path, listing(problems))
        _frames(path, rec, run, report)


def _frames(path: str, rec: dict, run: dict, report: Report) -> None:
    outputs = {f["number"]: f for f in run["frames"]}
    mine = {f["number"]: f for f in rec["frames"]}
    for n in sorted(set(mine) - set(outputs)):
        report.add("DER-002", mine[n]["path"], f"derived element {rec['id']} lists frame {n}, which run {run['id']} "
                                              "has no output for")
    missing = sorted(set(outputs) - set(mine))
    if missing:
        report.add("DER-002", path, f"derived element {rec['id']} leaves out {len(missing)} output frame(s) of run "
                                    f"{run['id']} (first: {missing[0]})")
    for n in sorted(set(mine) & set(outputs)):
        f, out = mine[n], outputs[n]
        wanted = {"path": out["output"]["path"], "sha256": out["output"]["sha256"], "size": out["output"]["size"],
                  "parent.path": out["source"]["path"], "parent.sha256": out["source"]["sha256"]}
        said = {"path": f["path"], "sha256": f["sha256"], "size": f["size"], "parent.path": f["parent"]["path"],
                "parent.sha256": f["parent"]["sha256"]}
        diffs = differences(said, wanted, f"run {run['id']} says")
        if diffs:
            report.add("DER-002", f["path"], f"frame {n} of derived element {rec['id']}: " + listing(diffs))
