"""Colour conversions as small pure functions: float arrays (..., 3), the model's float32 planes, tensors.

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


# -- the model's layout, in float32 -------------------------------------------------------------
# The same formulas computed in float32 straight into the (3, H, W) planes an ONNX model takes, and
# back into the (H, W, 3) frame OpenEXR writes: about eight times faster than the float64 reference
# on a 2K frame, and within float32 rounding of it. Inference hashes what these give, so their
# arithmetic, order of operations included, must not change.


def _check_planar(ycc: np.ndarray) -> None:
    if ycc.ndim != 3 or ycc.shape[0] != 3:
        raise ValueError(f"expected (3, H, W) planes, got shape {ycc.shape}")


def rgb_to_planar(rgb: np.ndarray, kr: float, kb: float) -> np.ndarray:
    """R'G'B' frame to the model's Y'CbCr planes, in float32.

    Shape:
        - rgb: (H, W, 3), float32 or float16
        - output: (3, H, W) float32

    >>> x = np.random.default_rng(0).random((4, 5, 3), dtype=np.float32)
    >>> ref = rgb_to_ycbcr(x.astype(np.float64), 0.2126, 0.0722).transpose(2, 0, 1)
    >>> bool(np.abs(rgb_to_planar(x, 0.2126, 0.0722) - ref).max() < 1e-6)
    True
    >>> rgb_to_planar(np.zeros((3, 4)), 0.2126, 0.0722)
    Traceback (most recent call last):
    ...
    ValueError: expected (H, W, 3) frame, got shape (3, 4)
    """
    # Half is taken as it is: every operation below computes in float32 (exact widening), so the planes
    # are the bits of the float32 path, without a float32 copy of the frame.
    rgb = np.asarray(rgb)
    if rgb.dtype != np.float16:
        rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) frame, got shape {rgb.shape}")
    kg = 1.0 - kr - kb
    h, w = rgb.shape[:2]
    out = np.empty((3, h, w), dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = out[0]
    np.multiply(r, np.float32(kr), out=y)
    y += np.float32(kg) * g
    y += np.float32(kb) * b
    np.subtract(b, y, out=out[1])
    out[1] *= np.float32(1.0 / (2.0 * (1.0 - kb)))
    np.subtract(r, y, out=out[2])
    out[2] *= np.float32(1.0 / (2.0 * (1.0 - kr)))
    return out


def planar_to_rgb(ycc: np.ndarray, kr: float, kb: float) -> np.ndarray:
    """The model's Y'CbCr planes back to an R'G'B' frame, the inverse of ``rgb_to_planar``.

    Shape:
        - ycc: (3, H, W)
        - output: (H, W, 3) float32

    >>> x = np.random.default_rng(1).random((6, 7, 3), dtype=np.float32)
    >>> bool(np.abs(planar_to_rgb(rgb_to_planar(x, 0.2126, 0.0722), 0.2126, 0.0722) - x).max() < 1e-6)
    True
    """
    ycc = np.asarray(ycc, dtype=np.float32)
    _check_planar(ycc)
    kg = 1.0 - kr - kb
    y, cb, cr = ycc[0], ycc[1], ycc[2]
    out = np.empty(ycc.shape[1:] + (3,), dtype=np.float32)
    # Two scratch planes reused in place (fresh 2K planes cost page faults); the operations and their order
    # are the formulas' (k * cr + y is y + k * cr: IEEE addition commutes), so the bits are too.
    r = np.multiply(cr, np.float32(2.0 * (1.0 - kr)))
    r += y
    b = np.multiply(cb, np.float32(2.0 * (1.0 - kb)))
    b += y
    out[..., 0] = r
    out[..., 2] = b
    g = np.multiply(r, np.float32(kr), out=r)
    np.subtract(y, g, out=g)
    g -= np.multiply(b, np.float32(kb), out=b)
    g *= np.float32(1.0 / kg)
    out[..., 1] = g
    return out


# -- on tensors, for training -----------------------------------------------------------------------
def ycbcr_to_rgb_tensor(ycc, kr: float, kb: float):
    """Y'CbCr to R'G'B' on a torch tensor, differentiable: the twin of ``ycbcr_to_rgb`` for the loss.

    torch is imported only when this is called, so the rest of the module never loads it.

    Shape:
        - ycc: (N, 3, H, W) tensor
        - output: (N, 3, H, W) tensor

    >>> import torch
    >>> x = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    >>> ycc = rgb_to_ycbcr(x, 0.2126, 0.0722).astype(np.float32)
    >>> t = ycbcr_to_rgb_tensor(torch.from_numpy(ycc.T.reshape(1, 3, 4, 1).copy()), 0.2126, 0.0722)
    >>> bool(np.allclose(t.numpy().reshape(3, 4).T, x, atol=1e-6))
    True
    """
    import torch

    if ycc.ndim != 4 or ycc.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) tensor, got shape {tuple(ycc.shape)}")
    kg = 1.0 - kr - kb
    y, cb, cr = ycc[:, 0:1], ycc[:, 1:2], ycc[:, 2:3]
    r = y + (2.0 * (1.0 - kr)) * cr
    b = y + (2.0 * (1.0 - kb)) * cb
    g = (y - kr * r - kb * b) / kg
    return torch.cat([r, g, b], dim=1)
