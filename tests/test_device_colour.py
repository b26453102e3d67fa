"""The colour conversions on torch tensors against the CPU path (NumPy and OpenColorIO)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from support.common import photo  # noqa: E402

from archivist.imaging import colour  # noqa: E402
from archivist.inference import aces, backends, device_colour, runner  # noqa: E402

KR, KB = 0.2126, 0.0722
SPACES = ["Rec.709", "sRGB", "scene-linear Rec.709", "ACEScg", "ACEScct", "linear Rec.2020", "ACES2065-1"]


def _frame() -> np.ndarray:
    """A real photograph with values a model's output has: a little below 0 and above 1."""
    img = photo("astronaut")[96:160, 128:208]
    rng = np.random.default_rng(3)
    return np.ascontiguousarray(img * 1.2 - 0.1 + rng.normal(0, 0.02, img.shape), dtype=np.float32)


def _cpu_aces(ycc: np.ndarray, source: str) -> np.ndarray:
    return aces.AcesConversion(source).apply_inplace(colour.planar_to_rgb(ycc, KR, KB))


def test_to_the_model_and_back_are_the_cpu_paths_bits():
    rgb = _frame()
    conv = device_colour.DeviceColour(KR, KB, aces.resolve("Rec.709"))
    ycc = conv.to_model(torch.from_numpy(rgb)).numpy()
    assert np.array_equal(ycc, colour.rgb_to_planar(rgb, KR, KB))
    back = conv.to_rgb(torch.from_numpy(ycc)).numpy()
    assert np.array_equal(np.moveaxis(back, 0, -1), colour.planar_to_rgb(ycc, KR, KB))


@pytest.mark.parametrize("space", SPACES)
def test_aces_on_tensors_matches_opencolorio_within_the_recorded_tolerance(space):
    source = aces.resolve(space)
    ycc = colour.rgb_to_planar(_frame(), KR, KB)
    got = device_colour.DeviceColour(KR, KB, source).to_aces(torch.from_numpy(ycc)[None]).numpy()
    want = _cpu_aces(ycc, source)
    assert got.shape == want.shape == (64, 80, 3)
    result = backends.compare(got, want, runner.DEFAULT_TOLERANCE)
    assert result["passed"], result
    half = device_colour.DeviceColour(KR, KB, source).to_aces_half(torch.from_numpy(ycc))
    assert half.dtype == np.float16
    assert backends.compare(half.astype(np.float32), want.astype(np.float16).astype(np.float32),
                            runner.DEFAULT_TOLERANCE)["passed"]


def test_a_wrong_transform_is_caught():
    """The comparison can fail: Rec.709 decoded as sRGB is outside the tolerance."""
    ycc = colour.rgb_to_planar(_frame(), KR, KB)
    got = device_colour.DeviceColour(KR, KB, aces.resolve("sRGB")).to_aces(torch.from_numpy(ycc)).numpy()
    assert not backends.compare(got, _cpu_aces(ycc, aces.resolve("Rec.709")), runner.DEFAULT_TOLERANCE)["passed"]


def test_a_transform_with_a_lut_is_refused():
    assert not device_colour.supported("ACEScc")
    with pytest.raises(device_colour.NotOnDevice, match="RangeTransform|Lut1D"):
        device_colour.DeviceColour(KR, KB, "ACEScc")
    assert device_colour.supported(aces.resolve("Rec.709"))


@pytest.mark.gpu
def test_on_cuda_matches_the_cpu_path():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rgb = _frame()
    conv = device_colour.DeviceColour(KR, KB, aces.resolve("Rec.709"))
    ycc = conv.to_model(torch.from_numpy(rgb).cuda())
    assert ycc.is_cuda
    want_ycc = colour.rgb_to_planar(rgb, KR, KB)
    assert backends.compare(ycc.cpu().numpy(), want_ycc, runner.DEFAULT_TOLERANCE)["passed"]
    got = conv.to_aces(torch.from_numpy(want_ycc).cuda())
    assert got.is_cuda
    result = backends.compare(got.cpu().numpy(), _cpu_aces(want_ycc, conv.source), runner.DEFAULT_TOLERANCE)
    assert result["passed"], result
