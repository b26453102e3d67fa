"""A DVD-like reference of the original frames: the picture with the right colour, in poor shape.

What a PAL DVD transfer does to a film, in order:

1. a slightly different grade (the telecine colourist's): a little less
   saturation, a touch more contrast, a warm tilt;
2. a framing that is not the scan's: a small shift, scale and rotation,
   with black where the transfer saw past the picture;
3. standard definition: 720x576 stored for a 4:3 picture (non-square
   pixels), so both axes are resampled (Lanczos, through OpenImageIO);
4. Rec.601 Y'CbCr in 8-bit video range with 4:2:0 chroma: Cb and Cr are
   kept at half resolution in both directions, as MPEG-2 stores them;
5. decoding back to 8-bit R'G'B' as a player would (chroma upsampled
   bilinearly).

The result has the colour the restoration needs and little else: soft,
chroma-smeared, banded and misaligned, as real references are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import map_coordinates, zoom

from archivist.imaging import colour, oiio

PAL = (576, 720)  # height, width of a PAL DVD frame
FULL_SCAN = (720, 960)  # the full demo scan; smaller scans get a proportionally smaller "DVD"


@dataclass(frozen=True)
class DvdSettings:
    """The transfer; recorded with the demo."""

    saturation: float = 0.9
    contrast: float = 1.06
    warmth: tuple[float, float, float] = (0.012, 0.0, -0.018)
    shift: tuple[float, float] = (3.2, -2.1)  # scan pixels, x and y
    scale: float = 1.012
    rotation: float = 0.25  # degrees

    def as_record(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def size_for(scan_hw: tuple[int, int]) -> tuple[int, int]:
    """The DVD frame size for a scan size: PAL for the full demo, proportionally smaller otherwise.

    >>> size_for((720, 960)), size_for((96, 128))
    ((576, 720), (77, 96))
    """
    h, w = scan_hw
    return max(8, round(h * PAL[0] / FULL_SCAN[0])), max(8, round(w * PAL[1] / FULL_SCAN[1]))


def grade(rgb: np.ndarray, settings: DvdSettings) -> np.ndarray:
    """The transfer's grade on code values.

    >>> out = grade(np.full((1, 1, 3), 0.5), DvdSettings(warmth=(0, 0, 0)))
    >>> bool(np.allclose(out, 0.5))
    True
    """
    y = colour.luma(rgb)[..., None]
    x = y + settings.saturation * (rgb - y)
    x = 0.5 + settings.contrast * (x - 0.5)
    return np.clip(x + np.asarray(settings.warmth), 0.0, 1.0)


def reframe(rgb: np.ndarray, settings: DvdSettings) -> np.ndarray:
    """Shift, scale and rotate about the centre (in scan pixels); black outside the picture."""
    h, w = rgb.shape[:2]
    a = np.deg2rad(settings.rotation)
    c, s = np.cos(a) / settings.scale, np.sin(a) / settings.scale
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx - (w - 1) / 2 - settings.shift[0], yy - (h - 1) / 2 - settings.shift[1]
    src_x = c * u + s * v + (w - 1) / 2
    src_y = -s * u + c * v + (h - 1) / 2
    return np.stack([map_coordinates(rgb[..., k], [src_y, src_x], order=3, mode="constant", cval=0.0)
                     for k in range(3)], -1)


def _to_601_codes(rgb: np.ndarray) -> np.ndarray:
    ycc = colour.rgb_to_ycbcr(rgb, colour.REC601["kr"], colour.REC601["kb"])
    return np.stack([np.round(16 + 219 * ycc[..., 0]), np.round(128 + 224 * ycc[..., 1]),
                     np.round(128 + 224 * ycc[..., 2])], -1).clip(0, 255)


def _from_601_codes(codes: np.ndarray) -> np.ndarray:
    ycc = np.stack([(codes[..., 0] - 16) / 219, (codes[..., 1] - 128) / 224, (codes[..., 2] - 128) / 224], -1)
    return colour.ycbcr_to_rgb(ycc, colour.REC601["kr"], colour.REC601["kb"])


def subsample_420(codes: np.ndarray) -> np.ndarray:
    """Average Cb and Cr over 2x2 blocks and upsample them back bilinearly; luma untouched.

    >>> x = np.zeros((4, 4, 3)); x[..., 1] = [[0, 4, 0, 4]] * 4
    >>> bool(np.allclose(subsample_420(x)[..., 1], 2.0))
    True
    """
    h, w = codes.shape[:2]
    ph, pw = h + h % 2, w + w % 2
    padded = np.pad(codes, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    out = codes.copy()
    for c in (1, 2):
        small = padded[..., c].reshape(ph // 2, 2, pw // 2, 2).mean(axis=(1, 3))
        out[..., c] = zoom(small, 2, order=1, mode="nearest", grid_mode=True)[:h, :w]
    return out


def to_dvd(rgb: np.ndarray, settings: DvdSettings, size: tuple[int, int] | None = None) -> np.ndarray:
    """The DVD frame of one original frame: uint8 (height, width, 3) R'G'B'."""
    size = size or size_for(rgb.shape[:2])
    x = reframe(grade(np.asarray(rgb, np.float64), settings), settings)
    x = oiio.resize(np.ascontiguousarray(x, np.float32), size[1], size[0], filter="lanczos3")
    codes = subsample_420(_to_601_codes(np.clip(x, 0.0, 1.0)))
    codes = np.round(codes).clip(0, 255)  # 8-bit storage after chroma subsampling
    out = _from_601_codes(codes)
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)
