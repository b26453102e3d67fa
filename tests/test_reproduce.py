"""archivist reproduce: bit-identical with the same backend, within tolerance with another, and a named
failure (exit 1) after a flipped byte in an output or a replaced source frame; the package never changes
unless --record is given."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.common import run_cli
from support.infer import build_model_package, model_package_copy, package_files

from archivist.imaging import oiio
from archivist.inference import reproduce, runner
from archivist.package import Package
from archivist.package.layout import Layout
from archivist.package.transaction import Transaction


@pytest.fixture
def inferred(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    runner.infer(root, runner.InferOptions(frames="1001-1003"))
    return root


def test_untouched_package_reproduces_bit_for_bit(inferred):
    before = package_files(inferred)
    report = reproduce.reproduce(inferred)
    assert report["ok"] and report["expectation"] == "bit-identical" and report["checked"] == 3
    for f in report["frames"]:
        assert f["ok"] and f["comparison"]["identical"] and f["bytes_identical"]
    assert package_files(inferred) == before  # nothing written, not even an event


def test_another_backend_agrees_within_the_recorded_tolerance(inferred):
    report = reproduce.reproduce(inferred, backend="torch-cpu", sample=2)
    assert report["ok"], report
    assert report["expectation"] == "within tolerance" and [f["number"] for f in report["frames"]] == [1001, 1003]
    for f in report["frames"]:
        assert f["comparison"]["mode"] == "tolerance" and f["comparison"]["passed"]


def test_a_flipped_byte_in_an_output_fails_that_frame(inferred):
    pkg = Package.open(inferred)
    rec = pkg.read_record(Layout.record("inference", "infer-01"), runner.LABEL)
    exr = inferred / rec["frames"][1]["output"]["path"]
    data = bytearray(exr.read_bytes())
    data[len(data) // 2] ^= 0x10  # in the pixel data
    exr.write_bytes(bytes(data))
    proc = run_cli("reproduce", inferred, "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["failed"] == [1002]
    bad = next(f for f in report["frames"] if f["number"] == 1002)
    assert any("has changed" in p for p in bad["problems"])
    text = run_cli("reproduce", inferred, "--frames", "1002")
    assert text.returncode == 1 and "frame 1002: FAILED" in text.stdout


def test_a_replaced_source_frame_fails_that_frame(inferred):
    """The source is swapped through a transaction, so the bag itself stays valid: only the lineage breaks."""
    pkg = Package.open(inferred)
    src = pkg.element("print16")["frames"][2]  # frame 1003
    other = oiio.read(inferred / pkg.element("print16")["frames"][0]["path"])
    tmp = inferred.parent / "replacement.exr"
    oiio.write(tmp, np.ascontiguousarray(other[:, ::-1]), pixel_type="half", compression="piz")
    with Transaction(inferred, "test") as txn:
        txn.write_bytes(src["path"], tmp.read_bytes(), replace=True)
        txn.commit()
    report = reproduce.reproduce(inferred)
    assert not report["ok"] and report["failed"] == [1003]
    bad = report["frames"][2]
    assert any("not the frame the run used" in p for p in bad["problems"])
    assert any("pixels differ" in p for p in bad["problems"])


def test_record_appends_one_validation_event_only(inferred):
    before = Package.open(inferred).events()
    report = reproduce.reproduce(inferred, frames="1001", record=True)
    after = Package.open(inferred).events()
    assert report["ok"] and len(after) == len(before) + 1
    event = after[-1]
    assert event["command"] == "reproduce" and event["type"] == "validation" and event["outcome"] == "success"
    assert event["objects"][0]["path"] == Layout.record("inference", "infer-01")
    outputs = package_files(inferred / "data" / "outputs")
    reproduce.reproduce(inferred, frames="1001")
    assert package_files(inferred / "data" / "outputs") == outputs


def test_a_tiled_run_reproduces_with_its_own_tiling(tmp_path):
    # A spatial model: the chroma model's frame field makes it a whole-frame model, which is never tiled.
    root = build_model_package(tmp_path / "pkg", mode="spatial").root
    result = runner.infer(root, runner.InferOptions(frames="1001-1002", tile=48, overlap=8))
    rec = Package.open(root).read_record(Layout.record("inference", result["run"]), runner.LABEL)
    tiling = rec["settings"]["tiling"]
    assert tiling["tile"] == 48 and tiling["align"] == 4 and tiling["exact"] is False  # radius > 8 / 2
    report = reproduce.reproduce(root)
    assert report["ok"] and all(f["comparison"]["identical"] for f in report["frames"])
    # Close to an untiled run of the same frames (this short-trained model barely uses its context).
    untiled = runner.infer(root, runner.InferOptions(frames="1001-1002", run="whole"))
    whole = Package.open(root).read_record(Layout.record("inference", untiled["run"]), runner.LABEL)
    for a, b in zip(rec["frames"], whole["frames"]):
        ta, tb = oiio.read(root / a["output"]["path"]), oiio.read(root / b["output"]["path"])
        assert np.abs(ta - tb).max() < 2e-3


def test_a_torch_run_records_its_parity_check_and_reproduces(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    result = runner.infer(root, runner.InferOptions(frames="1001-1002", backend="torch-cpu", threads=1))
    rec = Package.open(root).read_record(Layout.record("inference", result["run"]), runner.LABEL)
    assert rec["backend"]["name"] == "torch-cpu" and rec["backend"]["engine"]["name"] == "torch"
    assert rec["parity"]["passed"] and rec["parity"]["reference"] == "ort-cpu"
    assert rec["sessions"][0]["parity"] == rec["parity"]
    same = reproduce.reproduce(root, threads=1)
    assert same["ok"] and same["backend"] == "torch-cpu" and same["expectation"] == "bit-identical"
    other = reproduce.reproduce(root, backend="ort-cpu")
    assert other["ok"] and other["expectation"] == "within tolerance"
