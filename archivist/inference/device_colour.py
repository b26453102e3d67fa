"""The run's colour conversions as PyTorch operations, on the device the model runs on.

With the model on a GPU, the host's share of a frame (decode, the
conversions, encode) is what limits a run; the two conversions are cheap
elementwise arithmetic that a GPU does in microseconds, and doing them there
also means one upload of R'G'B' and one download of half-float ACES per
frame instead of float32 planes both ways.

The formulas are the CPU path's:

* to the model: ``archivist.imaging.colour.rgb_to_planar``, the same float32
  operations in the same order (bit-identical on CPU tensors);
* back and to ACES 2065-1: ``colour.planar_to_rgb``, then the operations of
  the OpenColorIO processor that ``archivist.inference.aces`` uses, read from
  the processor itself (``createGroupTransform``), so the config, pinned by
  name, stays the single definition of the transform. Matrices, exponents
  (the BT.1886 gamma 2.4 of Rec.709), the sRGB-style exponent with a linear
  segment and the camera log curves (ACEScct) are implemented; a colour space
  whose processor holds anything else (a 1D LUT: ACEScc, some camera logs)
  is refused with ``NotOnDevice`` and the run converts on the CPU instead.

OpenColorIO's CPU processor uses fast approximations of ``pow``; the device
results agree with it within the run's recorded reproducibility tolerance,
not bit for bit (tested on CPU tensors and, where CUDA is present, on the
GPU). Every tensor here is float32; nothing is clamped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from archivist.inference import aces

if TYPE_CHECKING:
    from torch import Tensor


class NotOnDevice(ValueError):
    """The colour space's transform has an operation this module does not implement."""


@dataclass(frozen=True)
class _Op:
    kind: str  # matrix, power, moncurve, camera_log_inverse
    params: tuple


def _exponent(t: Any) -> _Op:
    style = str(t.getNegativeStyle()).rsplit(".", 1)[-1].lower()
    values = tuple(float(v) for v in t.getValue()[:3])
    if str(t.getDirection()).endswith("INVERSE"):
        values = tuple(1.0 / v for v in values)
    if style not in ("negative_pass_thru", "negative_clamp", "negative_mirror", "pass_thru", "clamp", "mirror"):
        raise NotOnDevice(f"exponent style {style}")
    return _Op("power", (values, style.removeprefix("negative_")))


def _moncurve(t: Any) -> _Op:
    if str(t.getDirection()).endswith("INVERSE"):
        raise NotOnDevice("inverse exponent with linear segment")
    style = str(t.getNegativeStyle()).rsplit(".", 1)[-1].lower().removeprefix("negative_")
    if style != "linear":
        raise NotOnDevice(f"exponent with linear segment, style {style}")
    gammas = tuple(float(v) for v in t.getGamma()[:3])
    offsets = tuple(float(v) for v in t.getOffset()[:3])
    return _Op("moncurve", (gammas, offsets))


def _camera_log(t: Any) -> _Op:
    if not str(t.getDirection()).endswith("INVERSE"):
        raise NotOnDevice("forward camera log (linear to log)")
    base = float(t.getBase())
    params = [tuple(float(v) for v in f()[:3]) for f in (t.getLogSideSlopeValue, t.getLogSideOffsetValue,
                                                          t.getLinSideSlopeValue, t.getLinSideOffsetValue)]
    brk = tuple(float(v) for v in t.getLinSideBreakValue()[:3])
    return _Op("camera_log_inverse", (base, *params, brk))


def _matrix(t: Any) -> _Op:
    if str(t.getDirection()).endswith("INVERSE"):
        raise NotOnDevice("inverse matrix")
    m = np.asarray(t.getMatrix(), dtype=np.float64).reshape(4, 4)
    off = np.asarray(t.getOffset(), dtype=np.float64)
    if np.any(m[:3, 3] != 0) or np.any(m[3, :3] != 0):
        raise NotOnDevice("matrix mixing alpha into colour")
    return _Op("matrix", (tuple(map(tuple, m[:3, :3])), tuple(off[:3])))


def operations(source: str) -> tuple[_Op, ...]:
    """The operations of ``aces``' processor from config colour space ``source`` to ACES 2065-1.

    >>> [op.kind for op in operations("Gamma 2.4 Rec.709 - Texture")]
    ['power', 'matrix']
    >>> try:
    ...     operations("ACEScc")
    ... except NotOnDevice as exc:
    ...     print("refused")
    refused
    """
    import PyOpenColorIO as ocio

    if source == aces.DESTINATION:
        return ()
    group = aces.config().getProcessor(source, aces.DESTINATION).createGroupTransform()
    ops = []
    for t in group:
        if isinstance(t, ocio.MatrixTransform):
            ops.append(_matrix(t))
        elif isinstance(t, ocio.ExponentTransform):
            ops.append(_exponent(t))
        elif isinstance(t, ocio.ExponentWithLinearTransform):
            ops.append(_moncurve(t))
        elif isinstance(t, ocio.LogCameraTransform):
            ops.append(_camera_log(t))
        else:
            raise NotOnDevice(f"{source} to {aces.DESTINATION} needs a {type(t).__name__}, not done on the device")
    return tuple(ops)


def supported(source: str) -> bool:
    """Whether ``source`` to ACES 2065-1 can run on the device."""
    try:
        operations(source)
    except NotOnDevice:
        return False
    return True


def _apply(op: _Op, c: list[Tensor], i: int) -> Tensor:
    """One operation on channel ``i`` (a float32 tensor) of a colour transform; ``c`` holds all three."""
    import torch

    x = c[i]
    if op.kind == "power":
        values, style = op.params
        g = values[i]
        if style == "clamp":
            return torch.clamp(x, min=0.0).pow(g)
        if style == "mirror":
            return torch.sign(x) * x.abs().pow(g)
        return torch.where(x > 0, x.clamp(min=0.0).pow(g), x)  # pass_thru: negatives unchanged
    if op.kind == "moncurve":
        gammas, offsets = op.params
        g, off = gammas[i], offsets[i]
        brk = off / (g - 1.0)
        slope = ((brk + off) / (1.0 + off)) ** g / brk
        curve = ((x.clamp(min=brk) + off) / (1.0 + off)).pow(g)
        return torch.where(x > brk, curve, x * slope)
    if op.kind == "camera_log_inverse":
        base, log_slope, log_off, lin_slope, lin_off, brk = op.params
        ls, lo, ms, mo, b = log_slope[i], log_off[i], lin_slope[i], lin_off[i], brk[i]
        log_break = ls * math.log(ms * b + mo, base) + lo
        linear_slope = ls * ms / ((ms * b + mo) * math.log(base))
        linear_offset = log_break - linear_slope * b
        curve = (torch.pow(base, (x - lo) / ls) - mo) / ms
        return torch.where(x > log_break, curve, (x - linear_offset) / linear_slope)
    raise AssertionError(op.kind)


class DeviceColour:
    """A run's two conversions on torch tensors: R'G'B' to the model's Y'CbCr, and back to ACES 2065-1.

    Args:
        kr: luma coefficient of red, from the dataset.
        kb: luma coefficient of blue.
        source: the OpenColorIO colour space of the source frames (``aces.resolve``).
    """

    def __init__(self, kr: float, kb: float, source: str):
        self.kr, self.kb, self.source = float(kr), float(kb), source
        self.ops = operations(source)

    def to_model(self, rgb: Tensor) -> Tensor:
        """R'G'B' frame to the model's planes, as ``colour.rgb_to_planar``.

        Args:
            rgb: float32 tensor.

        Returns:
            float32 tensor on ``rgb``'s device.

        Shape:
            - rgb: (H, W, 3)
            - output: (3, H, W)
        """
        import torch

        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) frame, got shape {tuple(rgb.shape)}")
        kr, kb = self.kr, self.kb
        kg = 1.0 - kr - kb
        r, g, b = rgb[..., 0].float(), rgb[..., 1].float(), rgb[..., 2].float()
        # float32 constants and the CPU path's order of operations, so CPU tensors give its bits.
        f32 = np.float32
        y = r * float(f32(kr))
        y = y + float(f32(kg)) * g
        y = y + float(f32(kb)) * b
        cb = (b - y) * float(f32(1.0 / (2.0 * (1.0 - kb))))
        cr = (r - y) * float(f32(1.0 / (2.0 * (1.0 - kr))))
        return torch.stack([y, cb, cr])

    def to_rgb(self, ycc: Tensor) -> Tensor:
        """The model's planes back to R'G'B', as ``colour.planar_to_rgb``.

        Shape:
            - ycc: (3, H, W) or (1, 3, H, W)
            - output: (3, H, W) channel planes R', G', B'
        """
        import torch

        if ycc.ndim == 4 and ycc.shape[0] == 1:
            ycc = ycc[0]
        if ycc.ndim != 3 or ycc.shape[0] != 3:
            raise ValueError(f"expected (3, H, W) planes, got shape {tuple(ycc.shape)}")
        kr, kb = self.kr, self.kb
        kg = 1.0 - kr - kb
        f32 = np.float32
        y, cb, cr = ycc[0].float(), ycc[1].float(), ycc[2].float()
        r = y + float(f32(2.0 * (1.0 - kr))) * cr
        b = y + float(f32(2.0 * (1.0 - kb))) * cb
        g = y - float(f32(kr)) * r
        g = g - float(f32(kb)) * b
        g = g * float(f32(1.0 / kg))
        return torch.stack([r, g, b])

    def to_aces(self, ycc: Tensor) -> Tensor:
        """The model's output to ACES 2065-1, interleaved for the EXR writer.

        Args:
            ycc: float32 tensor, the model's output.

        Returns:
            float32 tensor on ``ycc``'s device.

        Shape:
            - ycc: (3, H, W) or (1, 3, H, W)
            - output: (H, W, 3)
        """
        import torch

        c = list(self.to_rgb(ycc))
        for op in self.ops:
            if op.kind == "matrix":
                m, off = op.params
                c = [c[0] * m[j][0] + c[1] * m[j][1] + c[2] * m[j][2] + off[j] for j in range(3)]
            else:
                c = [_apply(op, c, i) for i in range(3)]
        return torch.stack(c, dim=-1)

    def to_aces_half(self, ycc: Tensor) -> np.ndarray:
        """``to_aces`` rounded to half on the device (to nearest even, as NumPy rounds) and fetched.

        Shape:
            - ycc: (3, H, W) or (1, 3, H, W)
            - output: (H, W, 3) float16 NumPy array
        """
        import torch

        return self.to_aces(ycc).to(torch.float16).cpu().numpy()
