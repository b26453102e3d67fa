"""Region-limited training pairs: rectangles and masks in the dataset, patches drawn only inside them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.common import run_cli
from support.package import snapshot
from support.train import make_package

from archivist import dataset
from archivist.dataset import regions
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.training import data as training_data
from archivist.training import run as training
from archivist.training.sampling import PatchSampler, effective_patch, valid_corners
from archivist.verify import verify


def test_sampled_patches_never_leave_the_region():
    rng = np.random.default_rng(3)
    allowed = np.zeros((40, 50), bool)
    allowed[5:30, 10:25] = True
    allowed[20:38, 30:48] = True  # two separate parts
    allowed &= rng.random(allowed.shape) > 0.02  # with holes a patch must avoid
    patch = 6
    corners = valid_corners(allowed, patch)
    assert len(corners) > 0
    brute = [(y, x) for y in range(40 - patch + 1) for x in range(50 - patch + 1)
             if allowed[y:y + patch, x:x + patch].all()]
    assert [tuple(c) for c in corners] == brute
    sampler = PatchSampler(0, [(40, 50), (40, 50)], batch=8, patch=patch, regions=[allowed, None])
    seen_free = 0
    for _ in range(400):
        for i, y, x in sampler.draw():
            if i == 0:
                assert allowed[y:y + patch, x:x + patch].all(), (y, x)
            else:
                seen_free += not allowed[y:y + patch, x:x + patch].all()
    assert seen_free > 0  # the pair without a region is sampled anywhere
    # Without regions the draws are what they were before regions existed.
    a, b = PatchSampler(7, [(40, 50)], 4, 8), PatchSampler(7, [(40, 50)], 4, 8, regions=[None])
    assert [a.draw() for _ in range(5)] == [b.draw() for _ in range(5)]


def test_a_dataset_records_rectangles_and_a_stored_mask_and_training_keeps_inside(tmp_path):
    pkg = make_package(tmp_path, n=5)  # 96x64 frames; pairs 1001..1004, 1005 held out
    h, w = 64, 96
    mask = np.zeros((h, w, 1), np.float32)
    mask[8:56, 40:90] = 1.0
    oiio.write(tmp_path / "mask.png", mask, pixel_type="uint8")
    out = json.loads(run_cli(
        "dataset", pkg.root, "--source", "print16", "--reference", "dvd", "--id", "ds-reg",
        "--pairs", "1001:1,1002:2,1003:3", "--preview-frames", "1005:5", "--align", "none", "--median", "2",
        "--region", "1001:4,4,36,40", "--region", "1001:50,20,40,40", "--region", f"1002:mask={tmp_path / 'mask.png'}",
        "--json", check=True).stdout)["dataset"]
    p1, p2, p3 = out["pairs"]
    assert p1["region"]["rectangles"] == [{"x": 4, "y": 4, "width": 36, "height": 40},
                                          {"x": 50, "y": 20, "width": 40, "height": 40}]
    assert p2["region"]["mask"]["path"] == "data/dataset/ds-reg/masks/print16.1002.png" and "region" not in p3
    stored = oiio.read(pkg.root / p2["region"]["mask"]["path"])
    assert stored.shape[:2] == (h, w) and set(np.unique(stored)) == {0.0, 1.0}
    assert verify(pkg.root).ok  # the mask is a payload file named, with its hash, by the dataset record

    record, _ = dataset.load(pkg, "ds-reg")
    td = training_data.load_data(pkg, record, "chroma", True, "cpu", False)
    assert td.regions[2] is None and td.regions[0][4:44, 4:40].all() and not td.regions[0][50:, :4].any()
    assert effective_patch(td, 48) == 40  # pair 1001: its larger rectangle is 40x40
    sampler = PatchSampler(0, td.sizes, batch=4, patch=32, regions=td.regions)
    for _ in range(200):
        for i, y, x in sampler.draw():
            if td.regions[i] is not None:
                assert td.regions[i][y:y + 32, x:x + 32].all()
    rec = training.train(pkg, training.TrainSettings(mode="chroma", size="small", steps=2, patch=48, batch=2,
                                                     checkpoint_every=2, contact_every=0, threads=1, device="cpu",
                                                     dataset="ds-reg"))
    assert rec["status"] == "complete" and rec["settings"]["patch_effective"] == 40
    # A changed mask is named by verify and refused by training: a model never learns from another region.
    mask_path = pkg.root / p2["region"]["mask"]["path"]
    mask_path.chmod(0o644)
    oiio.write(mask_path, np.ones((h, w, 1), np.float32), pixel_type="uint8")
    found = verify(pkg.root)
    assert not found.ok and p2["region"]["mask"]["path"] in json.dumps(found.to_dict())
    with pytest.raises(InputError, match="DATASET-HASH"):
        training_data.load_data(pkg, record, "chroma", True, "cpu", False)


def test_regions_that_cannot_be_used_are_refused(tmp_path):
    pkg = make_package(tmp_path, n=5)
    oiio.write(tmp_path / "small.png", np.ones((10, 10, 1), np.float32), pixel_type="uint8")
    before = snapshot(pkg.root)
    common = dict(source="print16", reference="dvd", pairs=[(1001, 1), (1002, 2)], preview_frames=[(1005, 5)],
                  align_mode="none", crop=(0, 0, 80, 64))
    for given, needle in ((["1005:0,0,20,20"], "held out"), (["1003:0,0,20,20"], "not a training pair"),
                          (["all:70,0,20,20"], "inside the crop"), ([f"1001:mask={tmp_path / 'small.png'}"], "size"),
                          (["1001:mask=a.png", "1001:mask=b.png"], "two masks"), (["x:1,2,3,4"], "FRAME")):
        with pytest.raises(InputError, match="DATASET-REGION") as err:
            dataset.build(pkg, regions=regions.parse(given), **common)
        assert needle in err.value.message, (given, err.value.message)
    assert snapshot(pkg.root) == before
