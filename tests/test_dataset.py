"""archivist dataset: pairs, refusals, materialised references, the record and its API."""

from __future__ import annotations

import hashlib
import json

import bagit
import numpy as np
import pytest
from support.common import run_cli, write_shot
from support.dataset import add_pair_elements, write_pair_elements
from support.package import snapshot

from archivist import dataset
from archivist.dataset import selection
from archivist.dataset.align import Transform
from archivist.dataset.preprocess import median
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.package import Package, records
from archivist.package.layout import Layout

try:
    from archivist.verify import verify
except ImportError:  # the verifier is optional for these tests
    verify = None

KNOWN = Transform.similarity(1.02, 1.0, (3.0, -2.0))
CROP = (8, 8, 112, 80)  # the part of a 128x96 source that KNOWN's reference covers


def _valid(pkg: Package) -> None:
    bagit.Bag(str(pkg.root)).validate()
    if verify is not None:
        report = verify(pkg.root)
        assert report.ok, report.to_dict()


def _refused(pkg: Package, code: str, **kwargs) -> InputError:
    before = snapshot(pkg.root)
    with pytest.raises(InputError) as err:
        dataset.build(pkg, **kwargs)
    assert err.value.code == code, str(err.value)
    assert snapshot(pkg.root) == before  # the package is exactly as it was
    return err.value


@pytest.fixture
def moved(tmp_path) -> Package:
    """A package whose half-resolution reference is moved by KNOWN relative to the faded source."""
    src, ref = write_pair_elements(tmp_path / "frames", n=5, transform=KNOWN)
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    add_pair_elements(pkg, src, ref)
    return pkg


# -- choosing frames ------------------------------------------------------------------------

def test_auto_picks_evenly_with_ends_and_holds_out_a_frame_midway(package):
    rec = dataset.build(package, source="print16", reference="dvd", auto=3, median_size=0)
    assert [(p["source"]["number"], p["reference"]["number"]) for p in rec["pairs"]] == [(1001, 1), (1003, 3), (1004, 4)]
    assert [(p["source"]["number"], p["reference"]["number"]) for p in rec["holdout"]] == [(1002, 2)]
    assert rec["selection"] == {"pairs_rule": "auto", "auto_count": 3, "reference_rule": "position",
                                "holdout_rule": "midway"}
    assert rec["id"] == "ds-001"


def test_pick_even_rule():
    assert selection.pick_even(list(range(20, 61)), 4) == [20, 33, 47, 60]
    assert selection.pick_even(list(range(1, 101)), 2) == [1, 100]
    numbers = [1, 2, 5, 9, 10, 11, 40]  # gaps in numbering: positions count, not numbers
    assert selection.pick_even(numbers, 3) == [1, 9, 40]
    with pytest.raises(InputError) as err:
        selection.pick_even(numbers, 8)
    assert err.value.code == "DATASET-AUTO"


def test_offset_and_explicit_frames(package):
    rec = dataset.build(package, source="print16", reference="dvd", frames=[1001, 1004], offset=-1000,
                        preview_frames=[1003], median_size=0)
    assert [(p["source"]["number"], p["reference"]["number"]) for p in rec["pairs"]] == [(1001, 1), (1004, 4)]
    assert [(p["source"]["number"], p["reference"]["number"]) for p in rec["holdout"]] == [(1003, 3)]
    assert rec["selection"]["reference_rule"] == "offset" and rec["selection"]["offset"] == -1000
    # Explicit pairs: held-out frames follow the pairs' common offset.
    rec = dataset.build(package, source="print16", reference="dvd", pairs=[(1001, 1), (1003, 3)], median_size=0)
    # Up to three held out by default: midway first, then the rest (only two frames are left here).
    assert [p["source"]["number"] for p in rec["holdout"]] == [1002, 1004]
    assert [p["reference"]["number"] for p in rec["holdout"]] == [2, 4]
    assert rec["id"] == "ds-002"


def test_pairs_with_missing_frames_are_refused(package):
    err = _refused(package, "DATASET-FRAME", source="print16", reference="dvd", pairs=[(1001, 1), (1009, 9)])
    assert "1009" in err.message and "reference frame 9" in err.message
    _refused(package, "DATASET-FRAME", source="print16", reference="dvd", frames=[1001, 1002], offset=5)


def test_held_out_frames_are_never_trained_on(package):
    _refused(package, "DATASET-PREVIEW", source="print16", reference="dvd", pairs=[(1001, 1), (1002, 2)],
             preview_frames=[1002])
    _refused(package, "DATASET-PREVIEW", source="print16", reference="dvd", auto=4, auto_preview=1)
    rec = dataset.build(package, source="print16", reference="dvd", auto=4, median_size=0)
    assert rec["holdout"] == [] and any("held-out" in w for w in rec["warnings"])


def test_ambiguous_reference_numbering_is_refused(tmp_path):
    write_shot(tmp_path / "s", n=4)
    write_shot(tmp_path / "r", n=3, ext="png", stem="ref", start=1)
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    pkg.add_element(role="source", element="print16", paths=[tmp_path / "s"], description="16mm print",
                    training_use="authorised")
    pkg.add_element(role="reference", element="dvd", paths=[tmp_path / "r"], description="PAL DVD",
                    training_use="authorised")
    err = _refused(pkg, "DATASET-PAIRING", source="print16", reference="dvd", auto=2)
    assert "--offset" in err.hint


# -- what a dataset holds ------------------------------------------------------------------------

def test_record_names_every_frame_and_aligned_references_are_in_the_manifest(moved):
    rec = dataset.build(moved, source="print16", reference="dvd", auto=3, crop=CROP)
    records.check(rec, dataset.LABEL)
    manifest = moved.manifest("sha256")
    elements = {e: {f["number"]: f for f in moved.element(e)["frames"]} for e in ("print16", "dvd")}
    for entry in rec["pairs"] + rec["holdout"]:
        for side in ("source", "reference"):
            f = entry[side]
            assert elements[f["element"]][f["number"]]["sha256"] == f["sha256"] == manifest[f["path"]]
        a = entry["aligned_reference"]
        assert a["path"] == Layout.aligned_reference(rec["id"], "dvd", entry["source"]["number"])
        assert manifest[a["path"]] == a["sha256"]
        path = moved.layout.path(a["path"])
        assert path.stat().st_size == a["size"]
        info = oiio.probe(path)
        assert (info.width, info.height, info.channels, info.pixel_type) == (112, 80, 3, "float")
        assert oiio.header(path)["compression"] == "zip"  # lossless
    data = moved.layout.path(Layout.record("datasets", rec["id"])).read_bytes()
    assert json.loads(data) == rec
    loaded, sha = dataset.load(moved)
    assert loaded == rec and sha == hashlib.sha256(data).hexdigest() == manifest[Layout.record("datasets", rec["id"])]
    assert rec["resample"]["reference_size"] == [64, 48] and rec["resample"]["source_size"] == [128, 96]
    assert rec["colour"]["source_colour_space"] == "scene-linear Rec.709" and rec["colour"]["kr"] == 0.2126
    assert any("without conversion" in w for w in rec["warnings"])
    events = moved.events()
    assert events[-1]["command"] == "dataset" and events[-1]["type"] == "creation"
    assert {"path": Layout.record("datasets", rec["id"]), "role": "created", "sha256": sha} in events[-1]["objects"]
    _valid(moved)


def test_auto_alignment_recovers_the_known_transform_in_the_record(moved):
    rec = dataset.build(moved, source="print16", reference="dvd", pairs=[(1001, 1), (1005, 5)], crop=CROP,
                        median_size=0)
    assert rec["alignment"]["mode"] == "auto" and rec["alignment"]["model"] == "similarity"
    for entry in rec["pairs"] + rec["holdout"]:
        t = entry["transform"]
        assert t["scale"] == pytest.approx(1.02, abs=0.005)
        assert t["rotation_deg"] == pytest.approx(1.0, abs=0.2)
        assert t["translation"] == pytest.approx([3.0, -2.0], abs=0.4)
        assert entry["residual"] < 0.1 < rec["alignment"]["threshold"]
    # The aligned reference lines up with the source: luma edges agree.
    src, ref = dataset.pair_arrays(moved, rec, rec["pairs"][0])
    assert src.shape == ref.shape == (80, 112, 3)
    from archivist.dataset.align import luma, residual_score
    assert residual_score(luma(src), luma(ref), sigma=2.0) < 0.1


def test_unrelated_reference_is_refused_naming_the_frame(tmp_path):
    src, _ = write_pair_elements(tmp_path / "a", n=3)
    _, ref = write_pair_elements(tmp_path / "b", n=3, reference_image="coffee")
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    add_pair_elements(pkg, src, ref)
    err = _refused(pkg, "DATASET-ALIGN", source="print16", reference="dvd", auto=2, crop=CROP)
    assert "frame 1001" in err.message and "frame 1003" in err.message and "threshold" in err.message
    # Without alignment the residual check still stops unrelated pictures.
    _refused(pkg, "DATASET-ALIGN", source="print16", reference="dvd", auto=2, align_mode="none")


def test_uncovered_crop_is_refused_with_a_crop_that_works(moved):
    err = _refused(moved, "DATASET-COVERAGE", source="print16", reference="dvd", auto=2)
    assert "--crop" in err.hint
    suggested = [int(v) for v in err.hint.split("--crop ")[1].split(",")]
    rec = dataset.build(moved, source="print16", reference="dvd", auto=2, crop=tuple(suggested), median_size=0)
    assert rec["crop"] == dict(zip(("x", "y", "width", "height"), suggested))
    # A requested crop that is partly uncovered: the suggestion stays inside it.
    err = _refused(moved, "DATASET-COVERAGE", source="print16", reference="dvd", auto=2, crop=(0, 10, 90, 60))
    x, y, w, h = (int(v) for v in err.hint.split("--crop ")[1].split(","))
    assert x >= 3 and y == 10 and x + w == 90 and h == 60


def test_align_none_and_manual(moved):
    _refused(moved, "DATASET-TRANSFORM", source="print16", reference="dvd", auto=2, align_mode="manual")
    manual = {"matrix": KNOWN.as_record()["matrix"],
              "frames": {"1005": {"scale": 1.02, "rotation_deg": 1.0, "translation": [3.0, -2.0]}}}
    rec = dataset.build(moved, source="print16", reference="dvd", auto=2, crop=CROP, align_mode="manual",
                        transform=manual)
    assert rec["alignment"]["mode"] == "manual"
    for entry in rec["pairs"] + rec["holdout"]:
        assert np.allclose(entry["transform"]["matrix"], KNOWN.array)
        assert entry["residual"] < 0.1
        assert entry["misalignment_px"] < 0.5  # cross-checked against automatic alignment
    assert not any("misaligned" in w for w in rec["warnings"])
    # No alignment on a moved reference: a 3 px error can pass the residual threshold, but not unnoticed.
    rec = dataset.build(moved, source="print16", reference="dvd", frames=[1001], auto_preview=0, crop=CROP,
                        align_mode="none")
    assert rec["pairs"][0]["residual"] < rec["alignment"]["threshold"]
    assert rec["pairs"][0]["misalignment_px"] > 2.0
    assert any("frame 1001" in w and "misaligned" in w for w in rec["warnings"])
    # A transform file that does not cover a frame is refused.
    _refused(moved, "DATASET-TRANSFORM", source="print16", reference="dvd", auto=2, crop=CROP,
             align_mode="manual", transform={"frames": {"1001": manual["frames"]["1005"]}})


def test_align_none_is_identity_after_resolution_matching(package):
    rec = dataset.build(package, source="print16", reference="dvd", auto=2, align_mode="none", median_size=0)
    entry = rec["pairs"][0]
    assert entry["transform"]["matrix"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    src, ref = dataset.pair_arrays(package, rec, entry)
    original = oiio.read(package.layout.path(entry["reference"]["path"]), channels=3)
    assert np.allclose(ref, original, atol=1e-6)  # same size, identity: the reference itself
    assert entry["residual"] < 0.01


def test_median_is_recorded_and_applied(package):
    plain = dataset.build(package, source="print16", reference="dvd", auto=2, align_mode="none", median_size=0)
    filtered = dataset.build(package, source="print16", reference="dvd", auto=2, align_mode="none", median_size=6)
    assert plain["preprocessing"]["median_size"] == 0 and filtered["preprocessing"]["median_size"] == 6
    _, a = dataset.pair_arrays(package, plain, plain["pairs"][0])
    _, b = dataset.pair_arrays(package, filtered, filtered["pairs"][0])
    assert not np.allclose(a, b)
    assert np.array_equal(b, median(a, 6))  # full-frame crop: the median of the unfiltered alignment
    assert dataset.build(package, source="print16", reference="dvd", auto=2)["preprocessing"]["median_size"] == 10


def test_crop_is_linked_and_checked(package):
    rec = dataset.build(package, source="print16", reference="dvd", auto=2, align_mode="none", crop=(4, 6, 40, 30),
                        median_size=0)
    src, ref = dataset.pair_arrays(package, rec, rec["pairs"][0])
    full = oiio.read(package.layout.path(rec["pairs"][0]["source"]["path"]), channels=3)
    assert np.array_equal(src, full[6:36, 4:44])
    assert ref.shape == (30, 40, 3)
    _refused(package, "DATASET-CROP", source="print16", reference="dvd", auto=2, crop=(40, 0, 40, 30))


def test_preview_sheets_are_written_and_recorded(package):
    rec = dataset.build(package, source="print16", reference="dvd", auto=2, preview=True, median_size=0)
    manifest = package.manifest("sha256")
    assert len(rec["previews"]) == 4  # 2 pairs and the 2 frames left, held out
    for p in rec["previews"]:
        assert p["path"].endswith(".png") and manifest[p["path"]] == p["sha256"]
        info = oiio.probe(package.layout.path(p["path"]))
        assert info.file_format == "png" and info.channels == 3 and info.width >= 3 * 192
    assert sorted(p["source_number"] for p in rec["previews"]) == [1001, 1002, 1003, 1004]
    assert [p["holdout"] for p in rec["previews"] if p["source_number"] in (1002, 1003)] == [True, True]
    _valid(package)


def test_resampled_reference_matches_source_resolution(moved):
    rec = dataset.build(moved, source="print16", reference="dvd", auto=2, crop=CROP, resample="bicubic")
    assert rec["resample"]["method"] == "bicubic" and rec["resample"]["filter"] == "catmull-rom"
    src, ref = dataset.pair_arrays(moved, rec, rec["pairs"][1])
    assert src.shape == ref.shape == (80, 112, 3)


# -- refusals ---------------------------------------------------------------------------------------

def test_mismatched_channel_counts_are_refused(tmp_path):
    src, ref = write_pair_elements(tmp_path / "f", n=2, reference_channels=4)
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    add_pair_elements(pkg, src, ref)
    assert pkg.element("dvd")["scan"]["channels"] == 4
    err = _refused(pkg, "DATASET-CHANNELS", source="print16", reference="dvd", auto=1)
    assert "3 channels" in err.message and "4" in err.message


def test_a_frame_altered_after_add_is_refused(package):
    path = package.layout.path(package.element("dvd")["frames"][2]["path"])
    img = oiio.read(path)
    img[0, 0] = 1.0 - img[0, 0]
    oiio.write(path, img, pixel_type="uint8")
    err = _refused(package, "DATASET-HASH", source="print16", reference="dvd", auto=3)
    assert "dvd.0003.png" in err.message


def test_rights_are_enforced(tmp_path):
    src, ref = write_pair_elements(tmp_path / "f", n=2)
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    add_pair_elements(pkg, src, ref, training_use="not-authorised")
    err = _refused(pkg, "DATASET-RIGHTS", source="print16", reference="dvd", auto=1, align_mode="none")
    assert "not authorised" in err.message
    pkg2 = Package.create(tmp_path / "pkg2", title="Film", organization="Archive")
    add_pair_elements(pkg2, src, ref, training_use="unknown")
    rec = dataset.build(pkg2, source="print16", reference="dvd", auto=1, align_mode="none")
    assert rec["reference_training_use"] == "unknown"
    assert any("training use unknown" in w for w in rec["warnings"])
    assert pkg2.events()[-1]["outcome"] == "warning"


def test_wrong_elements_and_options_are_refused(package):
    _refused(package, "DATASET-ELEMENT", source="nope", reference="dvd", auto=1)
    _refused(package, "DATASET-ELEMENT", source="dvd", reference="print16", auto=1)
    _refused(package, "DATASET-PAIRS", source="print16", reference="dvd", auto=1, frames=[1001])
    _refused(package, "DATASET-RESAMPLE", source="print16", reference="dvd", auto=1, resample="nearest")
    _refused(package, "DATASET-MEDIAN", source="print16", reference="dvd", auto=1, median_size=-1)
    dataset.build(package, source="print16", reference="dvd", auto=1, dataset_id="shot-a", align_mode="none")
    _refused(package, "DATASET-EXISTS", source="print16", reference="dvd", auto=1, dataset_id="shot-a")


# -- reading back ------------------------------------------------------------------------------------

def test_load_and_pair_arrays_check_hashes(package):
    with pytest.raises(InputError) as err:
        dataset.load(package)
    assert err.value.code == "DATASET-MISSING"
    first = dataset.build(package, source="print16", reference="dvd", auto=2, median_size=0)
    second = dataset.build(package, source="print16", reference="dvd", auto=3, median_size=0)
    assert dataset.load(package)[0]["id"] == second["id"] == "ds-002"
    assert dataset.load(package, "ds-001")[0] == first
    with pytest.raises(InputError) as err:
        dataset.load(package, "ds-009")
    assert err.value.code == "DATASET-MISSING"

    entry = second["pairs"][0]
    aligned = package.layout.path(entry["aligned_reference"]["path"])
    aligned.write_bytes(aligned.read_bytes() + b"\0")
    with pytest.raises(InputError) as err:
        dataset.pair_arrays(package, second, entry)
    assert err.value.code == "DATASET-HASH" and entry["aligned_reference"]["path"] in err.value.message
    # A record edited in place no longer matches the manifest.
    rec_path = package.layout.path(Layout.record("datasets", "ds-001"))
    rec_path.write_bytes(rec_path.read_bytes().replace(b'"median_size": 0', b'"median_size": 3'))
    with pytest.raises(InputError) as err:
        dataset.load(package, "ds-001")
    assert err.value.code == "DATASET-HASH"


def test_same_inputs_give_identical_files(tmp_path):
    hashes = []
    for name in ("a", "b"):
        src, ref = write_pair_elements(tmp_path / "f", n=3, transform=KNOWN)
        pkg = Package.create(tmp_path / name, title="Film", organization="Archive")
        add_pair_elements(pkg, src, ref)
        rec = dataset.build(pkg, source="print16", reference="dvd", auto=2, crop=CROP, preview=True)
        hashes.append([(e["transform"]["matrix"], e["aligned_reference"]["sha256"]) for e in rec["pairs"] + rec["holdout"]]
                      + [p["sha256"] for p in rec["previews"]])
    assert hashes[0] == hashes[1]


# -- the command line ---------------------------------------------------------------------------------

def test_cli_builds_and_reports_json(package, tmp_path):
    transform = tmp_path / "t.json"
    transform.write_text(json.dumps({"scale": 1.0, "rotation_deg": 0.0, "translation": [0, 0]}))
    proc = run_cli("dataset", package.root, "--source", "print16", "--reference", "dvd", "--pairs", "1001:1,1004:4",
                   "--preview-frames", "1002", "--align", "manual", "--transform", transform, "--median", "0",
                   "--crop", "0,0,64,48", "--preview", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and out["dataset"]["id"] == "ds-001"
    assert out["sha256"] == dataset.load(package)[1]
    assert len(out["dataset"]["previews"]) == 3
    proc = run_cli("dataset", package.root, "--source", "print16", "--reference", "dvd", "--auto", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ds-002" in proc.stdout and "residual" in proc.stdout
    _valid(package)


def test_cli_errors_have_codes_and_leave_the_package_alone(package):
    before = snapshot(package.root)
    proc = run_cli("dataset", package.root, "--source", "print16", "--reference", "dvd", "--pairs", "1001:1,1050:50",
                   "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "DATASET-FRAME"
    assert "1050" in proc.stderr
    proc = run_cli("dataset", package.root, "--source", "print16", "--reference", "dvd", "--pairs", "1001")
    assert proc.returncode == 2 and "DATASET-PAIRS" in proc.stderr
    assert snapshot(package.root) == before
