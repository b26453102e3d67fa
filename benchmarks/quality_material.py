"""Test material for ``bench_quality.py``, made independently of ``archivist.demo``.

A second fade model with other physics than ``archivist.demo.fading``, so
the engine is judged on material it was not designed around:

* **shot**: 12 frames of 512x384 over a scikit-image photograph, a slow
  pan with a slight zoom (bicubic resampling, sub-pixel motion);
* **print** (the scan): code values decoded with a 2.2 power law to
  transmittance, split into cyan, magenta and yellow dye amounts through a
  crosstalk matrix, each dye faded with a density-dependent loss
  ``a' = a (1 - k s) / (1 + h s a)`` (dense dye loses proportionally more),
  a yellowing base stain, two-scale grain per dye layer (amplitude growing
  with the square root of the dye left), back to code values;
* **non-uniform tier**: the fade strength ``s`` grows towards the frame's
  edges, has a broad blotch, and drifts by 30% along the shot;
* **DVD** (the reference), from the original: another grade (gamma 1.03, saturation
  0.96, a cool tilt), a sub-pixel shift, half size by area
  averaging, Rec.601 Y'CbCr in 8-bit video range with 4:2:0 chroma
  (2x2 averages, upsampled bilinearly as a player does), 8-bit R'G'B'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

WIDTH, HEIGHT, FRAMES = 512, 384, 12
PHOTOGRAPHS = ("coffee", "chelsea", "rocket", "motorcycle")

# Side absorptions of unit dye amounts in R, G, B density (columns: cyan, magenta, yellow).
CROSSTALK = np.array([[1.00, 0.10, 0.03],
                      [0.14, 1.00, 0.12],
                      [0.06, 0.26, 1.00]])
LOSS = np.array([0.42, 0.14, 0.50])  # k: dye lost at strength 1 (cyan, magenta, yellow)
DENSE = np.array([0.10, 0.04, 0.16])  # h: extra relative loss per unit dye amount
STAIN = np.array([0.012, 0.035, 0.10])  # base stain density in R, G, B at strength 1
GRAIN = np.array([0.030, 0.024, 0.034])  # grain amplitude per dye layer
GAMMA = 2.2


def photograph(name: str) -> np.ndarray:
    """A scikit-image photograph as float64 (H, W, 3) in [0, 1]."""
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return img[..., :3].astype(np.float64) / 255.0


def shot_frame(photo: np.ndarray, index: int, frames: int = FRAMES, width: int = WIDTH,
               height: int = HEIGHT) -> np.ndarray:
    """Frame ``index``: a 4:3 window panning right by 4% and zooming in by 5% over the shot."""
    ph, pw = photo.shape[:2]
    t = index / max(frames - 1, 1)
    w = 0.9 * min(pw, ph * width / height) / (1.0 + 0.05 * t)
    h = w * height / width
    cx = pw / 2 + (t - 0.5) * 0.04 * pw
    cy = ph / 2 + (t - 0.5) * 0.015 * ph
    scale = w / width
    src = photo
    if scale > 1:  # blur before reducing, so the frame does not alias
        src = ndimage.gaussian_filter(photo, (0.5 * (scale - 1), 0.5 * (scale - 1), 0))
    ys = cy - h / 2 + (np.arange(height) + 0.5) * scale - 0.5
    xs = cx - w / 2 + (np.arange(width) + 0.5) * scale - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    out = np.stack([ndimage.map_coordinates(src[..., c], [yy, xx], order=3, mode="reflect") for c in range(3)], -1)
    return np.clip(out, 0.0, 1.0)


def strength(index: int, frames: int, uniform: bool, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Fade strength per pixel, (H, W): 1 for the uniform tier."""
    if uniform:
        return np.ones((height, width))
    t = index / max(frames - 1, 1)
    yy, xx = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    edge = 0.75 + 0.45 * (xx ** 2 + yy ** 2) / 2.0
    blotch = 0.18 * np.exp(-((xx + 0.35) ** 2 + (yy - 0.25) ** 2) / 0.18)
    return (edge + blotch) * (0.85 + 0.30 * t)


def fade(original: np.ndarray, index: int, frames: int, uniform: bool, seed: int) -> np.ndarray:
    """The faded print of one original frame, float32 (H, W, 3) code values in [0, 1]."""
    h, w = original.shape[:2]
    s = strength(index, frames, uniform, w, h)[..., None]
    trans = np.clip(original, 0, 1) ** GAMMA
    dens = -np.log10(np.clip(trans, 10 ** -2.7, 1.0))
    dyes = np.maximum(dens @ np.linalg.inv(CROSSTALK).T, 0.0)
    faded = dyes * (1 - LOSS * s) / (1 + DENSE * s * dyes)
    rng = np.random.default_rng(seed * 1000 + index)
    fine = ndimage.gaussian_filter(rng.standard_normal((h, w, 3)), (0.7, 0.7, 0)) * 2.2
    coarse = ndimage.gaussian_filter(rng.standard_normal((h, w, 3)), (1.8, 1.8, 0)) * 3.5
    faded = np.maximum(faded + GRAIN * np.sqrt(faded + 0.02) * (0.8 * fine + 0.35 * coarse), 0.0)
    out_dens = faded @ CROSSTALK.T + STAIN * s
    return np.clip(10.0 ** (-out_dens), 0, 1) ** (1 / GAMMA)


def _ycbcr601(rgb: np.ndarray) -> np.ndarray:
    kr, kb = 0.299, 0.114
    y = kr * rgb[..., 0] + (1 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
    return np.stack([y, (rgb[..., 2] - y) / (2 * (1 - kb)), (rgb[..., 0] - y) / (2 * (1 - kr))], -1)


def _rgb601(ycc: np.ndarray) -> np.ndarray:
    kr, kb = 0.299, 0.114
    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    return np.stack([r, (y - kr * r - kb * b) / (1 - kr - kb), b], -1)


def _half(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:h, :w]
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def grade(original: np.ndarray) -> np.ndarray:
    """The DVD transfer's own grade: a little more contrast, a little less saturation, a cool tilt."""
    graded = np.clip(original, 0, 1) ** 1.03
    ycc = _ycbcr601(graded)
    ycc[..., 1:] *= 0.96
    return np.clip(_rgb601(ycc) + np.array([-0.005, 0.0, 0.006]), 0, 1)


def dvd(original: np.ndarray, shift: tuple[float, float] = (0.35, -0.3)) -> np.ndarray:
    """The DVD-like reference of one original frame: uint8 (H/2, W/2, 3)."""
    graded = grade(original)
    moved = np.stack([ndimage.shift(graded[..., c], (shift[1], shift[0]), order=3, mode="nearest")
                      for c in range(3)], -1)
    small = _half(moved)
    ycc = _ycbcr601(np.clip(small, 0, 1))
    y8 = np.round(16 + 219 * ycc[..., 0])
    c8 = np.round(128 + 224 * ycc[..., 1:])
    sub = _half(c8)  # 4:2:0
    up = np.stack([ndimage.zoom(sub[..., c], 2, order=1, mode="nearest", grid_mode=True)
                   for c in range(2)], -1)[: small.shape[0], : small.shape[1]]
    back = np.concatenate([((y8 - 16) / 219)[..., None], (up - 128) / 224], -1)
    return np.round(np.clip(_rgb601(back), 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Case:
    photograph: str
    uniform: bool

    @property
    def name(self) -> str:
        return f"{self.photograph}-{'uniform' if self.uniform else 'nonuniform'}"


def cases(names: list[str] | None = None) -> list[Case]:
    """Every photograph in both tiers (or the named cases, e.g. ``coffee-uniform``)."""
    out = [Case(p, u) for p in PHOTOGRAPHS for u in (True, False)]
    if names:
        known = {c.name: c for c in out}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
        out = [known[n] for n in names]
    return out
