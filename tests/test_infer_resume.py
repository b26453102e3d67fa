"""A killed archivist infer leaves a valid package and resumes: committed frames are re-hashed and skipped,
finished-but-uncommitted frames are taken as they are, half-written ones are made again."""

from __future__ import annotations

import json
import signal

import bagit
import pytest
from support.common import run_cli
from support.infer import model_package_copy, package_files

from archivist.inference import backends, runner, task
from archivist.package import Package
from archivist.package.layout import Layout
from archivist.package.transaction import FAULT_ENV

EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


def _committed(root) -> list[int]:
    rec = Package.open(root).read_record(Layout.record("inference", "infer-01"), runner.LABEL)
    return [f["number"] for f in rec["frames"]]


def test_killed_runs_resume_and_match_an_uninterrupted_run(tmp_path_factory, tmp_path, monkeypatch):
    root = model_package_copy(tmp_path_factory, tmp_path / "killed")
    args = ["infer", root, "--commit-every", "1", "--queue-depth", "1", "--json"]
    scratch = root / Layout.run_scratch("infer-01")

    # 1. Killed after frame 1002 is finished in the scratch directory, before it is committed.
    p = run_cli(*args, env={**EPOCH, FAULT_ENV: "infer-frame-stored-1002"})
    assert p.returncode == -signal.SIGKILL
    assert _committed(root) == [1001]
    assert (scratch / "print16_ML.1002.done.json").is_file()
    bagit.Bag(str(root)).validate()  # the bag is valid at every moment

    # 2. Resumed, and killed again half-way through writing frame 1003 (the EXR is not yet renamed into place).
    p = run_cli(*args, env={**EPOCH, FAULT_ENV: "infer-exr-written-1003"})
    assert p.returncode == -signal.SIGKILL
    assert _committed(root) == [1001, 1002]
    assert list(scratch.glob(".print16_ML.1003.tmp-*.exr")) and not (scratch / "print16_ML.1003.done.json").exists()
    bagit.Bag(str(root)).validate()

    # 3. Resumed to the end: 1001 and 1002 skipped after re-hashing, the half-written 1003 made again.
    p = run_cli(*args, env=EPOCH)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["resumed"] and out["status"] == "complete"
    assert out["skipped_frames"] == [1001, 1002] and out["reused_frames"] == [] and out["frames"]["computed"] == 2
    assert not (root / ".archivist").exists()
    rec = Package.open(root).read_record(Layout.record("inference", "infer-01"), runner.LABEL)
    assert [s["resumed"] for s in rec["sessions"]] == [False, True, True]
    assert rec["sessions"][-1]["frames_skipped"] == 2
    details = [e["detail"] for e in Package.open(root).events() if e["command"] == "infer"]
    assert sum("resumed" in d for d in details) == 2

    # The same frames, byte for byte, as a run that was never interrupted.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    clean = model_package_copy(tmp_path_factory, tmp_path / "clean")
    runner.infer(clean, runner.InferOptions(commit_every=1, queue_depth=1))
    assert package_files(root / "data" / "outputs") == package_files(clean / "data" / "outputs")
    assert run_cli("verify", root).returncode == 0


def test_a_frame_whose_file_changed_after_its_marker_is_not_done(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    rec = runner.infer(root, runner.InferOptions(frames="1001"))
    pkg = Package.open(root)
    run = pkg.read_record(Layout.record("inference", rec["run"]), runner.LABEL)
    spec = runner.spec_from_record(root, run, tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    job = runner.frame_jobs(pkg.element("print16"), [1002])[0]
    engine = backends.create("ort-cpu", (root / run["model"]["onnx"]["path"]).read_bytes())
    result = task.run_frame(spec, job, engine)
    assert task.completed(spec, job) is not None
    exr = tmp_path / "scratch" / result.files["exr"]["name"]
    exr.write_bytes(exr.read_bytes()[:-10])  # cut short after the marker was written
    assert task.completed(spec, job) is None
    task.discard(spec, job.number)
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == []


def test_half_written_files_are_swept_once_and_finished_frames_kept(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    rec = runner.infer(root, runner.InferOptions(frames="1001"))
    pkg = Package.open(root)
    run = pkg.read_record(Layout.record("inference", rec["run"]), runner.LABEL)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    spec = runner.spec_from_record(root, run, scratch)
    job = runner.frame_jobs(pkg.element("print16"), [1002])[0]
    engine = backends.create("ort-cpu", (root / run["model"]["onnx"]["path"]).read_bytes())
    task.run_frame(spec, job, engine)
    finished = sorted(p.name for p in scratch.iterdir())
    left = [".print16_ML.1003.tmp-4242.exr", ".print16_ML.1003.json.tmp-4242", ".print16_ML.1004.c2pa.tmp-7"]
    for name in left:
        (scratch / name).write_bytes(b"half")
    (scratch / "lock").write_bytes(b"")
    task.discard(spec, 1003, temporaries=False)  # a frame's own names only: no scan
    assert (scratch / left[0]).exists()
    assert task.sweep(spec) == 3
    assert sorted(p.name for p in scratch.iterdir()) == sorted([*finished, "lock"])
    assert task.completed(spec, job) is not None


def test_committed_outputs_that_changed_stop_a_resume(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    p = run_cli("infer", root, "--commit-every", "1", "--queue-depth", "1",
                env={FAULT_ENV: "infer-frame-stored-1002"})
    assert p.returncode == -signal.SIGKILL
    exr = next((root / "data/outputs/infer-01").glob("*.1001.exr"))
    exr.write_bytes(exr.read_bytes()[:-1] + bytes([exr.read_bytes()[-1] ^ 1]))
    before = package_files(root)
    with pytest.raises(Exception) as exc:
        runner.infer(root, runner.InferOptions(commit_every=1, queue_depth=1))
    assert getattr(exc.value, "code", None) == "INFER-OUTPUT-ALTERED" and "1001" in exc.value.message
    assert package_files(root) == before
