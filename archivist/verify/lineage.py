"""Lineage closure: every run names a package, source frames, model and dataset that are here.

Each inference run record is compared with the records it depends on:
the package record (OUT-001), the source element's record for every
output's source frame (OUT-002), the model card (OUT-003) and the dataset
record the card names (OUT-004). The records' hashes against the
manifests are the ``CON`` rules' and the files' against the manifests the
``BAG`` rules', so together they tie every output to the bytes it was made
from. Run completeness (OUT-005, OUT-006) and signed frames without a
credential (C2PA-004) are checked here too.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from archivist.errors import ArchivistError
from archivist.package import kinds, ranges
from archivist.package.layout import Layout
from archivist.verify.findings import differences, listing
from archivist.verify.records import Records
from archivist.verify.report import Report

if TYPE_CHECKING:
    from archivist.verify.outputs import Run

CARD_LABEL = kinds.MODEL_CARD.label
DATASET_LABEL = kinds.DATASET.label


def _record(recs: Records, path: str, label: str) -> dict | None:
    rec = recs.valid.get(path)
    return rec if rec is not None and rec.get("schema") == label else None


def check(runs: list[Run], recs: Records, package_id: str | None, report: Report) -> None:
    for run in runs:
        rec, where = run.rec, run.path
        _place(rec, where, package_id, report)
        _sources(rec, where, recs, report)
        card = _model(rec, where, recs, report)
        _dataset(rec, where, card, recs, report)
        _completeness(rec, where, report)
        if rec["signing"]:
            for entry in rec["frames"]:
                if not entry["credential"]:
                    report.add("C2PA-004", entry["output"]["path"],
                               f"run {rec['id']} was signed, but frame {entry['number']} has no credential")


def _place(rec: dict, where: str, package_id: str | None, report: Report) -> None:
    """OUT-001: the record's own name, its package, and where its outputs lie."""
    problems = []
    try:
        home = Layout.record(kinds.INFERENCE_RUN, rec["id"])
    except ArchivistError:
        home = None
    if home != where:
        problems.append(f"its id is {rec['id']!r}, but it is {where}")
    if package_id is not None:
        said = {"package": rec["package"], "provenance.package": rec["provenance"]["package"]}
        problems += differences(said, {k: package_id for k in said}, "the package is")
    try:
        folder = Layout.stage_dir("outputs", rec["id"]) + "/"
    except ArchivistError:
        folder = None
    away = sorted({ref["path"] for entry in rec["frames"] for ref in _frame_files(entry)
                   if not Layout.classify(ref["path"]).directly_in("outputs", rec["id"])})
    if away:
        problems.append(f"{len(away)} of its output files lie outside {folder or 'its output folder'} (first: "
                        f"{away[0]})")
    if problems:
        report.add("OUT-001", where, listing(problems))


def _frame_files(entry: dict) -> list[dict]:
    """Every file a run record's frame entry names: the output, its sidecars and its credential.

    >>> entry = {"output": {"path": "o.exr"}, "sidecars": {"json": {"path": "o.json"}}, "credential": None}
    >>> [r["path"] for r in _frame_files(entry)]
    ['o.exr', 'o.json']
    """
    refs = [entry["output"], *entry["sidecars"].values()]
    return refs + [entry["credential"]] if entry["credential"] else refs


def _sources(rec: dict, where: str, recs: Records, report: Report) -> None:
    element_id = rec["source"]["element"]
    try:
        element = recs.valid.get(Layout.element_record(element_id))
        if element is None:  # a chain: the outputs of an earlier run, as a derived element
            element = recs.valid.get(Layout.record(kinds.DERIVED_ELEMENT, element_id))
    except ArchivistError:
        element = None
    if element is None or element.get("role") != "source":
        report.add("OUT-002", where, f"run {rec['id']} was made from source element {element_id!r}, which is "
                                     "not a source element of the package")
        return
    frames = {f["path"]: f for f in element["frames"]}
    for entry in rec["frames"]:
        src, out = entry["source"], entry["output"]["path"]
        frame = frames.get(src["path"])
        if frame is None:
            report.add("OUT-002", out, f"made from {src['path']}, which is not a frame of element {element_id}")
        elif frame["sha256"] != src["sha256"]:
            report.add("OUT-002", out, f"made from {src['path']} with SHA-256 {src['sha256'][:16]}..., but element "
                                       f"{element_id}'s frame has {frame['sha256'][:16]}...: the source frame was "
                                       "replaced after the run")
        elif frame.get("number") != entry["number"]:
            report.add("OUT-002", out, f"frame {entry['number']} was made from {src['path']}, which is frame "
                                       f"{frame.get('number')} of element {element_id}")


def _model(rec: dict, where: str, recs: Records, report: Report) -> dict | None:
    model = rec["model"]
    card_path = model["card"]["path"]
    card = _record(recs, card_path, CARD_LABEL)
    diffs = []
    if card is None:
        diffs.append(f"its model card {card_path} is not a valid model card of the package")
    else:
        diffs += differences(
            {"model.id": model["id"], "model.onnx.path": model["onnx"]["path"],
             "model.onnx.sha256": model["onnx"]["sha256"]},
            {"model.id": card["id"], "model.onnx.path": card["model"]["path"],
             "model.onnx.sha256": card["model"]["sha256"]}, f"model card {card_path} says")
    prov = rec["provenance"]["model"]
    diffs += differences(
        {f"provenance.model.{k}": prov.get(k) for k in ("id", "checkpoint", "path", "sha256")},
        {"provenance.model.id": model["id"], "provenance.model.checkpoint": model["checkpoint"],
         "provenance.model.path": model["onnx"]["path"], "provenance.model.sha256": model["onnx"]["sha256"]},
        "model says")
    if diffs:
        report.add("OUT-003", where, listing(diffs))
    return card


def _dataset(rec: dict, where: str, card: dict | None, recs: Records, report: Report) -> None:
    dataset = rec["dataset"]
    diffs = []
    if card is not None:
        try:
            wanted = {"path": Layout.record(kinds.DATASET, card["dataset"]["id"]), "sha256": card["dataset"]["sha256"]}
        except ArchivistError:
            wanted = {"path": None, "sha256": card["dataset"]["sha256"]}
        said = {"path": dataset["path"], "sha256": dataset["sha256"]} if dataset else {}
        diffs += differences({f"dataset.{k}": v for k, v in said.items()},
                             {f"dataset.{k}": v for k, v in wanted.items()}, "the model card says")
    if dataset and _record(recs, dataset["path"], DATASET_LABEL) is None:
        diffs.append(f"its dataset record {dataset['path']} is not a valid dataset record of the package")
    if diffs:
        report.add("OUT-004", where, listing(diffs))


def _completeness(rec: dict, where: str, report: Report) -> None:
    numbers = Counter(e["number"] for e in rec["frames"])
    planned = set(rec["planned_frames"])
    if rec["status"] == "running":
        report.add("OUT-006", where, f"run {rec['id']} is not finished: {len(planned & set(numbers))} of "
                                     f"{len(planned)} planned frames have outputs")
        return
    missing = planned - set(numbers)
    twice = [n for n, c in numbers.items() if c > 1]
    extra = set(numbers) - planned
    problems = []
    if missing:
        problems.append(f"no output for planned frame{'s' if len(missing) > 1 else ''} {ranges.show(missing)}")
    if twice:
        problems.append(f"frame{'s' if len(twice) > 1 else ''} {ranges.show(twice)} listed more than once")
    if extra:
        problems.append(f"frame{'s' if len(extra) > 1 else ''} {ranges.show(extra)} not planned")
    if problems:
        report.add("OUT-005", where, f"run {rec['id']} is complete, but " + "; ".join(problems))
