"""The demo's material: the camera move, the dye-fading model and the DVD-like reference."""

from __future__ import annotations

import numpy as np
import pytest

from archivist.demo import dvd, fading, shot
from archivist.imaging import colour


@pytest.fixture(scope="module")
def frames():
    return shot.make_shot(shot.ShotSettings(frames=24, width=128, height=96))


def test_shot_is_a_slow_smooth_move_over_a_real_photograph(frames):
    assert len(frames) == 24 and frames[0].shape == (96, 128, 3)
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))  # it moves every frame
    assert frames[0].std() > 0.1  # a photograph, not a flat field
    s = shot.ShotSettings(frames=24, width=128, height=96)
    w = [shot.window(i, s, (512, 512)) for i in range(24)]
    px = [w_[2] / s.width for w_ in w]  # photograph pixels per frame pixel
    moves = [np.hypot(b[0] - a[0], b[1] - a[1]) / pa for a, b, pa in zip(w, w[1:], px)]
    zooms = [a[2] / b[2] for a, b in zip(w, w[1:])]
    assert 0 < max(moves) < 2.0  # under two frame pixels per frame: slow
    assert max(zooms) < 1.02 and w[0][2] / w[-1][2] == pytest.approx(s.zoom)  # a gentle zoom, all the way in
    assert moves[0] < moves[11] and moves[-1] < moves[11]  # eases in and out


def test_fading_works_in_density_and_round_trips_without_fade():
    x = np.random.default_rng(0).uniform(0.1, 1.0, (8, 8, 3))  # inside the print's density range
    d = fading.to_density(x)
    assert np.allclose(fading.from_density(d), x)
    assert np.allclose(fading.dye_amounts(d) @ fading.CROSSTALK.T, d)
    keep = fading.FadeSettings(uniform=True, retention=(1.0, 1.0, 1.0), stain=(0, 0, 0), grain=0.0)
    assert np.allclose(fading.fade(x, 0, 1, keep), x, atol=1e-6)


def test_cyan_and_yellow_fade_faster_than_magenta_giving_a_magenta_cast(frames):
    r0 = fading.RETENTION
    assert r0[0] < r0[1] and r0[2] < r0[1]
    orig = frames[5]
    faded = fading.fade(orig, 5, 24, fading.FadeSettings(uniform=True, grain=0.0))
    # Mean chroma moves towards magenta: Cr (red) and Cb (blue) both up, green down.
    d = colour.rgb_to_ycbcr(faded.astype(np.float64)).mean((0, 1)) - colour.rgb_to_ycbcr(orig.astype(np.float64)).mean((0, 1))
    assert d[1] > 0.01 and d[2] > 0.01
    # Dye is lost: the faded print's densities are lower in red and blue than in green.
    loss = fading.dye_amounts(fading.to_density(orig)).mean((0, 1)) - fading.dye_amounts(fading.to_density(faded)).mean((0, 1))
    assert loss[0] > loss[1] and loss[2] > loss[1]


def test_non_uniform_fade_varies_across_the_frame_and_along_the_shot():
    s = fading.FadeSettings()
    first, last = fading.strength_field(60, 80, 0, 24, s), fading.strength_field(60, 80, 23, 24, s)
    assert first.max() - first.min() > 0.4  # across the frame
    assert last.mean() > first.mean() * 1.2  # along the shot
    grey = np.full((60, 80, 3), 0.6)
    out = fading.fade(grey, 0, 24, fading.FadeSettings(grain=0.0))
    assert out[..., 1].max() - out[..., 1].min() > 0.02  # one grey, many faded greys


def test_grain_is_new_in_every_frame_and_repeatable():
    grey = np.full((32, 32, 3), 0.5)
    s = fading.FadeSettings(uniform=True)
    a, b = fading.fade(grey, 0, 2, s), fading.fade(grey, 1, 2, s)
    assert np.array_equal(a, fading.fade(grey, 0, 2, s))
    assert not np.array_equal(a, b) and 0.003 < float(np.std(a - b)) < 0.1


def test_dvd_is_sd_8bit_with_420_chroma_another_grade_and_framing(frames):
    from archivist.demo.run import quick

    out = dvd.to_dvd(frames[3], quick().dvd)
    assert out.dtype == np.uint8 and out.shape == (*dvd.size_for((96, 128)), 3)
    assert dvd.size_for((720, 960)) == dvd.PAL
    # 4:2:0: Cb and Cr carry about half the detail of luma in each direction.
    codes = dvd._to_601_codes(out.astype(np.float64) / 255.0)
    def detail(p):
        return float(np.abs(np.diff(p, axis=1)).mean() + np.abs(np.diff(p, axis=0)).mean())
    assert detail(codes[..., 1]) < 0.6 * detail(codes[..., 0]) * (224 / 219)
    # Another grade and a small misalignment: the same picture, not the same pixels.
    from skimage.transform import resize
    back = resize(out / 255.0, (96, 128), order=1)
    assert float(np.abs(back - frames[3]).mean()) > 0.01
    assert np.abs(back.mean((0, 1)) - frames[3].mean((0, 1))).max() < 0.05
    assert np.corrcoef(colour.luma(back).ravel(), colour.luma(frames[3]).ravel())[0, 1] > 0.8


def test_subsampling_keeps_luma_and_halves_chroma_resolution():
    codes = np.zeros((4, 4, 3))
    codes[..., 0] = np.arange(16).reshape(4, 4)
    codes[..., 1] = [[0, 8, 0, 8]] * 4
    out = dvd.subsample_420(codes)
    assert np.array_equal(out[..., 0], codes[..., 0]) and np.allclose(out[..., 1], 4.0)
