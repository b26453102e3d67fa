"""Architectures: identity at start, bit-exact pass-through, band limits, sizes as documented."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from archivist.training import models

DOCS = Path(__file__).resolve().parent.parent / "docs" / "training.md"
ALL = [("chroma", s, False) for s in models.SIZES] + [("chroma", "medium", True)] + \
      [("spatial", s, False) for s in models.SIZES]


def randomised(arch: dict, seed: int = 1, scale: float = 0.2) -> torch.nn.Module:
    """The architecture with every weight non-zero, as a trained model may have."""
    model = models.build(arch).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def ycc_input(h: int, w: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    y = torch.rand(1, 1, h, w, generator=gen)
    c = torch.rand(1, 2, h, w, generator=gen) - 0.5
    return torch.cat([y, c], dim=1)


def band_fraction(plane: np.ndarray, cutoff: float) -> float:
    """Share of a plane's (non-DC) power at spatial frequencies >= ``cutoff`` cycles per pixel."""
    power = np.abs(np.fft.fft2(plane.astype(np.float64))) ** 2
    fy = np.fft.fftfreq(plane.shape[0])[:, None]
    fx = np.fft.fftfreq(plane.shape[1])[None, :]
    power[0, 0] = 0.0
    return float(power[np.hypot(fy, fx) >= cutoff].sum() / power.sum())


@pytest.mark.parametrize("mode,size,tone", ALL)
def test_untrained_model_is_exactly_the_identity(mode, size, tone):
    x = ycc_input(37, 53)  # odd sizes: not multiples of any stride
    with torch.no_grad():
        assert torch.equal(models.build(models.architecture(mode, size, tone))(x), x)


@pytest.mark.parametrize("h,w", [(64, 96), (37, 53), (4, 5), (130, 17)])
def test_chroma_model_passes_luma_through_bit_exactly(h, w):
    model = randomised(models.architecture("chroma", "small"))
    x = ycc_input(h, w)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.equal(y[:, 0], x[:, 0])
    assert not torch.equal(y[:, 1:], x[:, 1:])  # the chroma did change


def test_spatial_model_passes_chroma_through_and_its_residual_has_no_grain_band():
    model = randomised(models.architecture("spatial", "small"))
    x = ycc_input(128, 128)
    with torch.no_grad():
        y = model(x)
    assert torch.equal(y[:, 1:], x[:, 1:])
    residual = (y[0, 0] - x[0, 0]).numpy()
    assert residual.std() > 0.01
    # White noise has ~62% of its power above 0.35 cycles/px; the band-limited residual almost none,
    # so whatever the weights, the model cannot cancel pixel-scale grain.
    assert band_fraction(residual, 0.35) < 0.005
    assert band_fraction(x[0, 0].numpy() - x[0, 0].numpy().mean(), 0.35) > 0.5


def test_tone_correction_is_low_frequency():
    model = randomised(models.architecture("chroma", "small", tone=True))
    x = ycc_input(128, 128)
    with torch.no_grad():
        y = model(x)
    residual = (y[0, 0] - x[0, 0]).numpy()
    assert residual.std() > 0.01  # the luma does change
    assert band_fraction(residual, 0.25) < 0.05  # white noise: ~0.8


@pytest.mark.parametrize("factor", [2, 4])
def test_upsample_matches_bilinear_interpolation(factor):
    x = torch.rand(2, 5, 7, 9)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    got = models.Upsample(factor)(x, 7 * factor - 1, 9 * factor - 3)
    assert torch.allclose(got, ref[..., :7 * factor - 1, :9 * factor - 3], atol=1e-6)


def test_architecture_round_trips_and_rejects_bad_configurations():
    arch = models.architecture("chroma", "medium", True)
    assert isinstance(models.build(arch), models.ChromaNet)
    with pytest.raises(ValueError):
        models.architecture("spatial", "small", tone=True)
    with pytest.raises(ValueError):
        models.architecture("chroma", "huge")
    with pytest.raises(ValueError):
        models.build({**arch, "version": 99})


def test_receptive_radius_bounds_the_influence_of_a_pixel():
    arch = models.architecture("spatial", "small")
    radius = models.receptive_radius(arch)
    model = randomised(arch)
    x = ycc_input(96, 96)
    x2 = x.clone()
    x2[:, :, 10, 10] += 0.5  # a change at (10, 10) reaches no farther than the radius
    with torch.no_grad():
        diff = (model(x2) - model(x)).abs().sum(1)[0]
    ys, xs = torch.nonzero(diff).T
    assert int(max((ys - 10).abs().max(), (xs - 10).abs().max())) <= radius
    assert models.alignment(arch) == 4 and models.alignment(models.architecture("chroma", "small")) == 16


def test_documented_sizes_match_the_code():
    """docs/training.md lists parameters and MACs per pixel; they must be what the code builds."""
    text = DOCS.read_text("utf-8")
    rows = re.findall(r"^\|\s*(chroma|chroma \+ tone|spatial)\s*\|\s*(small|medium|large)\s*\|\s*([\d,]+)\s*\|"
                      r"\s*([\d,]+)\s*\|", text, re.M)
    assert len(rows) == 9
    for mode, size, params, macs in rows:
        c = models.complexity(mode.split()[0], size, tone="tone" in mode)
        assert int(params.replace(",", "")) == c["parameters"], (mode, size)
        assert int(macs.replace(",", "")) == c["macs_per_pixel"], (mode, size)
