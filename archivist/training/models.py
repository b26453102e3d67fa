"""Restoration network architectures, all working in Y'CbCr.

Every model maps a source frame in Y'CbCr (N, 3, H, W), float32, Y in
[0, 1] and Cb, Cr centred on 0, to a restored frame in the same space and
layout. Each starts as the identity: its last layer is zero-initialised,
so an untrained model returns its input exactly, and training moves it
away from that baseline only as far as the data asks.

- ``ChromaNet`` (chroma mode): a small U-Net at 1/4 resolution predicts
  a smooth field of 2x4 affine colour transforms, one per pixel after
  bilinear upsampling, applied at full resolution to (Y, Cb, Cr, 1). The
  chroma thus keeps the source's own fine structure; only the transform
  is low-resolution. Y is copied from the input tensor, so the source luma
  passes through bit-exactly. With ``tone`` the U-Net also predicts a
  low-resolution luma offset, upsampled smoothly and added to Y: the
  correction is low-frequency by construction, so the source's grain and
  detail pass through unchanged.
- ``SpatialNet`` (spatial mode): a full-resolution U-Net predicts a luma
  residual that is band-limited by a fixed Gaussian (sigma 1.25 px) before
  it is added to Y. It can add mid-frequency detail but has almost no gain
  at periods of 3 px and less, where film grain lives, so it cannot smooth
  the grain away. Cb and Cr pass through bit-exactly.

Shapes are dynamic: any batch, height and width work (upsampled features
are cropped to the encoder's sizes), and everything exports to ONNX.
Upsampling is bilinear, built from a transposed convolution so that the
backward pass is deterministic on CUDA too.
"""

from __future__ import annotations

import math
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from archivist.training import targets

ARCH_VERSION = 1
MODES = ("chroma", "spatial")
SIZES = ("small", "medium", "large")

# U-Net widths per level; chosen so chroma medium sits in the 100-300k
# parameter range that measurements on 2-core machines favour.
WIDTHS = {
    "chroma": {"small": (16, 32, 64), "medium": (24, 48, 96), "large": (32, 64, 128)},
    "spatial": {"small": (8, 16, 32), "medium": (16, 32, 64), "large": (24, 48, 96)},
}
CHROMA_SCALE = 4  # the chroma U-Net works at 1/4 resolution
GRAIN_SIGMA = targets.GRAIN_SIGMA  # the spatial residual's band limit, in pixels
NEGATIVE_SLOPE = 0.1


def _act() -> nn.Module:
    return nn.LeakyReLU(NEGATIVE_SLOPE)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), _act(),
                         nn.Conv2d(cout, cout, 3, padding=1), _act())


def bilinear_kernel1d(factor: int) -> torch.Tensor:
    """Weights of bilinear upsampling by an integer factor (pixel centres, no corner alignment).

    >>> bilinear_kernel1d(2).tolist()
    [0.25, 0.75, 0.75, 0.25]
    """
    t = torch.arange(2 * factor, dtype=torch.float64) - factor // 2
    return (1 - ((t + 0.5) / factor - 0.5).abs()).to(torch.float32)


class Upsample(nn.Module):
    """Bilinear upsampling by an even integer factor, cropped to a target size.

    Equal to ``F.interpolate(..., mode="bilinear", align_corners=False)``
    (edges clamped) but built from replicate padding and a depthwise
    transposed convolution, whose gradient is deterministic on CUDA where
    interpolate's is not.

    >>> x = torch.rand(1, 2, 5, 6)
    >>> ref = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    >>> bool((Upsample(4)(x, 20, 24) - ref).abs().max() < 1e-6)
    True
    """

    def __init__(self, factor: int):
        super().__init__()
        if factor < 2 or factor % 2:
            raise ValueError("factor must be an even integer")
        self.factor = factor
        k = bilinear_kernel1d(factor)
        self.register_buffer("kernel", (k[:, None] * k[None, :])[None, None], persistent=False)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        c = x.shape[1]
        w = self.kernel.expand(c, 1, -1, -1)
        y = F.conv_transpose2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, stride=self.factor, groups=c)
        s = 3 * self.factor // 2
        return y[:, :, s:s + height, s:s + width]


class UNet(nn.Module):
    """Three-level U-Net with strided-conv downsampling and a zero-initialised 1x1 head."""

    def __init__(self, cin: int, cout: int, widths: tuple[int, int, int]):
        super().__init__()
        w0, w1, w2 = widths
        self.enc0 = _block(cin, w0)
        self.enc1 = _block(w0, w1, stride=2)
        self.enc2 = _block(w1, w2, stride=2)
        self.dec1 = _block(w2 + w1, w1)
        self.dec0 = _block(w1 + w0, w0)
        self.head = nn.Conv2d(w0, cout, 1)
        self.up = Upsample(2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([self.up(e2, e1.shape[-2], e1.shape[-1]), e1], dim=1))
        d0 = self.dec0(torch.cat([self.up(d1, e0.shape[-2], e0.shape[-1]), e0], dim=1))
        return self.head(d0)


def apply_affine(coeffs: torch.Tensor, ycc: torch.Tensor) -> torch.Tensor:
    """Per-pixel affine chroma: (N, 8, H, W) coefficients on (Y, Cb, Cr, 1) -> (N, 2, H, W).

    >>> ycc = torch.rand(1, 3, 2, 2)
    >>> eye = torch.tensor([0., 1, 0, 0, 0, 0, 1, 0]).view(1, 8, 1, 1).expand(1, 8, 2, 2)
    >>> bool(torch.equal(apply_affine(eye, ycc), ycc[:, 1:]))
    True
    """
    y, cb, cr = ycc[:, 0:1], ycc[:, 1:2], ycc[:, 2:3]
    a = coeffs
    out_cb = a[:, 0:1] * y + a[:, 1:2] * cb + a[:, 2:3] * cr + a[:, 3:4]
    out_cr = a[:, 4:5] * y + a[:, 5:6] * cb + a[:, 6:7] * cr + a[:, 7:8]
    return torch.cat([out_cb, out_cr], dim=1)


class ChromaNet(nn.Module):
    """Chroma recovery: a smooth field of affine colour transforms (+ a smooth luma offset with ``tone``)."""

    def __init__(self, size: str = "medium", tone: bool = False):
        super().__init__()
        w0 = WIDTHS["chroma"][size][0]
        self.tone = tone
        # Learned 4x4 "patchify" to 1/4 resolution; the frame is first padded
        # (edge pixels repeated) so that a partial last block still counts.
        self.stem = nn.Sequential(nn.Conv2d(3, w0, CHROMA_SCALE, stride=CHROMA_SCALE), _act())
        self.unet = UNet(w0, 8 + (1 if tone else 0), WIDTHS["chroma"][size])
        self.up = Upsample(CHROMA_SCALE)
        # Global transform, identity at start; the U-Net adds a local delta to it.
        self.register_buffer("identity", torch.tensor([0.0, 1, 0, 0, 0, 0, 1, 0]).view(1, 8, 1, 1),
                             persistent=False)
        self.global_affine = nn.Parameter(torch.zeros(1, 8, 1, 1))

    def forward(self, ycc: torch.Tensor) -> torch.Tensor:
        h, w = ycc.shape[-2], ycc.shape[-1]
        padded = F.pad(ycc, (0, CHROMA_SCALE - 1, 0, CHROMA_SCALE - 1), mode="replicate")
        field = self.up(self.unet(self.stem(padded)), h, w)
        coeffs = self.identity + self.global_affine + field[:, :8]
        chroma = apply_affine(coeffs, ycc)
        y = ycc[:, 0:1]
        if self.tone:
            y = y + field[:, 8:9]
        return torch.cat([y, chroma], dim=1)


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    """A normalised 1-D Gaussian with radius ceil(3 sigma).

    >>> k = gaussian_kernel1d(1.0)
    >>> k.numel(), round(float(k.sum()), 6)
    (7, 1.0)
    """
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(torch.float32)


class SpatialNet(nn.Module):
    """Spatial (detail) recovery: a band-limited luma residual; chroma passes through."""

    def __init__(self, size: str = "medium"):
        super().__init__()
        self.unet = UNet(3, 1, WIDTHS["spatial"][size])
        k = gaussian_kernel1d(GRAIN_SIGMA)
        self.register_buffer("blur_h", k.view(1, 1, 1, -1), persistent=False)
        self.register_buffer("blur_v", k.view(1, 1, -1, 1), persistent=False)
        self.radius = (k.numel() - 1) // 2

    def forward(self, ycc: torch.Tensor) -> torch.Tensor:
        r = self.unet(ycc)
        r = F.conv2d(r, self.blur_h, padding=(0, self.radius))
        r = F.conv2d(r, self.blur_v, padding=(self.radius, 0))
        return torch.cat([ycc[:, 0:1] + r, ycc[:, 1:3]], dim=1)


def architecture(mode: str, size: str, tone: bool = False) -> dict:
    """The JSON description of an architecture, enough to rebuild it."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    if mode == "spatial" and tone:
        raise ValueError("tone applies to chroma mode only")
    name = "chroma-affine-field-unet" if mode == "chroma" else "spatial-bandlimited-residual-unet"
    out = {"name": name, "version": ARCH_VERSION, "mode": mode, "size": size, "tone": bool(tone),
           "widths": list(WIDTHS[mode][size]), "activation": f"leaky_relu({NEGATIVE_SLOPE})"}
    if mode == "chroma":
        out["working_scale"] = CHROMA_SCALE
    else:
        out["grain_sigma"] = GRAIN_SIGMA
    return out


def build(arch: dict) -> nn.Module:
    """Instantiate the module an ``architecture`` dict describes (weights freshly initialised)."""
    if arch.get("version") != ARCH_VERSION:
        raise ValueError(f"unknown architecture version {arch.get('version')!r}")
    if arch["mode"] == "chroma":
        return ChromaNet(arch["size"], tone=arch.get("tone", False))
    if arch["mode"] == "spatial":
        return SpatialNet(arch["size"])
    raise ValueError(f"unknown mode {arch['mode']!r}")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_pixel(model: nn.Module, size: int = 256) -> float:
    """Multiply-accumulates per output pixel (convolutions and matmuls, via FlopCounterMode)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, size, size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 2 / (size * size)


def complexity(mode: str, size: str, tone: bool = False) -> dict:
    """Parameter count and MACs per pixel of one architecture."""
    model = build(architecture(mode, size, tone)).eval()
    return {"parameters": parameter_count(model), "macs_per_pixel": round(macs_per_pixel(model))}


def alignment(arch: dict) -> int:
    """The network's total downsampling: tiles that start on multiples of it see the same sampling phase."""
    return CHROMA_SCALE * 4 if arch["mode"] == "chroma" else 4


def receptive_radius(arch: dict) -> int:
    """How far (in pixels) an input pixel can influence an output pixel, measured by a gradient probe.

    The probe gives every weight a non-zero value (a trained model may have
    any) and takes the gradient of one output pixel per sampling phase (the
    strided layers make the reach depend on the phase; geometry is separable,
    so the diagonal phases cover both axes), reporting the farthest input
    pixel any of them reaches. Inference tiles need overlaps at least this
    wide to match an untiled run. The radius depends on kernels and strides,
    not widths, so the probe runs the small size of the same design.
    """
    return _radius(arch["mode"], bool(arch.get("tone")))


@cache
def _radius(mode: str, tone: bool, size: int = 288) -> int:
    arch = architecture(mode, "small", tone)
    phases = alignment(arch)
    gen = torch.Generator().manual_seed(0)
    model = build(arch)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    x = torch.rand(phases, 3, size, size, generator=gen, requires_grad=True)
    c = size // 2 - phases
    out = model(x)
    torch.stack([out[k, :, c + k, c + k].sum() for k in range(phases)]).sum().backward()
    reach = 0
    for k in range(phases):
        hit = (x.grad[k].abs().sum(0) > 0).nonzero()
        if hit.numel():
            if int(hit.min()) == 0 or int(hit.max()) == size - 1:
                raise RuntimeError("receptive field probe too small")
            reach = max(reach, int((hit - (c + k)).abs().max()))
    return reach
