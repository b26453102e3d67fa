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
- ``ChromaLatticeNet`` (chroma mode, architecture versions 2 to 4):
  a colour lattice (a 17^3 3D LUT on the source's Y'CbCr, fitted in closed
  form from the training pairs at the start of a run by regularised
  lattice regression, ``fit_lattice``) followed by the field of affine
  transforms above, applied to the lattice's output and initialised to
  the identity: an untrained model *is* the fitted LUT, and training
  learns only what one global LUT cannot (uneven fading, fading along the
  shot). With ``tone`` the luma the lattice asks for is low-passed
  (Gaussian, ``TONE_LOWPASS`` px) and added to the source's Y, so the
  lightness is corrected and the grain stays the source's. Version 3
  adds a grain-aware chroma filter (``ChromaDenoise``); version 4, the
  default, a frame field (``FrameField``): affine chroma corrections on a
  coarse grid over the frame, fitted in closed form with the lattice, for
  fading that depends on the place in the frame. A model with a frame
  field sees whole frames at inference (its card says ``whole_frames``).
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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archivist.training import targets

ARCH_VERSION = 4  # chroma; versions 1 (ChromaNet), 2 (no chroma filter), 3 (no frame field) still build
SPATIAL_VERSION = 1
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


# Nodes per axis and curvature weight of the colour lattice. A coarser, smoother lattice measured
# slightly closer to the true original on bench_quality's coffee-uniform case (colour-only CIEDE2000
# 1.33 at 17^3 and smoothness 0.05, 1.29 at 9^3 and 1.0) but fitted the demo's small frames worse
# than the LUT baseline did, so the finer one stays.
LATTICE_SIZE = 17
LATTICE_FIT_SIGMA = 2.0  # px: pairs are blurred before the lattice fit (grain and misregistration out of the fit)
LATTICE_SMOOTHNESS = 0.05
LATTICE_SAMPLES = 400_000  # pixels drawn (fixed seed) from the pairs for the fit
TONE_LOWPASS = 2.0  # px: Gaussian on the lattice's luma correction, so grain passes through
# px: the training loss compares output and ground truth after this Gaussian. The reference (a
# DVD: half size, 4:2:0, median-filtered) holds no colour detail finer than this, so a loss at
# full resolution teaches the model to blur the scan's sharp colour edges towards it.
LOSS_LOWPASS = 2.0


class Lattice(nn.Module):
    """A 3D LUT on Y'CbCr with trilinear interpolation, built from gathers (exports to ONNX).

    ``table`` holds ``size**3`` output colours, node index ``i0 + n*i1 + n*n*i2``
    (the ``.cube`` order with Y' as the first axis); ``low`` and ``high``
    bound the domain, and inputs outside it are clamped to it. All three
    are persistent buffers, so they travel in checkpoints and the ONNX
    graph. It starts as the identity over [0, 1] x [-0.5, 0.5]^2.

    >>> lat = Lattice(5)
    >>> x = torch.rand(2, 3, 4, 4) - torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)
    >>> bool((lat(x) - x).abs().max() < 1e-6)
    True
    """

    def __init__(self, size: int = LATTICE_SIZE):
        super().__init__()
        self.size = size
        low, high = torch.tensor([0.0, -0.5, -0.5]), torch.tensor([1.0, 0.5, 0.5])
        self.register_buffer("low", low)
        self.register_buffer("high", high)
        self.register_buffer("table", self.identity_table(size, low, high))

    @staticmethod
    def identity_table(size: int, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        axes = [torch.linspace(float(lo), float(hi), size, dtype=torch.float64) for lo, hi in zip(low, high)]
        a2, a1, a0 = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")  # axis 0 varies fastest
        return torch.stack([a0, a1, a2], dim=-1).reshape(-1, 3).to(torch.float32)

    def set(self, table: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> None:
        """Replace the lattice: ``table`` (size, size, size, 3) indexed [i0, i1, i2]."""
        n = self.size
        if tuple(table.shape) != (n, n, n, 3):
            raise ValueError(f"lattice table must be ({n}, {n}, {n}, 3)")
        with torch.no_grad():
            self.table.copy_(table.permute(2, 1, 0, 3).reshape(-1, 3))
            self.low.copy_(low)
            self.high.copy_(high)

    def forward(self, ycc: torch.Tensor) -> torch.Tensor:
        n = self.size
        b, _, h, w = ycc.shape
        x = ycc.permute(0, 2, 3, 1).reshape(-1, 3)
        u = ((x - self.low) / (self.high - self.low) * (n - 1)).clamp(0.0, n - 1.0)
        i0 = torch.floor(u).clamp(max=n - 2.0)
        f = u - i0
        i = i0.to(torch.int64)
        base = i[:, 0] + n * i[:, 1] + (n * n) * i[:, 2]
        f0, f1, f2 = f[:, 0:1], f[:, 1:2], f[:, 2:3]
        out = None
        for d2 in (0, 1):
            w2 = f2 if d2 else 1.0 - f2
            for d1 in (0, 1):
                w1 = w2 * (f1 if d1 else 1.0 - f1)
                for d0 in (0, 1):
                    wt = w1 * (f0 if d0 else 1.0 - f0)
                    # index_select exports as a plain Gather, which every backend runs (not GatherND)
                    term = wt * torch.index_select(self.table, 0, base + (d0 + n * d1 + n * n * d2))
                    out = term if out is None else out + term
        return out.reshape(b, h, w, 3).permute(0, 3, 1, 2)


class SeparableFilter(nn.Module):
    """A 1-D kernel applied along the width, then the height, of every channel; edges repeated."""

    def __init__(self, kernel: torch.Tensor, channels: int = 1):
        super().__init__()
        self.radius = (kernel.numel() - 1) // 2
        self.channels = channels
        self.register_buffer("kh", kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1).clone(), persistent=False)
        self.register_buffer("kv", kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.radius
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), self.kh, groups=self.channels)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), self.kv, groups=self.channels)


class GaussianBlur(SeparableFilter):
    """A separable Gaussian low-pass of every channel, edges repeated (replicate padding)."""

    def __init__(self, sigma: float, channels: int = 1):
        super().__init__(gaussian_kernel1d(sigma), channels)


DENOISE_RADIUS = 3  # px: half-width of the windows the grain-aware chroma filter pools statistics over
DENOISE_FLAT = 0.3  # the flattest share of windows, whose mean covariance is taken as the grain's
# The grain covariance is scaled by this before use: the flattest windows still hold some image
# structure, and bench_quality measured 1.5-3 alike (colour-only CIEDE2000 within 1%), 1 worse.
DENOISE_SCALE = 2.0
CHROMA_FILTER = {"name": "local-lmmse-ycbcr", "radius": DENOISE_RADIUS, "flat_share": DENOISE_FLAT,
                 "noise_scale": DENOISE_SCALE, "fit": "grain covariance of the training sources"}


class BoxFilter(SeparableFilter):
    """A separable (2r+1)^2 moving average of every channel, edges repeated (replicate padding).

    >>> x = torch.rand(1, 2, 9, 9)
    >>> ref = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    >>> bool((BoxFilter(1, 2)(x) - ref).abs().max() < 1e-6)
    True
    """

    def __init__(self, radius: int, channels: int):
        super().__init__(torch.full((2 * radius + 1,), 1.0 / (2 * radius + 1)), channels)


_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # the six distinct entries of a symmetric 3x3


def _pair(i: int, j: int) -> int:
    """Where entry (i, j) of a symmetric 3x3 lies in ``_PAIRS``."""
    return _PAIRS.index((min(i, j), max(i, j)))


def _sym(v: list[torch.Tensor], i: int, j: int) -> torch.Tensor:
    return v[_pair(i, j)]


# Channel indices of ChromaDenoise._stacked: the pairs' factors, the adjugate's (entry = p*q - r*s, in
# _PAIRS order), and for G's six entries (rows Cb, Cr; columns Y', Cb, Cr) term k's C and A^-1 entries.
_STACKED = {
    "i": [i for i, _ in _PAIRS], "j": [j for _, j in _PAIRS],
    "p": [3, 2, 1, 0, 1, 0], "q": [5, 4, 4, 5, 2, 3], "r": [4, 1, 2, 2, 0, 1], "s": [4, 5, 3, 2, 4, 1],
    **{f"c{k}": [_pair(r, k) for r in (1, 2) for _ in range(3)] for k in range(3)},
    **{f"a{k}": [_pair(k, j) for _ in (1, 2) for j in range(3)] for k in range(3)},
    **{f"g{j}": [j, 3 + j] for j in range(3)},
}


class ChromaDenoise(nn.Module):
    """Grain-aware chroma noise reduction: a local linear minimum-mean-square-error filter on Y'CbCr.

    Restoring faded dyes amplifies the print's dye grain, and in Cb and Cr
    that grain is colour noise the original never had. In each
    ``(2r+1)^2`` window the filter estimates the chroma from all three
    channels as ``m + C (C + N)^-1 (x - m)``, with ``m`` and ``C`` the
    window's mean and covariance and ``N`` the grain's covariance (fitted
    from the training sources by ``fit_lattice``): where a window holds
    little more than grain the chroma is pooled, and where it holds real
    colour structure, which in film images follows the luma's, it is kept.
    The estimates of every window covering a pixel are averaged (as in the
    guided filter). Y' passes through untouched, so the luma grain stays.

    Shape:
        - Input: (N, 3, H, W) Y'CbCr
        - Output: (N, 2, H, W) Cb, Cr
    """

    def __init__(self, radius: int = DENOISE_RADIUS, flat: float = DENOISE_FLAT, scale: float = DENOISE_SCALE):
        super().__init__()
        self.radius, self.flat, self.scale = radius, flat, scale
        self.box3 = BoxFilter(radius, 3)
        self.box6 = BoxFilter(radius, 6)
        self.box8 = BoxFilter(radius, 8)
        self.register_buffer("noise", torch.zeros(6))  # N's entries in _PAIRS order
        for name, index in _STACKED.items():
            self.register_buffer(f"_ix_{name}", torch.tensor(index), persistent=False)

    def statistics(self, ycc: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-window means (N, 3, H, W) and the six covariance entries, each (N, 1, H, W)."""
        m = self.box3(ycc)
        prods = torch.cat([ycc[:, i:i + 1] * ycc[:, j:j + 1] for i, j in _PAIRS], dim=1)
        s = self.box6(prods)
        cov = [s[:, k:k + 1] - m[:, i:i + 1] * m[:, j:j + 1] for k, (i, j) in enumerate(_PAIRS)]
        return m, cov

    def forward(self, ycc: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_exporting():
            return self._stacked(ycc)
        m, c = self.statistics(ycc)
        a = [c[k] + self.noise[k] for k in range(6)]  # A = C + N, symmetric
        # A^-1 by its adjugate: closed form, exports as plain arithmetic
        adj = {(0, 0): a[3] * a[5] - a[4] * a[4], (0, 1): a[2] * a[4] - a[1] * a[5], (0, 2): a[1] * a[4] - a[2] * a[3],
               (1, 1): a[0] * a[5] - a[2] * a[2], (1, 2): a[1] * a[2] - a[0] * a[4], (2, 2): a[0] * a[3] - a[1] * a[1]}
        det = a[0] * adj[(0, 0)] + a[1] * adj[(0, 1)] + a[2] * adj[(0, 2)]
        inv = 1.0 / det.clamp(min=1e-30)

        def ainv(i, j):
            return adj[(min(i, j), max(i, j))] * inv

        # G = C A^-1, chroma rows only (2 x 3); the per-window estimate is b + G x with b = m - G m
        g = [[sum(_sym(c, r, k) * ainv(k, j) for k in range(3)) for j in range(3)] for r in (1, 2)]
        b = [m[:, r:r + 1] - sum(g[i][j] * m[:, j:j + 1] for j in range(3)) for i, r in enumerate((1, 2))]
        pooled = self.box8(torch.cat([g[0][0], g[0][1], g[0][2], g[1][0], g[1][1], g[1][2], b[0], b[1]], dim=1))
        y, cb, cr = ycc[:, 0:1], ycc[:, 1:2], ycc[:, 2:3]
        out_cb = pooled[:, 0:1] * y + pooled[:, 1:2] * cb + pooled[:, 2:3] * cr + pooled[:, 6:7]
        out_cr = pooled[:, 3:4] * y + pooled[:, 4:5] * cb + pooled[:, 5:6] * cr + pooled[:, 7:8]
        return torch.cat([out_cb, out_cr], dim=1)

    def _stacked(self, ycc: torch.Tensor) -> torch.Tensor:
        """``forward``'s arithmetic, element for element and in the same order, on stacked channels.

        What ``torch.export`` traces: a few wide operations instead of some
        250 one-channel ones, whose symbolic shapes made this filter half of
        the export's time. Bit-identical to ``forward`` in eager mode (tested).
        """
        def pick(x: torch.Tensor, name: str) -> torch.Tensor:
            return torch.index_select(x, 1, getattr(self, f"_ix_{name}"))

        m = self.box3(ycc)
        c = self.box6(pick(ycc, "i") * pick(ycc, "j")) - pick(m, "i") * pick(m, "j")
        a = c + self.noise.view(1, 6, 1, 1)
        adj = pick(a, "p") * pick(a, "q") - pick(a, "r") * pick(a, "s")  # _PAIRS order
        t = a[:, 0:3] * adj[:, 0:3]
        inv = 1.0 / (t[:, 0:1] + t[:, 1:2] + t[:, 2:3]).clamp(min=1e-30)
        ainv = adj * inv
        # G = C A^-1 as forward sums it: 0 + term k=0, + k=1, + k=2; rows Cb, Cr by columns Y', Cb, Cr
        g = pick(c, "c0") * pick(ainv, "a0") + 0
        g = g + pick(c, "c1") * pick(ainv, "a1")
        g = g + pick(c, "c2") * pick(ainv, "a2")
        u = pick(g, "g0") * m[:, 0:1] + 0
        u = u + pick(g, "g1") * m[:, 1:2]
        u = u + pick(g, "g2") * m[:, 2:3]
        pooled = self.box8(torch.cat([g, m[:, 1:3] - u], dim=1))
        out = pick(pooled, "g0") * ycc[:, 0:1] + pick(pooled, "g1") * ycc[:, 1:2]
        return out + pick(pooled, "g2") * ycc[:, 2:3] + pooled[:, 6:8]

    @torch.no_grad()
    def fit(self, images: list[torch.Tensor]) -> list[float]:
        """Set ``noise`` to ``scale`` times the mean covariance of the flattest ``flat`` share of windows.

        Returns the six entries set (``_PAIRS`` order).

        Args:
            images: Y'CbCr frames as the filter will see them, (3, H, W) each.
        """
        covs = []
        for img in images:
            _, c = self.statistics(img[None].to(self.noise.device, torch.float32))
            covs.append(torch.cat(c, dim=1)[0].reshape(6, -1))
        allc = torch.cat(covs, dim=1)
        trace = allc[0] + allc[3] + allc[5]
        keep = trace <= torch.quantile(trace[::max(1, trace.numel() // 1_000_000)], self.flat)
        self.noise.copy_(self.scale * allc[:, keep].mean(dim=1))
        return [float(v) for v in self.noise]


# The frame field: a grid of nodes over the frame, corners on the corner pixels, holding affine chroma
# corrections that vary with the pixel's place in the frame (uneven fading: edges, a blotch). Fitted
# in closed form like the lattice, because a network trained on random patches cannot know where in
# the frame a patch lies. bench_quality (chelsea-nonuniform, untrained, colour-only against the LUT):
# no field 0.921, 5x5 nodes 0.870, 7x7 0.852.
FRAME_FIELD_NODES = 7
# Pull towards no correction, against the mean squared residual per pixel: weaker measured better on
# chelsea-nonuniform and worse on coffee-uniform (the field then fits content that is not in the frame).
FRAME_FIELD_RIDGE = 1e-3
FRAME_FIELD_SAMPLES = 200_000  # pixels (a regular subsample of the pairs) the fit solves on
FRAME_FIELD = {"name": "frame-affine-grid", "nodes": FRAME_FIELD_NODES, "ridge": FRAME_FIELD_RIDGE,
               "interpolation": "bilinear, corners aligned", "fit": "ridge regression on the low-passed pairs"}


def frame_hats(n: int, nodes: int, start: int = 0, length: int | None = None) -> np.ndarray:
    """Linear interpolation weights of ``nodes`` grid nodes at pixels ``start .. start+n-1`` of a span.

    Node 0 sits on the span's first pixel and node ``nodes - 1`` on its last
    (``length`` pixels, default ``n``), as in ``F.interpolate(..., align_corners=True)``.

    Shape:
        - Output: (nodes, n), every column summing to 1

    >>> frame_hats(5, 3).round(2).tolist()
    [[1.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.5, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5, 1.0]]
    """
    length = n if length is None else length
    u = (start + np.arange(n)) * ((nodes - 1) / max(length - 1, 1))
    return np.maximum(0.0, 1.0 - np.abs(u[None, :] - np.arange(nodes)[:, None]))


class FrameField(nn.Module):
    """Affine chroma corrections on a grid over the frame, interpolated bilinearly to every pixel.

    ``grid`` (1, 8, n, n) holds, per node, the change to the 2x4 affine
    transform of ``apply_affine``; it starts at zero (no change). The field
    spans the whole input, so the exported model must see whole frames;
    training passes each patch's ``window`` (top, left, frame height, frame
    width) so the patch gets the part of the field its place in the frame
    gets.

    Shape:
        - Output: (N, 8, h, w), N = len(window) or 1
    """

    def __init__(self, nodes: int = FRAME_FIELD_NODES):
        super().__init__()
        self.nodes = nodes
        self.register_buffer("grid", torch.zeros(1, 8, nodes, nodes))

    def forward(self, h: int, w: int, window: list[tuple[int, int, int, int]] | None = None) -> torch.Tensor:
        if window is None:
            return F.interpolate(self.grid, size=(h, w), mode="bilinear", align_corners=True)
        full: dict[tuple[int, int], torch.Tensor] = {}
        parts = []
        for y0, x0, fh, fw in window:
            if (fh, fw) not in full:
                full[(fh, fw)] = F.interpolate(self.grid, size=(fh, fw), mode="bilinear", align_corners=True)
            parts.append(full[(fh, fw)][:, :, y0:y0 + h, x0:x0 + w])
        return torch.cat(parts)

    @torch.no_grad()
    def fit(self, features: list[np.ndarray], truths: list[np.ndarray], windows: list[tuple[int, int, int, int]],
            samples: int = FRAME_FIELD_SAMPLES, ridge: float = FRAME_FIELD_RIDGE) -> dict:
        """Fit ``grid`` by ridge regression, so that the corrected chroma meets the truth's.

        Args:
            features: per view, (4, H, W): Y', and the chroma to correct (Cb, Cr), then ones.
            truths: per view, (2, H, W) target Cb, Cr.
            windows: per view, its place in its frame (top, left, frame height, frame width).

        Returns:
            what the fit did, for the record.
        """
        n = self.nodes
        k = n * n * 4
        total = sum(f.shape[1] * f.shape[2] for f in features)
        step = max(1, int(math.ceil(math.sqrt(total / samples))))
        xtx, xty, rr, used = np.zeros((k, k)), np.zeros((k, 2)), 0.0, 0
        for f, t, (y0, x0, fh, fw) in zip(features, truths, windows):
            hy = frame_hats(f.shape[1], n, y0, fh)[:, ::step]
            hx = frame_hats(f.shape[2], n, x0, fw)[:, ::step]
            v = f[:, ::step, ::step]
            basis = hy[:, None, :, None] * hx[None, :, None, :]  # (n, n, h, w)
            x = (basis.reshape(n * n, 1, -1) * v.reshape(1, 4, -1)).reshape(k, -1)
            r = t[:, ::step, ::step].reshape(2, -1) - v[1:3].reshape(2, -1)  # what the field must add
            xtx += x @ x.T
            xty += x @ r.T
            rr += float(np.sum(r * r))
            used += x.shape[1]
        coef = np.linalg.solve(xtx / used + ridge * np.eye(k), xty / used)  # (n*n*4, 2)
        grid = coef.reshape(n, n, 4, 2).transpose(3, 2, 0, 1).reshape(8, n, n)  # (out, term, gy, gx)
        self.grid.copy_(torch.from_numpy(grid)[None].to(self.grid))
        after = rr - 2.0 * float(np.sum(xty * coef)) + float(np.sum(coef * (xtx @ coef)))
        return {"samples": used, "step": step, "max_change": float(np.abs(grid).max()),
                "rms_before": math.sqrt(rr / used), "rms_after": math.sqrt(max(after, 0.0) / used)}


class ChromaLatticeNet(nn.Module):
    """Chroma recovery that starts where a LUT ends: a fitted colour lattice, then a learned field on top.

    The lattice (``Lattice``, fitted by ``fit_lattice``) maps the source's
    Y'CbCr to the reference's colour, per pixel, as a global 3D LUT would.
    A 1/4-resolution U-Net sees the source and the lattice's output and
    predicts a smooth field of 2x4 affine transforms applied to
    (Y', Cb_lattice, Cr_lattice, 1); the field starts at the identity, so
    the untrained model returns exactly the lattice's colour. Without
    ``tone`` the source's Y' passes through bit-exactly; with it, Y' gets
    the lattice's luma correction low-passed by a Gaussian of
    ``TONE_LOWPASS`` px plus the field's smooth luma offset, so the
    source's grain passes through unchanged.

    Shape:
        - Input: (N, 3, H, W) Y'CbCr
        - Output: (N, 3, H, W) Y'CbCr
    """

    def __init__(self, size: str = "medium", tone: bool = False, lattice: int = LATTICE_SIZE,
                 tone_lowpass: float = TONE_LOWPASS, loss_lowpass: float = LOSS_LOWPASS,
                 denoise: dict | None = None, frame_field: dict | None = None):
        super().__init__()
        w0 = WIDTHS["chroma"][size][0]
        self.tone = tone
        self.lattice = Lattice(lattice)
        # frame_field: the architecture's ``frame_field`` (nodes); None: no frame field (versions 2 and 3)
        self.frame_field = FrameField(frame_field["nodes"]) if frame_field else None
        # denoise: the architecture's ``chroma_filter`` (radius, flat_share, noise_scale); None: no filter
        self.denoise = (ChromaDenoise(denoise["radius"], denoise["flat_share"], denoise["noise_scale"])
                        if denoise else None)
        self.stem = nn.Sequential(nn.Conv2d(6, w0, CHROMA_SCALE, stride=CHROMA_SCALE), _act())
        self.unet = UNet(w0, 8 + (1 if tone else 0), WIDTHS["chroma"][size])
        self.up = Upsample(CHROMA_SCALE)
        self.lowpass = GaussianBlur(tone_lowpass) if tone else None
        self.register_buffer("identity", torch.tensor([0.0, 1, 0, 0, 0, 0, 1, 0]).view(1, 8, 1, 1),
                             persistent=False)
        self.global_affine = nn.Parameter(torch.zeros(1, 8, 1, 1))
        self.loss_view = GaussianBlur(loss_lowpass, 3) if loss_lowpass else None  # training only, not exported

    def forward(self, ycc: torch.Tensor, window: list[tuple[int, int, int, int]] | None = None) -> torch.Tensor:
        """``window``: per batch item, its place in its frame (top, left, frame height, frame width);
        None: each input is a whole frame."""
        h, w = ycc.shape[-2], ycc.shape[-1]
        mapped = self.lattice(ycc)
        both = torch.cat([ycc, mapped], dim=1)
        padded = F.pad(both, (0, CHROMA_SCALE - 1, 0, CHROMA_SCALE - 1), mode="replicate")
        field = self.up(self.unet(self.stem(padded)), h, w)
        coeffs = self.identity + self.global_affine + field[:, :8]
        if self.frame_field is not None:
            coeffs = coeffs + self.frame_field(h, w, window)
        y = ycc[:, 0:1]
        chroma = apply_affine(coeffs, torch.cat([y, mapped[:, 1:3]], dim=1))
        if self.denoise is not None:
            chroma = self.denoise(torch.cat([y, chroma], dim=1))
        if self.tone:
            y = y + self.lowpass(mapped[:, 0:1] - y) + field[:, 8:9]
        return torch.cat([y, chroma], dim=1)


def _blur_planes(a: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    return np.stack([ndimage.gaussian_filter(a[c], sigma, mode="reflect") for c in range(a.shape[0])])


def fit_lattice(model: nn.Module, inputs: list[torch.Tensor], truths: list[torch.Tensor], kr: float, kb: float,
                *, windows: list[tuple[int, int, int, int]] | None = None, sigma: float = LATTICE_FIT_SIGMA,
                samples: int = LATTICE_SAMPLES, seed: int = 0) -> dict | None:
    """Fit a model's colour lattice from training pairs, in closed form; returns what the fit did.

    The lattice maps the source's Y'CbCr to the ground truth's, fitted by
    the same regularised lattice regression as the QC's LUT baseline
    (``archivist.qc.lut.fit``) on up to ``samples`` pixels drawn with a
    fixed seed. Both images are low-passed by a Gaussian of ``sigma`` px
    first, so the scan's grain and any residual misregistration do not
    flatten the fit; the lattice is then applied to the unfiltered source.
    Models without a lattice are left alone (returns None).

    Args:
        model: a model with a ``lattice`` (``ChromaLatticeNet``).
        inputs: model inputs, (3, H, W) Y'CbCr tensors.
        truths: ground truth, (3, H, W) R'G'B' tensors.
        kr, kb: the dataset's luma coefficients.
        windows: per input, its place in its frame (top, left, frame height, frame width), for
            the frame field; None: each input is a whole frame.
    """
    lattice = getattr(model, "lattice", None)
    if not isinstance(lattice, Lattice):
        return None
    from archivist.imaging.colour import rgb_to_ycbcr
    from archivist.qc import lut

    xs, ys, xs_blurred, ts_blurred = [], [], [], []
    for x, t in zip(inputs, truths):
        xb = _blur_planes(x.detach().cpu().double().numpy(), sigma)
        tb = _blur_planes(rgb_to_ycbcr(t.detach().cpu().double().numpy().transpose(1, 2, 0), kr, kb)
                          .transpose(2, 0, 1), sigma)
        xs_blurred.append(xb)
        ts_blurred.append(tb)
        xs.append(xb.reshape(3, -1).T)
        ys.append(tb.reshape(3, -1).T)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(x) > samples:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), samples, replace=False))
        x, y = x[idx], y[idx]
    lo, hi = lut.expand_domain(x.min(0), x.max(0))
    table, report = lut.fit(x, y, size=lattice.size, smoothness=LATTICE_SMOOTHNESS, domain_min=lo, domain_max=hi)
    device = lattice.table.device
    lattice.set(torch.from_numpy(table.table).to(torch.float32).to(device),
                torch.tensor(lo, dtype=torch.float32, device=device), torch.tensor(hi, dtype=torch.float32, device=device))
    out = {"samples": report.samples, "nodes_solved": report.nodes_solved, "rms_residual": report.rms_residual,
           "converged": report.converged, "domain_min": [float(v) for v in lo], "domain_max": [float(v) for v in hi]}
    field = getattr(model, "frame_field", None)
    if isinstance(field, FrameField):
        feats, tgs = [], []
        with torch.no_grad():
            for xb, tb in zip(xs_blurred, ts_blurred):
                m = lattice(torch.from_numpy(xb[None]).to(torch.float32).to(device))[0].double().cpu().numpy()
                feats.append(np.stack([xb[0], m[1], m[2], np.ones_like(xb[0])]))
                tgs.append(tb[1:3])
        out["frame_field"] = field.fit(feats, tgs, windows or [(0, 0, x.shape[1], x.shape[2]) for x in inputs])
    denoise = getattr(model, "denoise", None)
    if isinstance(denoise, ChromaDenoise):
        with torch.no_grad():  # the grain as the filter meets it: the source's luma with the chroma before the filter
            mapped = []
            for i, x in enumerate(inputs):
                xd = x[None].to(device)
                chroma = lattice(xd)[:, 1:3]
                if isinstance(field, FrameField):
                    win = [windows[i]] if windows else None
                    coeffs = model.identity + field(x.shape[1], x.shape[2], win)
                    chroma = apply_affine(coeffs, torch.cat([xd[:, 0:1], chroma], dim=1))
                mapped.append(torch.cat([x[0:1], chroma[0].to(x.device)]))
        out["grain_covariance"] = denoise.fit(mapped)
    return out


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
    name = "chroma-lattice-affine-field-unet" if mode == "chroma" else "spatial-bandlimited-residual-unet"
    out = {"name": name, "version": ARCH_VERSION if mode == "chroma" else SPATIAL_VERSION, "mode": mode,
           "size": size, "tone": bool(tone), "widths": list(WIDTHS[mode][size]),
           "activation": f"leaky_relu({NEGATIVE_SLOPE})"}
    if mode == "chroma":
        out["working_scale"] = CHROMA_SCALE
        out["lattice"] = {"size": LATTICE_SIZE, "space": "source Y'CbCr", "interpolation": "trilinear",
                          "fit": "regularised lattice regression", "fit_sigma": LATTICE_FIT_SIGMA,
                          "smoothness": LATTICE_SMOOTHNESS}
        out["loss_lowpass"] = LOSS_LOWPASS
        out["chroma_filter"] = CHROMA_FILTER
        out["frame_field"] = FRAME_FIELD
        if tone:
            out["tone_lowpass"] = TONE_LOWPASS
    else:
        out["grain_sigma"] = GRAIN_SIGMA
    return out


def build(arch: dict) -> nn.Module:
    """Instantiate the module an ``architecture`` dict describes (weights freshly initialised)."""
    version = arch.get("version")
    if arch["mode"] == "chroma" and version == 1:  # archived runs before the lattice stage
        return ChromaNet(arch["size"], tone=arch.get("tone", False))
    if arch["mode"] == "chroma" and version in (2, 3, ARCH_VERSION):  # 2: no chroma filter; 3: no frame field
        lat = arch.get("lattice") or {}
        filt = arch.get("chroma_filter") if version >= 3 else None
        return ChromaLatticeNet(arch["size"], tone=arch.get("tone", False), lattice=lat.get("size", LATTICE_SIZE),
                                tone_lowpass=arch.get("tone_lowpass", TONE_LOWPASS),
                                loss_lowpass=arch.get("loss_lowpass", 0.0),
                                denoise=filt, frame_field=arch.get("frame_field") if version >= 4 else None)
    if arch["mode"] == "spatial" and version == SPATIAL_VERSION:
        return SpatialNet(arch["size"])
    if arch["mode"] in MODES:
        raise ValueError(f"unknown architecture version {version!r}")
    raise ValueError(f"unknown mode {arch['mode']!r}")


def takes_window(model: nn.Module) -> bool:
    """Whether the model needs each input's place in its frame (it has a frame field)."""
    return getattr(model, "frame_field", None) is not None


def run(model: nn.Module, ycc: torch.Tensor, windows: list[tuple[int, int, int, int]] | None) -> torch.Tensor:
    """``model`` on ``ycc``, given each input's place in its frame where the model takes it."""
    return model(ycc, windows) if takes_window(model) else model(ycc)


def whole_frames(arch: dict) -> bool:
    """Whether the exported model must see whole frames (no tiles): its frame field spans its input."""
    return arch.get("mode") == "chroma" and (arch.get("version") or 0) >= 4 and bool(arch.get("frame_field"))


def loss_name(arch: dict) -> str:
    """The training loss an architecture is trained with, as the run record names it.

    >>> loss_name(architecture("spatial", "small")), loss_name(architecture("chroma", "small"))
    ('l1-rgb', 'l1-rgb-lowpass')
    """
    return "l1-rgb-lowpass" if arch.get("loss_lowpass") else "l1-rgb"


def loss_view(model: nn.Module, rgb: torch.Tensor) -> torch.Tensor:
    """What the training loss compares: ``rgb`` low-passed when the model asks for it, else itself."""
    view = getattr(model, "loss_view", None)
    return rgb if view is None else view(rgb)


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
