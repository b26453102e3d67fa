"""Overlapping tiles with seamless blending: the weights, and tiled == untiled on real ONNX models."""

from __future__ import annotations

import numpy as np
import pytest
from support.infer import conv_stack_model, ycc_image

from archivist.inference import backends, tiling


@pytest.mark.parametrize("length,tile,overlap,align", [
    (100, 40, 8, 1), (74, 40, 8, 1), (97, 32, 16, 4), (1556, 512, 128, 16), (48, 16, 8, 8), (33, 32, 8, 1),
])
def test_spans_cover_the_axis_and_weights_sum_to_one(length, tile, overlap, align):
    spans = tiling.spans(length, tile, overlap, align)
    assert spans[0].start == 0 and spans[-1].end == length
    total = np.zeros(length)
    for s, w in zip(spans, tiling.axis_weights(spans)):
        assert s.start % align == 0
        assert w.shape == (s.size,) and (w >= 0).all()
        total[s.start:s.end] += w
    assert np.allclose(total, 1.0, rtol=0, atol=1e-14)
    for a, b in zip(spans, spans[1:]):
        assert b.start < a.end, "neighbouring tiles must overlap"


def test_a_tile_edge_never_contributes():
    # The quarter of an overlap next to a tile's inner edge has weight zero.
    spans = tiling.spans(100, 40, 16)
    w = tiling.axis_weights(spans)
    first, second = spans[0], spans[1]
    assert (w[0][-first.trail // 4:] == 0).all()
    assert (w[1][:second.lead // 4] == 0).all()


def test_bad_tiling_is_refused():
    with pytest.raises(ValueError):
        tiling.spans(100, 16, 16)


def test_tiled_equals_untiled_with_onnxruntime():
    model = backends.create("ort-cpu", conv_stack_model(layers=3), threads=1)
    img = ycc_image(72, 104)
    full = model(img[None])[0]
    # Overlap 16: each tile discards 4 px at an inner edge, more than the 3 px receptive radius.
    plan = tiling.plan(72, 104, 32, 16)
    assert plan.count > 4
    tiled = tiling.run_tiled(img, model, plan, batch=3)
    assert tiled.shape == full.shape
    assert np.abs(tiled - full).max() <= 1e-6
    # Pixels covered by one tile alone are that tile's output bit for bit.
    assert np.array_equal(tiled[:, :8, :8], full[:, :8, :8])


def test_too_little_overlap_shows_and_blending_keeps_it_smooth():
    model = backends.create("ort-cpu", conv_stack_model(layers=3), threads=1)
    img = ycc_image(64, 96)
    full = model(img[None])[0]
    tiled = tiling.run_tiled(img, model, tiling.plan(64, 96, 32, 4), batch=1)
    err = np.abs(tiled - full)
    assert err.max() > 1e-4  # the model sees zero padding inside the frame
    assert np.isfinite(tiled).all() and err.mean() < 0.05


def test_model_that_changes_the_tile_size_is_refused():
    def shrink(x):
        return x[:, :, 1:, :]

    with pytest.raises(ValueError, match="returned"):
        tiling.run_tiled(np.zeros((3, 40, 40), np.float32), shrink, tiling.plan(40, 40, 24, 8))
