"""The registry of record kinds, and Layout's classification of package paths."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from archivist.package import kinds, records
from archivist.package.layout import RESERVED_DIRS, Layout

REPO = Path(__file__).resolve().parents[1]


def _schema_files() -> set[str]:
    return {e.name for e in resources.files("archivist.schemas").iterdir() if e.name.endswith(".schema.json")}


def test_every_kind_has_its_schema_and_every_schema_a_kind():
    files = _schema_files()
    for kind in kinds.ALL:
        assert kind.schema_file in files, kind
        schema = json.loads(resources.files("archivist.schemas").joinpath(kind.schema_file).read_text("utf-8"))
        assert schema["properties"]["schema"]["const"] == kind.label
        assert records.schema_file(kind.label) == kind.schema_file
    assert files - {k.schema_file for k in kinds.ALL} == {"common-1.schema.json"}  # shared definitions only


def test_kinds_are_found_by_label_folder_path_and_stage():
    assert len({k.label for k in kinds.ALL}) == len(kinds.ALL)
    for kind in kinds.ALL:
        assert kinds.by_label(kind.label) is kind
        if kind.folder:
            assert kinds.by_folder(kind.folder) is kind and kinds.of(kind.folder) is kind
        if kind.path:
            assert kinds.by_path(kind.path) is kind and Layout.classify(kind.path).kind is kind
        if kind.describes:
            assert f"data/{kind.describes}" in RESERVED_DIRS and kinds.by_stage(kind.describes) is kind
    assert kinds.by_label("archivist/inference-run/2") is None
    assert (Layout.PACKAGE_RECORD, Layout.EVENT_LOG) == (kinds.PACKAGE.path, kinds.EVENT.path)


def test_layout_refuses_an_unknown_kind():
    assert Layout.record(kinds.QC, "qc-01") == Layout.record("qc", "qc-01") == "data/records/qc/qc-01.json"
    for bad in ("outputs", "elements/../x", "inference-run", ""):
        with pytest.raises(ValueError, match="unknown record kind"):
            Layout.record(bad, "x")


def test_no_module_spells_a_schema_label_but_the_registry():
    label = re.compile(r'"archivist/[a-z][a-z0-9-]*/[0-9]+"')
    spelled = sorted(str(p.relative_to(REPO)) for p in (REPO / "archivist").rglob("*.py")
                     if label.search(p.read_text("utf-8")) and p.name != "kinds.py")
    assert spelled == []


RUN, RUN_RECORD = "infer-01", "data/records/inference/infer-01.json"


@pytest.mark.parametrize(("path", "area", "what", "kind", "ident", "record"), [
    ("data/outputs/infer-01/print16_ML.1001.exr", "outputs", "output-frame", None, RUN, RUN_RECORD),
    ("data/outputs/infer-01/print16_ML.1001.json", "outputs", "sidecar", kinds.OUTPUT_SIDECAR, RUN, RUN_RECORD),
    ("data/outputs/infer-01/print16_ML.1001.txt", "outputs", "sidecar", None, RUN, RUN_RECORD),
    ("data/outputs/infer-01/print16_ML.1001.xmp", "outputs", "sidecar", None, RUN, RUN_RECORD),
    ("data/outputs/infer-01/print16_ML.1001.c2pa", "outputs", "credential", None, RUN, RUN_RECORD),
    (RUN_RECORD, "records", "record", kinds.INFERENCE_RUN, RUN, RUN_RECORD),
    ("data/records/package.json", "records", "record", kinds.PACKAGE, None, "data/records/package.json"),
    ("data/records/events.jsonl", "records", "event-log", kinds.EVENT, None, "data/records/events.jsonl"),
    ("data/records/elements/print16.json", "records", "record", kinds.ELEMENT, "print16",
     "data/records/elements/print16.json"),
    ("data/records/elements/nested/print16.json", "records", "record", kinds.ELEMENT, None,
     "data/records/elements/nested/print16.json"),
    ("data/records/notes/x.json", "records", "record", None, None, "data/records/notes/x.json"),
    ("data/records/notes.txt", "records", "file", None, None, None),
    ("data/sources/print16/shot.1001.exr", "sources", "frame", None, "print16", "data/records/elements/print16.json"),
    ("data/references/dvd/dvd.0001.png", "references", "frame", None, "dvd", "data/records/elements/dvd.json"),
    ("data/training/train-01/checkpoints/step-0000006.safetensors", "training", "checkpoint", None, "train-01",
     "data/records/training/train-01.json"),
    ("data/training/train-01/loss.jsonl", "training", "loss-log", None, "train-01",
     "data/records/training/train-01.json"),
    ("data/training/train-01/contact/step-0000006.png", "training", "contact-sheet", None, "train-01",
     "data/records/training/train-01.json"),
    ("data/models/m-01/model.onnx", "models", "model", None, "m-01", "data/records/models/m-01.json"),
    ("data/models/m-01/training-run.json", "models", "record", kinds.TRAINING_RUN, "m-01",
     "data/records/models/m-01.json"),
    ("data/dataset/ds-01/aligned/dvd.0001.exr", "dataset", "aligned-reference", None, "ds-01",
     "data/records/datasets/ds-01.json"),
    ("data/dataset/ds-01/previews/print16.0001.png", "dataset", "preview", None, "ds-01",
     "data/records/datasets/ds-01.json"),
    ("data/qc/qc-01/strip.1001.png", "qc", "file", None, "qc-01", "data/records/qc/qc-01.json"),
    ("data/stray.c2pa", "payload", "credential", None, None, None),
    ("data/elsewhere/x.exr", "payload", "file", None, None, None),
    ("data/outputs/bad id/x.exr", "outputs", "file", None, None, None),
    ("data/outputs/infer-01", "outputs", "file", None, None, None),
    ("bag-info.txt", "tag", "tag", None, None, None),
    ("tagmanifest-sha256.c2pa", "tag", "seal", None, None, None),
    (".archivist/journal.json", "work", "file", None, None, None),
])
def test_classify(path, area, what, kind, ident, record):
    place = Layout.classify(path)
    assert (place.path, place.area, place.what, place.kind, place.ident, place.record) == \
        (path, area, what, kind, ident, record)
    assert Layout.is_payload(path) == (area not in ("tag", "work"))


def test_classify_agrees_with_the_paths_layout_builds():
    built = {
        Layout.output_file(RUN, "f.1001.exr"): ("output-frame", RUN),
        Layout.checkpoint("train-01", 100): ("checkpoint", "train-01"),
        Layout.loss_log("train-01"): ("loss-log", "train-01"),
        Layout.contact_sheet("train-01", 100): ("contact-sheet", "train-01"),
        Layout.onnx_model("m-01"): ("model", "m-01"),
        Layout.model_training_record("m-01"): ("record", "m-01"),
        Layout.aligned_reference("ds-01", "dvd", 1): ("aligned-reference", "ds-01"),
        Layout.dataset_preview("ds-01", "print16", 1): ("preview", "ds-01"),
        Layout.frame("source", "print16", "f.0001.exr"): ("frame", "print16"),
        Layout.element_record("print16"): ("record", "print16"),
        Layout.qc_file("qc-01", "lut.cube"): ("file", "qc-01"),
    }
    for kind in kinds.ALL:
        if kind.folder:
            built[Layout.record(kind, "x-01")] = ("record", "x-01")
    for path, (what, ident) in built.items():
        place = Layout.classify(path)
        assert (place.what, place.ident) == (what, ident), path


def test_classify_never_raises_on_hostile_names():
    for path in ("data/records/elements/..json", "data/outputs/../x", "data/\udce9/x", "", "data", "data/",
                 "data/records/inference/.json", "data/sources/a/b/c/d.exr"):
        place = Layout.classify(path)
        assert place.path == path and place.record is None or place.record.startswith("data/records/")


def test_a_file_lies_directly_in_its_folder_or_not():
    inside = Layout.classify("data/outputs/infer-01/f.1001.exr")
    assert inside.rest == "f.1001.exr" and inside.directly_in("outputs", "infer-01")
    assert not inside.directly_in("outputs", "infer-02") and not inside.directly_in("sources", "infer-01")
    nested = Layout.classify("data/training/train-01/checkpoints/step-0000006.safetensors")
    assert nested.rest == "checkpoints/step-0000006.safetensors" and not nested.directly_in("training", "train-01")
    assert not Layout.classify("data/sources/print16/old/f.0001.exr").directly_in("sources", "print16")
    assert not Layout.classify("data/records/inference/infer-01.json").directly_in("outputs", "infer-01")


def test_verify_expects_each_record_to_carry_its_folders_label(package):
    from support.verify import refresh, rehash

    from archivist.verify import verify

    root = package.root
    assert verify(root).ok
    moved = Layout.record(kinds.DATASET, "ds-01")  # an element record where dataset records live
    (root / moved).parent.mkdir(parents=True)
    (root / moved).write_bytes((root / Layout.element_record("print16")).read_bytes())
    rehash(root, moved)
    refresh(root)
    found = [(p.code, p.path, p.message) for p in verify(root).problems if p.code == "REC-002"]
    assert [(c, p) for c, p, _ in found] == [("REC-002", moved)]
    assert "expected 'archivist/dataset/1'" in found[0][2]


def test_a_package_lists_records_of_known_kinds_only(package):
    assert package.record_ids(kinds.DATASET) == package.record_ids("datasets") == []
    assert package.next_id(kinds.INFERENCE_RUN, "infer") == "infer-01"
    for bad in ("outputs", kinds.PACKAGE):
        with pytest.raises(ValueError):
            package.record_ids(bad)
