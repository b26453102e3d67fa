"""Alignment: transform conventions, registration accuracy, residual scores, median and resampling."""

from __future__ import annotations

import numpy as np
import pytest
from support.dataset import faded, reference_frame, source_window

from archivist.dataset import DEFAULT_THRESHOLD, align
from archivist.dataset.align import Transform, register, residual_score, stretch
from archivist.dataset.preprocess import median, median_footprint
from archivist.imaging import oiio


def _corner_error(found: Transform, true: Transform, size) -> float:
    h, w = size
    corners = [[0, 0], [w, 0], [0, h], [w, h]]
    return float(np.abs(found.apply(corners) - true.apply(corners)).max())


def _case(transform, size=(96, 128), reference_size=(48, 64), image="astronaut"):
    window, origin = source_window(image, size, 0)
    return faded(window, 0), reference_frame(image, origin, transform, size, reference_size)


def test_recorded_transform_maps_reference_pixels_onto_source_pixels():
    # A dot at reference pixel (10, 20) lands at source pixel (13, 21) under translation (3, 1).
    ref = np.zeros((40, 40, 3), np.float32)
    ref[20, 10] = 1.0
    t = Transform.similarity(1.0, 0.0, (3.0, 1.0))
    out = oiio.warp(ref, t.array, window=(0, 0, 40, 40))
    assert np.unravel_index(np.argmax(out[..., 0]), out.shape[:2]) == (21, 13)
    # Positive rotation turns clockwise as displayed (y down): a point right of the origin moves down.
    assert Transform.similarity(1.0, 90.0, (0, 0)).apply([[1.0, 0.0]]).round(9).tolist() == [[0.0, 1.0]]


def test_resolution_matching_is_edge_to_edge():
    d = stretch((720, 576), (2048, 1556))
    assert d.apply([[0, 0], [720, 576], [360, 288]]).tolist() == [[0, 0], [2048, 1556], [1024, 778]]


@pytest.mark.parametrize("true", [
    Transform.similarity(1.02, 1.0, (3.0, -2.0)),
    Transform.similarity(0.98, -1.0, (-4.0, 2.5)),
    Transform.identity(),
])
def test_register_recovers_a_known_similarity(true):
    src, ref = _case(true)
    est = register(src, ref)
    t = est.transform
    assert abs(t.scale - true.scale) < 0.005
    assert abs(t.rotation_deg - true.rotation_deg) < 0.2
    assert _corner_error(t, true, src.shape[:2]) < 0.5  # pixels, at the frame's corners
    assert est.score < 0.1


def test_register_recovers_larger_motion_on_larger_frames():
    true = Transform.similarity(1.15, -5.0, (10.0, -6.0))
    src, ref = _case(true, size=(192, 256), reference_size=(96, 128))
    t = register(src, ref).transform
    assert _corner_error(t, true, src.shape[:2]) < 0.5


def test_register_refuses_or_scores_unrelated_pictures_high():
    window, origin = source_window("astronaut", (96, 128), 0)
    src = faded(window, 0)
    other = reference_frame("coffee", origin, Transform.identity(), (96, 128), (48, 64))
    try:
        t = register(src, other).transform
    except align.AlignmentError:
        return
    aligned = oiio.warp(other, t.compose(stretch((64, 48), (128, 96))).array, window=(0, 0, 128, 96))
    assert residual_score(align.luma(src), align.luma(aligned), sigma=2.0) > DEFAULT_THRESHOLD


def test_residual_ranks_alignment_quality():
    true = Transform.identity()
    src, ref = _case(true)
    d = stretch((64, 48), (128, 96))
    scores = []
    for shift in (0.0, 1.0, 3.0):
        aligned = oiio.warp(ref, Transform.similarity(1.0, 0.0, (shift, shift)).compose(d).array, window=(0, 0, 128, 96))
        m = 6  # leave out the edge the shift uncovers
        scores.append(residual_score(align.luma(src)[m:-m, m:-m], align.luma(aligned)[m:-m, m:-m], sigma=2.0))
    other = reference_frame("coffee", (150, 100), true, (96, 128), (48, 64))
    unrelated = oiio.warp(other, d.array, window=(0, 0, 128, 96))
    scores.append(residual_score(align.luma(src), align.luma(unrelated), sigma=2.0))
    assert scores == sorted(scores)
    assert scores[0] < 0.02 < DEFAULT_THRESHOLD < 0.8 < scores[-1]


def test_tone_difference_does_not_count_as_misalignment():
    # The same picture through a 2.2 power and a gain: structure identical, residual near zero.
    window, _ = source_window("rocket", (96, 128), 0)
    y = align.luma(window)
    assert residual_score(0.5 * y ** 2.2 + 0.1, y) < 0.01


def test_transform_json_round_trip_and_inverse():
    t = Transform.similarity(1.02, 1.0, (3.0, -2.0))
    rec = t.as_record()
    again = Transform.from_array(rec["matrix"])
    assert again == t
    assert rec["scale"] == pytest.approx(1.02) and rec["rotation_deg"] == pytest.approx(1.0)
    assert np.allclose(t.compose(t.inverse()).array, Transform.identity().array)
    with pytest.raises(ValueError):
        Transform.from_array([[0, 0, 1], [0, 0, 2]])


def test_median_of_even_size_does_not_shift_edges():
    img = np.zeros((32, 32, 1), np.float32)
    img[:, 16:] = 1.0
    out = median(img, 10)
    assert np.array_equal(out, img)  # a straight edge is a fixed point of a centred median
    assert median_footprint(10).shape == (11, 11)
    assert np.array_equal(median_footprint(10), median_footprint(10)[::-1, ::-1])


def test_median_removes_dust_but_keeps_flat_colour():
    rng = np.random.default_rng(0)
    img = np.full((40, 40, 3), [0.2, 0.5, 0.7], np.float32)
    dust = rng.integers(0, 40, size=(12, 2))
    img[dust[:, 0], dust[:, 1]] = 1.0
    out = median(img, 4)
    assert np.allclose(out, [0.2, 0.5, 0.7])
