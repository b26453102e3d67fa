"""Each QC metric against values worked out by hand (or published) on tiny images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from archivist.qc import metrics

KR, KB = 0.2126, 0.0722

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1: pairs 1, 7, 17 and 25.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_matches_published_test_pairs(lab1, lab2, expected):
    assert float(metrics.delta_e_2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


def test_lightness_and_chroma_parts_split_the_total():
    # Pure lightness change: dE00 = |dL| / S_L with S_L = 1 + 0.015 (Lbar - 50)^2 / sqrt(20 + (Lbar - 50)^2).
    a, b = np.array([50.0, 0.0, 0.0]), np.array([60.0, 0.0, 0.0])
    sl = 1 + 0.015 * 25 / math.sqrt(20 + 25)
    total, light, chroma = metrics.delta_e_parts(a, b)
    assert float(light) == pytest.approx(10 / sl, abs=1e-9) == pytest.approx(float(total), abs=1e-9)
    assert float(chroma) == pytest.approx(0.0, abs=1e-6)
    # Equal lightness: all of it is chroma and hue.
    total, light, chroma = metrics.delta_e_parts(np.array(SHARMA[0][0]), np.array(SHARMA[0][1]))
    assert float(light) == 0.0 and float(chroma) == pytest.approx(2.0425, abs=1e-4)
    # In general the parts add in quadrature.
    total, light, chroma = metrics.delta_e_parts(np.array(SHARMA[2][0]), np.array(SHARMA[2][1]))
    assert float(total) ** 2 == pytest.approx(float(light) ** 2 + float(chroma) ** 2)


def test_rgb_to_lab_by_hand():
    # sRGB 0.5 grey: Y = ((0.5 + 0.055) / 1.055)^2.4, L* = 116 Y^(1/3) - 16.
    y = ((0.5 + 0.055) / 1.055) ** 2.4
    lab = metrics.to_lab(np.full((1, 1, 3), 0.5), "srgb")[0, 0]
    assert lab[0] == pytest.approx(116 * y ** (1 / 3) - 16, abs=1e-3) and abs(lab[1]) < 0.01 and abs(lab[2]) < 0.01
    # Linear 18% grey: Y = 0.18 (the Rec.709 luminance row sums to 1).
    lab = metrics.to_lab(np.full((1, 1, 3), 0.18), "linear-rec709")[0, 0]
    assert lab[0] == pytest.approx(116 * 0.18 ** (1 / 3) - 16, abs=1e-3)
    with pytest.raises(ValueError):
        metrics.to_lab(np.zeros((1, 1, 3)), "gamma-3")


def test_psnr_of_cb_and_cr_by_hand():
    a = np.full((2, 2, 3), 0.5)
    b = a.copy()
    b[..., 2] += 0.1  # B up by 0.1: Y up by kb 0.1
    d_cb = (0.1 - KB * 0.1) / (2 * (1 - KB))
    d_cr = (0.0 - KB * 0.1) / (2 * (1 - KR))
    cb, cr = metrics.psnr_chroma(b, a, KR, KB)
    assert cb == pytest.approx(10 * math.log10(1 / d_cb ** 2), abs=1e-9)
    assert cr == pytest.approx(10 * math.log10(1 / d_cr ** 2), abs=1e-9)
    assert metrics.psnr_chroma(a, a) == (math.inf, math.inf)


def test_luma_check_by_hand():
    src = np.random.default_rng(0).random((4, 4, 3))
    from archivist.imaging import colour

    ycc = colour.rgb_to_ycbcr(src, KR, KB)
    ycc[..., 1:] *= 0.5  # new chroma, same luma
    same_luma = colour.ycbcr_to_rgb(ycc, KR, KB)
    lmax, lmean = metrics.luma_change(same_luma, src, KR, KB)
    assert lmax < 1e-12
    m, _ = metrics.frame_metrics(same_luma, src, src, metrics.to_lab(same_luma), metrics.to_lab(src), kr=KR, kb=KB)
    assert m["luma_unchanged"] is True
    brighter = src + 0.01  # luma up by exactly 0.01 (the coefficients sum to 1)
    lmax, lmean = metrics.luma_change(brighter, src, KR, KB)
    assert lmax == pytest.approx(0.01) and lmean == pytest.approx(0.01)
    m, _ = metrics.frame_metrics(brighter, src, src, metrics.to_lab(brighter), metrics.to_lab(src), kr=KR, kb=KB)
    assert m["luma_unchanged"] is False


def test_colourfulness_by_hand():
    # Two pixels, pure red and pure blue, on 0-255: rg = (255, 0), yb = (127.5, -255).
    img = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    rg, yb = np.array([255.0, 0.0]), np.array([127.5, -255.0])
    expected = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    assert metrics.colourfulness(img) == pytest.approx(expected) == pytest.approx(272.6186, abs=1e-4)
    assert metrics.colourfulness(np.full((3, 3, 3), 0.7)) == 0.0


def test_grain_ratio_is_linear_and_ignores_offsets():
    src = np.random.default_rng(1).random((24, 24, 3))
    assert metrics.grain_ratio(src, src) == pytest.approx(1.0)
    assert metrics.grain_ratio(0.5 * src + 0.2, src) == pytest.approx(0.5)
    assert metrics.grain_ratio(np.full_like(src, 0.3), src) == pytest.approx(0.0)
    assert math.isnan(metrics.grain_ratio(src, np.full_like(src, 0.3)))
    assert metrics.high_pass_rms(np.full((8, 8, 3), 0.4)) == pytest.approx(0.0, abs=1e-12)


def test_pooled_percentile_agrees_with_numpy_to_the_bin_width():
    rng = np.random.default_rng(2)
    a, b = rng.gamma(2.0, 1.5, 5000), rng.gamma(3.0, 1.0, 5000)
    counts = metrics.histogram(a) + metrics.histogram(b)
    exact = np.percentile(np.concatenate([a, b]), 95)
    assert abs(metrics.histogram_percentile(counts, 95) - exact) <= metrics.HIST_MAX / metrics.HIST_BINS + 1e-9


def test_pool_combines_frames():
    rng = np.random.default_rng(3)
    frames, hists = [], []
    for _ in range(3):
        truth = rng.random((6, 6, 3))
        cand = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1)
        m, h = metrics.frame_metrics(cand, truth, truth, metrics.to_lab(cand), metrics.to_lab(truth))
        frames.append(m)
        hists.append(h)
    pooled = metrics.pool(frames, hists)
    assert pooled["ciede2000"]["mean"] == pytest.approx(np.mean([f["ciede2000"]["mean"] for f in frames]))
    assert pooled["ciede2000"]["max"] == max(f["ciede2000"]["max"] for f in frames)
    mse = np.mean([10 ** (-f["psnr_cb"] / 10) for f in frames])
    assert pooled["psnr_cb"] == pytest.approx(10 * math.log10(1 / mse))
