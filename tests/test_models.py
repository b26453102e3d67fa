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
def test_untrained_model_is_the_identity(mode, size, tone):
    x = ycc_input(37, 53)  # odd sizes: not multiples of any stride
    with torch.no_grad():
        y = models.build(models.architecture(mode, size, tone))(x)
    if mode == "spatial":
        assert torch.equal(y, x)
    else:  # the identity lattice interpolates its nodes: exact up to float rounding
        assert (y - x).abs().max() < 1e-6
        assert tone or torch.equal(y[:, 0], x[:, 0])


@pytest.mark.parametrize("tone", [False, True])
def test_version_1_chroma_model_still_builds_and_is_exactly_the_identity(tone):
    arch = {**models.architecture("chroma", "small", tone), "version": 1, "name": "chroma-affine-field-unet"}
    model = models.build(arch)
    assert isinstance(model, models.ChromaNet)
    x = ycc_input(37, 53)
    with torch.no_grad():
        assert torch.equal(model(x), x)


def _pairs(seed: int = 0, n: int = 2, h: int = 48, w: int = 64):
    """Grainy faded-looking sources and their 'reference' colours: a non-linear colour map of the source."""
    from archivist.imaging import colour

    rng = np.random.default_rng(seed)
    inputs, truths = [], []
    for _ in range(n):
        base = rng.random((h // 8, w // 8, 3))
        src = np.clip(np.kron(base, np.ones((8, 8, 1))) + rng.normal(0, 0.01, (h, w, 3)), 0, 1)
        ref = np.clip(np.stack([src[..., 0] ** 1.3, 0.8 * src[..., 1] + 0.1, src[..., 2] ** 0.8], -1), 0, 1)
        inputs.append(torch.from_numpy(colour.rgb_to_ycbcr(src, KR, KB).transpose(2, 0, 1).astype(np.float32)))
        truths.append(torch.from_numpy(ref.transpose(2, 0, 1).astype(np.float32)))
    return inputs, truths


KR, KB = 0.2126, 0.0722


def test_lattice_interpolates_exactly_as_the_qc_lut_does():
    from archivist.qc import lut

    rng = np.random.default_rng(3)
    lo, hi = np.array([0.05, -0.3, -0.25]), np.array([0.9, 0.35, 0.3])
    table = lut.identity(5, lo, hi) + rng.normal(0, 0.05, (5, 5, 5, 3))
    lat = models.Lattice(5)
    lat.set(torch.from_numpy(table).float(), torch.from_numpy(lo).float(), torch.from_numpy(hi).float())
    x = ycc_input(19, 23, seed=4)  # partly outside the domain: both clamp
    with torch.no_grad():
        got = lat(x)[0].numpy().transpose(1, 2, 0)
    want = lut.Lut3D(table.astype(np.float32), tuple(lo), tuple(hi)).apply(x[0].numpy().transpose(1, 2, 0))
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("tone", [False, True])
def test_untrained_lattice_model_is_its_fitted_lut_frame_field_and_filter(tone):
    inputs, truths = _pairs()
    model = models.build(models.architecture("chroma", "small", tone)).eval()
    report = models.fit_lattice(model, inputs, truths, KR, KB)
    assert report["converged"] and report["nodes_solved"] > 0
    assert report["frame_field"]["rms_after"] <= report["frame_field"]["rms_before"]
    x = inputs[0][None]
    h, w = x.shape[-2:]
    with torch.no_grad():
        y = model(x)
        mapped = model.lattice(x)
        coeffs = model.identity + model.frame_field(h, w)
        corrected = models.apply_affine(coeffs, torch.cat([x[:, :1], mapped[:, 1:]], dim=1))
        filtered = model.denoise(torch.cat([x[:, :1], corrected], dim=1))
    assert report["grain_covariance"] == [float(v) for v in model.denoise.noise]
    assert torch.allclose(y[:, 1:], filtered, atol=1e-6)  # the learned field adds nothing yet
    if tone:  # the lattice's luma correction, low-passed, on the source's luma
        want = x[:, :1] + models.GaussianBlur(models.TONE_LOWPASS)(mapped[:, :1] - x[:, :1])
        assert torch.allclose(y[:, :1], want, atol=1e-6)
        assert not torch.allclose(y[:, :1], x[:, :1], atol=1e-3)
    else:
        assert torch.equal(y[:, 0], x[:, 0])
    # The fitted lattice moves the source most of the way to the truth's chroma.
    from archivist.imaging import colour

    t = colour.rgb_to_ycbcr(truths[0].numpy().transpose(1, 2, 0).astype(np.float64), KR, KB).transpose(2, 0, 1)
    before = np.abs(x[0, 1:].numpy() - t[1:]).mean()
    after = np.abs(mapped[0, 1:].numpy() - t[1:]).mean()
    assert after < 0.3 * before


def test_fitted_lattice_travels_in_the_state_dict():
    inputs, truths = _pairs(1)
    arch = models.architecture("chroma", "small")
    model = models.build(arch)
    models.fit_lattice(model, inputs, truths, KR, KB)
    fresh = models.build(arch)
    fresh.load_state_dict(model.state_dict(), strict=True)
    x = inputs[1][None]
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    assert not torch.equal(fresh.lattice.table, models.build(arch).lattice.table)


def test_lattice_model_matches_onnxruntime():
    from archivist.training import export

    inputs, truths = _pairs(2)
    model = randomised(models.architecture("chroma", "small", tone=True), scale=0.05)
    models.fit_lattice(model, inputs, truths, KR, KB)
    with torch.no_grad():  # the frame field's resize to the input's size is in the graph too
        model.frame_field.grid.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    data = export.to_onnx(model, {})
    x = ycc_input(40, 56, seed=5).numpy()
    sess = export.ort_session(data)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-4


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
    assert isinstance(models.build(arch), models.ChromaLatticeNet)
    assert models.build(models.architecture("chroma", "small"))(ycc_input(8, 8)).shape == (1, 3, 8, 8)
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


def _flat_with_grain(h=64, w=64, seed=0, amp=0.02):
    """A frame of two flat colour halves split by a luma and chroma edge, plus correlated grain."""
    gen = torch.Generator().manual_seed(seed)
    clean = torch.zeros(1, 3, h, w)
    clean[:, 0, :, : w // 2], clean[:, 0, :, w // 2:] = 0.3, 0.6
    clean[:, 1, :, : w // 2], clean[:, 1, :, w // 2:] = -0.1, 0.08
    clean[:, 2, :, : w // 2], clean[:, 2, :, w // 2:] = 0.05, -0.04
    mix = torch.tensor([[1.0, 0.0, 0.0], [-0.5, 1.0, 0.0], [0.3, 0.2, 1.0]])
    noise = torch.einsum("ij,njhw->nihw", mix, torch.randn(1, 3, h, w, generator=gen)) * amp
    return clean, clean + noise


def test_chroma_filter_pools_grain_and_keeps_an_edge_that_follows_the_luma():
    clean, grainy = _flat_with_grain()
    filt = models.ChromaDenoise(3)
    filt.fit([grainy[0]])
    with torch.no_grad():
        out = filt(grainy)
    before = (grainy[:, 1:] - clean[:, 1:]).pow(2).mean().sqrt()
    after = (out - clean[:, 1:]).pow(2).mean().sqrt()
    assert after < 0.5 * before  # the grain's colour noise is mostly gone
    w = clean.shape[-1]
    step = out[:, :, :, w // 2 + 1].mean(-1) - out[:, :, :, w // 2 - 2].mean(-1)
    want = clean[:, 1:, :, w // 2 + 1].mean(-1) - clean[:, 1:, :, w // 2 - 2].mean(-1)
    assert torch.allclose(step, want, atol=0.02)  # ... and the colour edge beside the luma edge is not smeared


def test_chroma_filter_fit_measures_the_grain_covariance_of_flat_frames():
    gen = torch.Generator().manual_seed(1)
    frame = torch.tensor([0.4, 0.05, -0.02]).view(3, 1, 1) + 0.01 * torch.randn(3, 96, 96, generator=gen)
    filt = models.ChromaDenoise(3, flat=1.0, scale=1.0)
    noise = filt.fit([frame])
    # white noise of variance 1e-4 per channel, seen through (2r+1)^2 windows: (1 - 1/49) of it
    assert noise[0] == pytest.approx(1e-4 * 48 / 49, rel=0.1)
    assert abs(noise[1]) < 1e-5 and abs(noise[4]) < 1e-5


def _edge_fade(frame: tuple[int, int] = (96, 128), size: tuple[int, int] = (56, 72)):
    """Crops of grainy frames whose chroma fades towards the frame's edges, with each crop's window."""
    from scipy import ndimage

    from archivist.imaging import colour

    rng = np.random.default_rng(7)
    fh, fw = frame
    yy, xx = np.meshgrid(np.linspace(-1, 1, fh), np.linspace(-1, 1, fw), indexing="ij")
    keep = (1.0 - 0.6 * (xx ** 2 + yy ** 2) / 2)[..., None]  # chroma left: 1 in the centre, 0.4 in the corners
    inputs, truths, windows = [], [], []
    for y0, x0 in ((0, 0), (fh - size[0], fw - size[1]), (0, fw - size[1]), (fh - size[0], 0)):  # the corners
        orig = ndimage.zoom(rng.random((fh // 16 + 1, fw // 16 + 1, 3)), (16, 16, 1), order=1)[:fh, :fw]
        ycc = colour.rgb_to_ycbcr(orig, KR, KB)
        faded = np.concatenate([ycc[..., :1], ycc[..., 1:] * keep], -1) + rng.normal(0, 0.002, (fh, fw, 3))
        crop = (slice(y0, y0 + size[0]), slice(x0, x0 + size[1]))
        inputs.append(torch.from_numpy(faded[crop].transpose(2, 0, 1).astype(np.float32)))
        truths.append(torch.from_numpy(np.clip(orig[crop], 0, 1).transpose(2, 0, 1).astype(np.float32)))
        windows.append((y0, x0, fh, fw))
    return inputs, truths, windows


def test_frame_field_fit_recovers_a_fade_that_grows_towards_the_frame_edges():
    """A global LUT cannot undo a fade that depends on the place in the frame; the frame field can,
    and only when it is told where each crop lies."""
    from archivist.imaging import colour

    inputs, truths, windows = _edge_fade()

    def chroma_error(model, wins):
        err = []
        with torch.no_grad():
            for i, (x, t) in enumerate(zip(inputs, truths)):
                y = model(x[None], [wins[i]] if wins else None)[0, 1:].numpy()
                want = colour.rgb_to_ycbcr(t.numpy().transpose(1, 2, 0).astype(np.float64), KR, KB)[..., 1:]
                err.append(np.abs(y - want.transpose(2, 0, 1)).mean())
        return float(np.mean(err))

    arch = models.architecture("chroma", "small", True)
    lut_only = models.build(dict(arch, version=3, frame_field=None)).eval()
    models.fit_lattice(lut_only, inputs, truths, KR, KB)
    told = models.build(arch).eval()
    report = models.fit_lattice(told, inputs, truths, KR, KB, windows=windows)["frame_field"]
    assert report["rms_after"] < 0.8 * report["rms_before"]  # measured 0.72
    blind = models.build(arch).eval()
    models.fit_lattice(blind, inputs, truths, KR, KB)  # each crop taken for a whole frame
    e_lut, e_told = chroma_error(lut_only, None), chroma_error(told, windows)
    assert e_told < 0.85 * e_lut  # measured 0.80
    assert e_told < 0.92 * chroma_error(blind, None)  # measured 0.85


def test_a_patch_gets_the_part_of_the_frame_field_its_place_in_the_frame_gets():
    model = models.build(models.architecture("chroma", "small", True)).eval()
    with torch.no_grad():
        model.frame_field.grid.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
        x = ycc_input(72, 100, seed=6)
        whole = model(x)
        patches = model(torch.cat([x[:, :, 8:40, 20:60], x[:, :, 30:62, 52:92]]), [(8, 20, 72, 100), (30, 52, 72, 100)])
    assert torch.allclose(patches[0], whole[0, :, 8:40, 20:60], atol=1e-6)
    assert torch.allclose(patches[1], whole[0, :, 30:62, 52:92], atol=1e-6)
    assert not torch.allclose(model(x[:, :, 8:40, 20:60])[0], whole[0, :, 8:40, 20:60], atol=1e-3)


def test_archived_chroma_architectures_still_build():
    v2 = dict(models.architecture("chroma", "small", True), version=2)
    v2.pop("chroma_filter")
    assert models.build(v2).denoise is None
    v3 = dict(models.architecture("chroma", "small", True), version=3)
    assert models.build(v3).frame_field is None and models.build(v3).denoise is not None
    assert models.whole_frames(models.architecture("chroma", "small")) and not models.whole_frames(v3)
    assert models.build(models.architecture("chroma", "small", True)).denoise is not None


@pytest.mark.parametrize("h,w", [(37, 53), (6, 5)])
def test_what_torch_export_traces_of_the_grain_filter_is_forward_bit_for_bit(h, w):
    # What torch.export traces (stacked channels) must be forward's arithmetic bit for bit, signed zeros too.
    filt = models.ChromaDenoise()
    with torch.no_grad():
        filt.noise.copy_(torch.tensor([1e-3, 1e-4, -2e-4, 2e-3, 1e-4, 3e-3]))
    x = torch.cat([ycc_input(h, w, seed=3), torch.zeros(1, 3, h, w), torch.full((1, 3, h, w), -0.0)])
    x[:, 1:] *= 0.3
    with torch.no_grad():
        want, got = filt(x), filt._stacked(x)
    assert torch.equal(got.view(torch.int32), want.view(torch.int32))
    assert not torch.equal(want, x[:, 1:])  # the filter did something
