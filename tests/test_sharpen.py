"""The spatial stage's resize-and-sharpen baseline (archivist.qc.sharpen) on real photographs."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from support.common import photo

from archivist.imaging import colour
from archivist.qc import sharpen

KR, KB = colour.REC709["kr"], colour.REC709["kb"]


def _pair(y: int, x: int, blur: float = 1.2):
    sharp = np.ascontiguousarray(photo("astronaut")[y:y + 48, x:x + 64], np.float32)
    return gaussian_filter(sharp, sigma=(blur, blur, 0), mode="reflect"), sharp


def test_fit_sharpens_a_soft_source_and_the_baseline_gets_closer_on_another_frame():
    pairs = [_pair(100, 150), _pair(200, 220)]
    mask, err = sharpen.fit([s for s, _ in pairs], [t for _, t in pairs], KR, KB)
    assert mask.amount > 0 and err > 0
    soft, sharp = _pair(300, 100)
    base = sharpen.baseline(soft, sharp.shape[:2], mask)
    as_is, sharpened = sharpen.measure(soft, sharp, KR, KB), sharpen.measure(base, sharp, KR, KB)
    assert sharpened["psnr_luma"] > as_is["psnr_luma"]
    assert as_is["detail_ratio"] < sharpened["detail_ratio"]


def test_fit_leaves_a_source_that_already_is_the_truth_alone():
    _, sharp = _pair(100, 150)
    mask, err = sharpen.fit([sharp], [sharp], KR, KB)
    assert mask.amount == 0 and err == 0


def test_resize_puts_the_source_on_the_truth_grid():
    soft, sharp = _pair(100, 150)
    small = sharpen.resize_to(soft, (24, 32))
    assert small.shape == (24, 32, 3)
    assert sharpen.resize_to(small, sharp.shape[:2]).shape == sharp.shape
