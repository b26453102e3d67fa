"""Small pure functions that prepare frames for training: crop, resampling choice, median.

Coordinates are source pixel coordinates with the origin at the top-left
corner of the top-left pixel; a crop ``(x, y, width, height)`` keeps pixel
columns ``x .. x+width-1`` and rows ``y .. y+height-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from archivist.errors import InputError

# The names a restorer uses, and the OpenImageIO filter that implements each.
# "bicubic" is the Keys cubic with a = -0.5 (Catmull-Rom), the usual meaning.
RESAMPLE_FILTERS = {"lanczos3": "lanczos3", "bicubic": "catmull-rom", "bilinear": "triangle"}

MIN_CROP = 16  # below this a crop cannot give even one small training patch


@dataclass(frozen=True)
class Crop:
    x: int
    y: int
    width: int
    height: int

    def as_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    @property
    def window(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


def parse_crop(text: str) -> Crop:
    """Parse ``X,Y,W,H`` (source pixels).

    >>> parse_crop("8, 4, 64, 48")
    Crop(x=8, y=4, width=64, height=48)
    >>> parse_crop("1,2,3")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: DATASET-CROP: crop '1,2,3' must be X,Y,W,H in source pixels, e.g. 0,140,2048,1280
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 4:
            raise ValueError
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError("DATASET-CROP", f"crop {text!r} must be X,Y,W,H in source pixels, e.g. 0,140,2048,1280") from None
    return Crop(x, y, w, h)


def check_crop(crop: Crop | None, width: int, height: int) -> Crop:
    """The crop to use on a ``width`` x ``height`` source: the full frame when none is given.

    >>> check_crop(None, 64, 48)
    Crop(x=0, y=0, width=64, height=48)
    >>> check_crop(Crop(60, 0, 8, 48), 64, 48)
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: DATASET-CROP: crop 60,0,8,48 does not fit the 64x48 source frame (it must be at least 16x16 and lie inside the frame)
    """
    if crop is None:
        return Crop(0, 0, width, height)
    ok = (crop.x >= 0 and crop.y >= 0 and crop.width >= MIN_CROP and crop.height >= MIN_CROP
          and crop.x + crop.width <= width and crop.y + crop.height <= height)
    if not ok:
        raise InputError("DATASET-CROP", f"crop {crop.x},{crop.y},{crop.width},{crop.height} does not fit the "
                         f"{width}x{height} source frame (it must be at least {MIN_CROP}x{MIN_CROP} and lie inside the frame)")
    return crop


def apply_crop(img: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop of an (H, W, ...) array.

    >>> apply_crop(np.arange(20).reshape(4, 5), Crop(1, 2, 3, 2)).tolist()
    [[11, 12, 13], [16, 17, 18]]
    """
    return img[crop.y:crop.y + crop.height, crop.x:crop.x + crop.width]


def resample_filter(method: str) -> str:
    """The OpenImageIO filter behind a resampling method name.

    >>> resample_filter("bicubic")
    'catmull-rom'
    """
    try:
        return RESAMPLE_FILTERS[method]
    except KeyError:
        raise InputError("DATASET-RESAMPLE", f"resampling method {method!r} is not one of "
                         f"{', '.join(RESAMPLE_FILTERS)}") from None


def median_footprint(size: int) -> np.ndarray:
    """A disc of diameter ``size`` pixels centred on a pixel.

    An even-sized square window has no centre pixel and shifts the image by
    half a pixel; a disc centred on the pixel shifts nothing, whatever the size.

    >>> median_footprint(1).astype(int).tolist()
    [[1]]
    >>> median_footprint(2).astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    >>> median_footprint(10).shape, int(median_footprint(10).sum())
    ((11, 11), 81)
    """
    if size < 1:
        raise ValueError("median size must be at least 1")
    r = size / 2.0
    k = int(np.floor(r))
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    return (xx * xx + yy * yy) <= r * r + 1e-9


def median_margin(size: int) -> int:
    """How many pixels the median reads beyond each edge of what it writes.

    >>> median_margin(10), median_margin(0)
    (5, 0)
    """
    return int(np.floor(size / 2.0)) if size > 0 else 0


def median(img: np.ndarray, size: int) -> np.ndarray:
    """Median filter each channel of (H, W, C) over a ``median_footprint(size)`` disc; 0 or 1 is a no-op.

    Edges repeat the nearest pixel. The guide's default for reference chroma is 10.

    >>> x = np.zeros((7, 7, 1), np.float32); x[3, 3] = 1.0  # a dust speck
    >>> float(median(x, 3).max())
    0.0
    >>> bool((median(x, 0) == x).all())
    True
    """
    if size < 0:
        raise InputError("DATASET-MEDIAN", f"median size must be 0 (off) or more, not {size}")
    if size <= 1:
        return img
    fp = median_footprint(size)
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        out[..., c] = ndimage.median_filter(img[..., c], footprint=fp, mode="nearest")
    return out
