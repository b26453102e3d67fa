"""``archivist qc`` on the quick demo's package (a non-uniform fade): numbers, files, verdict and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import PyOpenColorIO as ocio
import pytest
from support.common import run_cli
from support.package import snapshot
from support.qc import quick_demo  # noqa: F401 (fixture)

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
    # The demo trains with the tone correction: the luma changes, smoothly, and the grain stays the scan's.
    assert rec["tone"] is True and gt["source"]["luma_max_change"] == 0.0
    assert gt["ml"]["luma_unchanged"] is False and 0.9 < gt["ml"]["grain_ratio"] < 1.1
    # Against the true original it is closer than both LUTs: the luma-kept one and the plain full-RGB one.
    vo = rec["verdict_original"]
    assert vo["ml_beats_baseline"] is True and vo["ml_beats_baseline_rgb"] is True


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
    ctx = inputs.context(pkg, rec["inference"]["id"])
    keeps_luma = rec["baseline"]["luma"].startswith("the source's luma is kept")
    assert keeps_luma == (not rec["tone"])
    for entry, frame in zip(ds["holdout"], rec["frames"]):
        src, ref = dataset.pair_arrays(pkg, ds, entry)
        truth = ctx.target(src, ref)
        base = np.ascontiguousarray(src, np.float32).copy()
        proc.applyRGB(base)
        if keeps_luma:  # as the record says
            ycc = colour.rgb_to_ycbcr(base.astype(np.float64), kr, kb)
            ycc[..., 0] = colour.luma(src.astype(np.float64), kr, kb)
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


def test_the_verdicts_compare_with_the_plain_full_rgb_lut_too(quick_demo):  # noqa: F811
    out, summary = quick_demo
    rec = qc_record(out, summary)
    pkg = Package.open(out / "package")
    manifest = pkg.manifest("sha256")
    ref = rec["baseline_rgb"]["lut"]
    assert manifest[ref["path"]] == ref["sha256"] and rec["baseline_rgb"]["fit"]["converged"] is True
    assert lut.loads_cube(pkg.layout.path(ref["path"]).read_bytes()).size == rec["baseline"]["size"]
    for key, basis in (("verdict", "ground_truth"), ("verdict_original", "original")):
        v, pooled = rec[key], rec["summary"][basis]
        assert v["baseline_rgb"] == pytest.approx(pooled["baseline_rgb"]["ciede2000"]["mean"])
        assert v["ml_beats_baseline_rgb"] == (v["ml"] < v["baseline_rgb"])
        assert f"{v['ml']:.2f} against {v['baseline_rgb']:.2f}" in v["statement"]
        assert ("the ML result is closer" if v["ml_beats_baseline_rgb"] else "not closer") in v["statement"]
    # The plain LUT changes the scan's luma: it maps every channel, as a colourist's LUT does.
    assert rec["summary"]["ground_truth"]["baseline_rgb"]["luma_unchanged"] is False


def test_the_training_check_follows_the_logged_held_out_loss(quick_demo):  # noqa: F811
    out, summary = quick_demo
    rec = qc_record(out, summary)
    pkg = Package.open(out / "package")
    training = pkg.read_record(rec["training"]["record"]["path"], "archivist/training-run/1")
    logged = qc_run.holdout_losses(pkg, training)
    assert len(logged) >= 2
    check = rec["training_check"]
    assert check == compare.finite(compare.memorising(logged))
    assert rec["verdict"]["memorising"] == check["memorising"]
    assert (check["statement"] in rec["warnings"]) == check["memorising"]


def test_memorising_is_flagged_in_the_verdict_statement():
    rising = compare.memorising([(200, 0.030), (400, 0.021), (600, 0.020), (800, 0.024)])
    assert rising["memorising"] and rising["best_step"] == 600 and rising["rise_percent"] == pytest.approx(20.0)
    flat = compare.memorising([(200, 0.030), (400, 0.021), (600, 0.020), (800, 0.0201)])
    assert not flat["memorising"]
    v = {"basis": "original", "ml": 2.0, "baseline": 2.5, "source": 9.0, "ml_beats_baseline": True,
         "improvement": 0.5, "improvement_percent": 20.0, "noticeable": False, "frames": 3,
         "frames_ml_not_better": [], "jnd": 1.0, "baseline_rgb": 2.2, "ml_beats_baseline_rgb": True}
    text = compare.statement(v, rising)
    assert "memorising" in text and "from 0.02000 at step 600 to 0.02400 at step 800" in text
    assert "memorising" not in compare.statement(v, flat)
    assert "2.00 against 2.20 (9% lower)" in text
