"""The CPU's instruction-set level in training and inference records, and reproduce on another level."""

from __future__ import annotations

import pytest
import torch
from support.infer import model_package_copy, package_files
from support.train import make_package

from archivist import machine
from archivist.cli import infer_cmd
from archivist.inference import reproduce, runner
from archivist.package import Package, records
from archivist.package.layout import Layout
from archivist.training import run as training


@pytest.fixture
def inferred(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    runner.infer(root, runner.InferOptions(frames="1001-1002"))
    return root


def _run_record(root) -> dict:
    return Package.open(root).read_record(Layout.record("inference", "infer-01"), runner.LABEL)


def test_the_inference_record_holds_the_level_and_reproduce_expects_bits_on_the_same_one(inferred):
    rec = _run_record(inferred)
    m = rec["machine"]
    assert m["torch"] == torch.backends.cpu.get_cpu_capability()
    assert m["onnxruntime"] is None and "reports no" in m["onnxruntime_basis"]  # says what stands for it
    assert m["level"] and set(m["features"]) <= set(machine.FEATURES)
    assert records.problems(rec, runner.LABEL) == []
    report = reproduce.reproduce(inferred)
    assert report["ok"] and report["expectation"] == "bit-identical"
    assert report["instruction_set"]["same"] is True and report["instruction_set"]["differences"] == []


def test_reproduce_on_another_level_says_so_and_judges_within_the_tolerance(inferred, monkeypatch, capsys):
    here = machine.cpu_facts()
    other = {**here, "torch": "AVX512" if here["torch"] != "AVX512" else "AVX2",
             "level": "avx512" if here["level"] != "avx512" else "avx2"}
    monkeypatch.setattr(machine, "cpu_facts", lambda: other)
    before = package_files(inferred)
    report = reproduce.reproduce(inferred)
    assert report["ok"], report
    assert report["expectation"] == "within tolerance"
    diffs = report["instruction_set"]["differences"]
    assert report["instruction_set"]["same"] is False and len(diffs) == 2
    assert f"recorded {here['level']}" in diffs[1]
    for f in report["frames"]:
        assert f["comparison"]["mode"] == "tolerance" and f["comparison"]["passed"]
    assert package_files(inferred) == before
    infer_cmd._print_reproduce(report)
    out = capsys.readouterr().out
    assert "another instruction set than the run's" in out and "within the recorded tolerance" in out


def test_a_run_recorded_without_the_level_is_compared_as_before(inferred):
    rec = _run_record(inferred)
    rec.pop("machine")
    isa = reproduce.instruction_set(rec)
    assert isa["recorded"] is None and isa["same"] is None and isa["differences"] == []
    assert records.problems(rec, runner.LABEL) == []  # the property is optional: old records stay valid


def test_the_training_record_holds_the_level_beside_threads(tmp_path):
    pkg = make_package(tmp_path)
    rec = training.train(pkg, training.TrainSettings(mode="chroma", size="small", steps=2, batch=1, patch=32,
                                                     checkpoint_every=2, contact_every=0, threads=1))
    for env in (rec["environment"], rec["sessions"][-1]["environment"]):
        assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
        assert env["cpu_level"] == machine.cpu_facts()["level"]
    assert rec["settings"]["threads"] == rec["sessions"][-1]["threads"] == 1
    assert records.problems(rec, training.LABEL) == []
