"""Ground truth for each training mode, as small pure functions on (H, W, 3) R'G'B' arrays.

All three follow the same pattern: split source and reference into Y'CbCr
(coefficients from the dataset record), take from each what the mode is
allowed to learn, convert back to R'G'B' and clamp to [0, 1] (the guide's
black and white clamp before training).

- chroma: source Y + reference Cb, Cr (the reference is already median
  filtered by the dataset).
- chroma with tone: as chroma, plus the low-frequency part of the luma
  difference, Y = Ys + G(Yr - Ys): the reference's tone, the source's grain.
- spatial: the source with the reference's band-pass detail added and the
  source's Cb, Cr: Y = Ys + Gg(Yr' - Ys), where Yr' = Yr + G(Ys - Yr) is the
  reference colour-matched to the source by a low-frequency transfer. Gg
  is the grain band limit (``GRAIN_SIGMA``, the same Gaussian that limits
  the spatial model's residual), so the target keeps the source's grain
  above that band instead of asking the model to remove it, and the
  difference to learn is exactly the kind the model can produce.

G is a Gaussian low-pass of the recorded ``sigma`` (pixels).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from archivist.imaging.colour import rgb_to_ycbcr, ycbcr_to_rgb

TONE_SIGMA = 4.0  # matches the tone field's 1/4-resolution grid
SPATIAL_SIGMA = 8.0  # colour transfer scale: coarser than the detail to learn
# Grain band limit: Gaussian gain 0.5 at 0.15 cycles/px, 0.14 at 0.25, 0.02 at 0.35,
# so periods of 3 px and less (where grain lives) stay the source's.
GRAIN_SIGMA = 1.25


def lowpass(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of one (H, W) plane, reflecting at the borders.

    >>> lowpass(np.ones((5, 7)), 2.0).round(6).min()
    np.float64(1.0)
    """
    return ndimage.gaussian_filter(np.asarray(plane, dtype=np.float64), sigma, mode="reflect")


def _finish(ycc: np.ndarray, kr: float, kb: float) -> np.ndarray:
    return np.clip(ycbcr_to_rgb(ycc, kr, kb), 0.0, 1.0).astype(np.float32)


def chroma_target(source: np.ndarray, reference: np.ndarray, kr: float, kb: float) -> np.ndarray:
    """Source luma with reference chroma, clamped to [0, 1].

    >>> src = np.full((2, 2, 3), 0.5, np.float32); ref = np.full((2, 2, 3), [0.6, 0.3, 0.3], np.float32)
    >>> gt = chroma_target(src, ref, 0.2126, 0.0722)
    >>> from archivist.imaging.colour import luma
    >>> bool(np.allclose(luma(gt), 0.5, atol=1e-6)), bool(gt[0, 0, 0] > gt[0, 0, 1])
    (True, True)
    """
    ys = rgb_to_ycbcr(source.astype(np.float64), kr, kb)
    yr = rgb_to_ycbcr(reference.astype(np.float64), kr, kb)
    return _finish(np.concatenate([ys[..., :1], yr[..., 1:]], axis=-1), kr, kb)


def tone_target(source: np.ndarray, reference: np.ndarray, kr: float, kb: float,
                sigma: float = TONE_SIGMA) -> np.ndarray:
    """Reference chroma; source luma moved by the low-frequency luma difference.

    >>> src = np.full((8, 8, 3), 0.4, np.float32); ref = np.full((8, 8, 3), 0.6, np.float32)
    >>> round(float(tone_target(src, ref, 0.2126, 0.0722)[3, 3, 1]), 5)
    0.6
    """
    ys = rgb_to_ycbcr(source.astype(np.float64), kr, kb)
    yr = rgb_to_ycbcr(reference.astype(np.float64), kr, kb)
    y = ys[..., 0] + lowpass(yr[..., 0] - ys[..., 0], sigma)
    return _finish(np.concatenate([y[..., None], yr[..., 1:]], axis=-1), kr, kb)


def spatial_target(source: np.ndarray, reference: np.ndarray, kr: float, kb: float,
                   sigma: float = SPATIAL_SIGMA, grain_sigma: float = GRAIN_SIGMA) -> np.ndarray:
    """The source plus the reference's detail below the grain band; the source's tone and chroma.

    >>> src = np.full((8, 8, 3), 0.3, np.float32); ref = np.full((8, 8, 3), 0.7, np.float32)
    >>> bool(np.allclose(spatial_target(src, ref, 0.2126, 0.0722), 0.3, atol=1e-6))
    True
    """
    ys = rgb_to_ycbcr(source.astype(np.float64), kr, kb)
    yr = rgb_to_ycbcr(reference.astype(np.float64), kr, kb)
    matched = yr[..., 0] + lowpass(ys[..., 0] - yr[..., 0], sigma)
    y = ys[..., 0] + lowpass(matched - ys[..., 0], grain_sigma)
    return _finish(np.concatenate([y[..., None], ys[..., 1:]], axis=-1), kr, kb)


def target(mode: str, tone: bool, source: np.ndarray, reference: np.ndarray, kr: float, kb: float,
           sigma: float | None = None) -> np.ndarray:
    """The ground truth for ``mode`` (``sigma`` defaults to the mode's constant)."""
    if mode == "chroma" and not tone:
        return chroma_target(source, reference, kr, kb)
    if mode == "chroma":
        return tone_target(source, reference, kr, kb, TONE_SIGMA if sigma is None else sigma)
    if mode == "spatial":
        return spatial_target(source, reference, kr, kb, SPATIAL_SIGMA if sigma is None else sigma)
    raise ValueError(f"unknown mode {mode!r}")


def to_ycbcr(rgb: np.ndarray, kr: float, kb: float) -> np.ndarray:
    """The model's input for an (H, W, 3) R'G'B' frame: Y'CbCr as float32 (H, W, 3)."""
    return rgb_to_ycbcr(rgb.astype(np.float64), kr, kb).astype(np.float32)
