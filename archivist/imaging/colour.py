"""Colour conversions as small pure functions on float arrays (..., 3).

The working space for training is Y'CbCr computed from non-linear R'G'B'
with the luma coefficients recorded in the dataset (Rec.709 by default):
Y = Kr R + Kg G + Kb B, Cb = (B - Y) / (2 (1 - Kb)), Cr = (R - Y) / (2 (1 - Kr)).
Cb and Cr are centred on 0 (range [-0.5, 0.5] for inputs in [0, 1]).
"""

from __future__ import annotations

import numpy as np

REC709 = {"name": "Rec.709", "kr": 0.2126, "kb": 0.0722}
REC601 = {"name": "Rec.601", "kr": 0.299, "kb": 0.114}
COEFFICIENTS = {"Rec.709": REC709, "Rec.601": REC601}


def _check(x: np.ndarray) -> None:
    if x.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) array, got shape {x.shape}")


def rgb_to_ycbcr(rgb: np.ndarray, kr: float = REC709["kr"], kb: float = REC709["kb"]) -> np.ndarray:
    """R'G'B' to Y'CbCr.

    >>> rgb_to_ycbcr(np.array([1.0, 1.0, 1.0])).round(6).tolist()
    [1.0, 0.0, 0.0]
    >>> rgb_to_ycbcr(np.array([1.0, 0.0, 0.0])).round(4).tolist()
    [0.2126, -0.1146, 0.5]
    """
    _check(rgb)
    kg = 1.0 - kr - kb
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = kr * r + kg * g + kb * b
    cb = (b - y) / (2.0 * (1.0 - kb))
    cr = (r - y) / (2.0 * (1.0 - kr))
    return np.stack([y, cb, cr], axis=-1)


def ycbcr_to_rgb(ycc: np.ndarray, kr: float = REC709["kr"], kb: float = REC709["kb"]) -> np.ndarray:
    """Y'CbCr to R'G'B', the exact inverse of ``rgb_to_ycbcr``.

    >>> x = np.array([0.3, 0.6, 0.1])
    >>> bool(np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x))
    True
    """
    _check(ycc)
    kg = 1.0 - kr - kb
    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    r = y + 2.0 * (1.0 - kr) * cr
    b = y + 2.0 * (1.0 - kb) * cb
    g = (y - kr * r - kb * b) / kg
    return np.stack([r, g, b], axis=-1)


def luma(rgb: np.ndarray, kr: float = REC709["kr"], kb: float = REC709["kb"]) -> np.ndarray:
    """Y' alone, shape (...).

    >>> float(luma(np.array([0.0, 1.0, 0.0])))
    0.7152
    """
    _check(rgb)
    return kr * rgb[..., 0] + (1.0 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
