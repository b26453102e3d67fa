"""``archivist qc`` on the quick demo's package (a non-uniform fade): numbers, files, verdict and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import PyOpenColorIO as ocio
import pytest
from conftest import run_cli
from helpers_package import snapshot
from helpers_qc import quick_demo  # noqa: F401 (fixture)

from archivist import dataset, verify
from archivist.dataset.preprocess import Crop, apply_crop
from archivist.errors import ArchivistError
from archivist.imaging import colour, oiio
from archivist.package import Package
from archivist.qc import compare, inputs, logspace, lut
from archivist.qc import run as qc_run


def qc_record(out, summary) -> dict:
    return json.loads((out / "package" / "data" / "records" / "qc" / f"{summary['qc_id']}.json").read_text())


def test_ml_beats_the_lut_baseline_on_held_out_frames_of_a_non_uniform_fade(quick_demo):  # noqa: F811
    out, summary = quick_demo
    rec = qc_record(out, summary)
    assert summary["config"]["fade"]["uniform"] is False
    gt = rec["summary"]["ground_truth"]
    ml, base, src = (gt[c]["ciede2000"]["mean"] for c in ("ml", "baseline", "source"))
    assert ml < base < src
    v = rec["verdict"]
    assert v["ml_beats_baseline"] is True and v["improvement"] == pytest.approx(base - ml)
    assert set(v["frames_ml_better"]) | set(v["frames_ml_not_better"]) == set(rec["dataset"]["held_out"])
    assert "the ML result is closer to the ground truth than the LUT baseline" in v["statement"]
    # The model keeps the scan's luma (chroma mode) and the record says so.
    assert gt["ml"]["luma_unchanged"] is True and gt["source"]["luma_max_change"] == 0.0


def test_verdicts_follow_from_the_per_frame_numbers(quick_demo):  # noqa: F811
    rec = qc_record(*quick_demo)
    for key, basis in (("verdict", "ground_truth"), ("verdict_original", "original")):
        v = rec[key]
        assert v["basis"] == basis
        per = {f["number"]: f[basis] for f in rec["frames"]}
        worse = sorted(n for n, m in per.items() if not m["ml"]["ciede2000"]["mean"] < m["baseline"]["ciede2000"]["mean"])
        assert sorted(v["frames_ml_not_better"]) == worse
        means = {c: np.mean([m[c]["ciede2000"]["mean"] for m in per.values()]) for c in ("ml", "baseline")}
        assert v["ml"] == pytest.approx(means["ml"]) and v["baseline"] == pytest.approx(means["baseline"])
        assert v["ml_beats_baseline"] == (v["ml"] < v["baseline"])
        assert v["noticeable"] == (abs(v["improvement"]) >= v["jnd"])


def test_held_out_frames_were_never_trained_on_and_every_one_has_a_strip(quick_demo):  # noqa: F811
    out, summary = quick_demo
    rec = qc_record(out, summary)
    pkg = Package.open(out / "package")
    ds, _ = dataset.load(pkg, rec["dataset"]["id"])
    assert rec["dataset"]["pairs"] == [p["source"]["number"] for p in ds["pairs"]]
    assert rec["dataset"]["held_out"] == [p["source"]["number"] for p in ds["holdout"]]
    assert not set(rec["dataset"]["pairs"]) & set(rec["dataset"]["held_out"])
    manifest = pkg.manifest("sha256")
    for f in rec["frames"]:
        assert manifest[f["strip"]["path"]] == f["strip"]["sha256"]
        strip = oiio.read(pkg.layout.path(f["strip"]["path"]))
        assert strip.shape[1] > 5 * strip.shape[0]  # panels side by side
    assert manifest[rec["loss_curve"]["path"]] == rec["loss_curve"]["sha256"]
    assert manifest[rec["baseline"]["lut"]["path"]] == rec["baseline"]["lut"]["sha256"]


def test_the_cube_in_the_package_reproduces_the_recorded_baseline_through_opencolorio(quick_demo, tmp_path):  # noqa: F811
    """An independent reader (OpenColorIO), the .cube and the ACEScct recipe in the record give the same numbers."""
    out, summary = quick_demo
    rec = qc_record(out, summary)
    pkg = Package.open(out / "package")
    cube = pkg.layout.path(rec["baseline"]["lut"]["path"])
    text = cube.read_text()
    assert "APPLIES IN ACEScct" in text and f"LUT_3D_SIZE {rec['baseline']['size']}" in text
    assert lut.loads_cube(cube.read_bytes()).size == 33
    space = rec["colour"]["space"]
    cfg = ocio.Config.CreateFromFile(rec["colour"]["config"])
    group = ocio.GroupTransform([
        ocio.ColorSpaceTransform(src=space, dst="ACEScct"),
        ocio.FileTransform(src=str(cube), interpolation=ocio.INTERP_LINEAR),
        ocio.ColorSpaceTransform(src="ACEScct", dst=space)])
    proc = cfg.getProcessor(group).getDefaultCPUProcessor()
    ds, _ = dataset.load(pkg, rec["dataset"]["id"])
    kr, kb = ds["colour"]["kr"], ds["colour"]["kb"]
    for entry, frame in zip(ds["holdout"], rec["frames"]):
        src, ref = dataset.pair_arrays(pkg, ds, entry)
        truth = colour.ycbcr_to_rgb(np.concatenate([colour.rgb_to_ycbcr(src.astype(np.float64), kr, kb)[..., :1],
                                                    colour.rgb_to_ycbcr(ref.astype(np.float64), kr, kb)[..., 1:]], -1),
                                    kr, kb)
        truth = np.clip(truth, 0, 1)
        base = np.ascontiguousarray(src, np.float32).copy()
        proc.applyRGB(base)
        ycc = colour.rgb_to_ycbcr(base.astype(np.float64), kr, kb)
        ycc[..., 0] = colour.luma(src.astype(np.float64), kr, kb)  # the record says the baseline keeps the scan's luma
        base = colour.ycbcr_to_rgb(ycc, kr, kb)
        de = compare.metrics.delta_e_2000(compare.lab(base, space), compare.lab(truth, space)).mean()
        assert de == pytest.approx(frame["ground_truth"]["baseline"]["ciede2000"]["mean"], abs=0.02)


def test_ml_numbers_are_measured_on_the_archived_outputs(quick_demo):  # noqa: F811
    out, summary = quick_demo
    rec = qc_record(out, summary)
    pkg = Package.open(out / "package")
    ds, _ = dataset.load(pkg, rec["dataset"]["id"])
    inf = json.loads(pkg.layout.path(rec["inference"]["record"]["path"]).read_bytes())
    conv = inf["settings"]["colour"]["conversion"]
    frame, entry = rec["frames"][0], ds["holdout"][0]
    ml = apply_crop(logspace.undo_recorded(oiio.read(pkg.layout.path(frame["output"]["path"]), 3), conv),
                    Crop(**ds["crop"]))
    src, ref = dataset.pair_arrays(pkg, ds, entry)
    ctx = inputs.context(pkg, rec["inference"]["id"])
    de = compare.metrics.delta_e_2000(compare.lab(ml, ctx.space), compare.lab(ctx.target(src, ref), ctx.space)).mean()
    assert de == pytest.approx(frame["ground_truth"]["ml"]["ciede2000"]["mean"], rel=1e-5)


def test_qc_refuses_altered_outputs_and_leaves_the_package_as_it_was(quick_demo, tmp_path):  # noqa: F811
    out, summary = quick_demo
    root = tmp_path / "pkg"
    shutil.copytree(out / "package", root)
    rec = qc_record(out, summary)
    target = root / rec["frames"][0]["output"]["path"]
    data = bytearray(target.read_bytes())
    data[-10] ^= 0x01
    target.write_bytes(bytes(data))
    before = snapshot(root)
    with pytest.raises(ArchivistError) as info:
        qc_run.run_qc(Package.open(root))
    assert info.value.code == "QC-HASH"
    assert snapshot(root) == before


def test_qc_needs_an_inference_run(package):
    before = snapshot(package.root)
    with pytest.raises(ArchivistError) as info:
        qc_run.run_qc(package)
    assert info.value.code == "QC-NO-RUN"
    assert snapshot(package.root) == before


def test_qc_cli_second_run_with_other_settings_and_an_existing_id(quick_demo, tmp_path):  # noqa: F811
    out, summary = quick_demo
    root = tmp_path / "pkg"
    shutil.copytree(out / "package", root)
    (root / "tagmanifest-sha256.c2pa").unlink()  # the seal signs one state; a new QC makes another
    proc = run_cli("qc", root, "--id", "qc-tetra", "--lut-size", "17", "--interpolation", "tetrahedral",
                   "--fail-if-worse", "--json")
    rec = json.loads(proc.stdout)
    assert proc.returncode == (0 if rec["verdict"]["ml_beats_baseline"] else 1), proc.stderr
    assert rec["id"] == "qc-tetra" and rec["baseline"]["size"] == 17 and "original" not in rec["summary"]
    assert rec["baseline"]["settings"]["interpolation"] == "tetrahedral"
    assert lut.loads_cube((root / rec["baseline"]["lut"]["path"]).read_bytes()).size == 17
    before = snapshot(root)
    proc = run_cli("qc", root, "--id", "qc-tetra")
    assert proc.returncode == 2 and "QC-EXISTS" in proc.stderr
    assert snapshot(root) == before
    assert verify.verify(root).ok
