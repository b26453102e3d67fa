"""The one module that touches OpenImageIO.

Frames are read as float32 arrays of shape (height, width, channels).
``probe`` reads the header and, unless told not to, decodes the pixels,
because a truncated file often has a perfect header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from archivist.errors import InputError

FRAME_EXTENSIONS = (".exr", ".dpx", ".tif", ".tiff", ".png")

_FLOAT_BITS = {"half": 16, "float": 32, "double": 64}
_INT_BITS = {"uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "uint32": 32, "int32": 32}


@dataclass(frozen=True)
class FrameInfo:
    width: int
    height: int
    channels: int
    channel_names: tuple[str, ...]
    pixel_type: str
    bit_depth: int
    file_format: str

    def shape_key(self) -> tuple:
        """What must agree between frames of one element."""
        return (self.width, self.height, self.channels, self.channel_names, self.pixel_type, self.bit_depth)


def _open(path: Path):
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise InputError("FRAME-UNREADABLE", f"{path}: cannot be read as an image ({oiio.geterror().strip() or 'unknown format'})")
    return inp


def probe(path: Path, *, decode: bool = True) -> FrameInfo:
    inp = _open(path)
    try:
        spec = inp.spec()
        pixel_type = str(spec.format)
        bits = spec.get_int_attribute("oiio:BitsPerSample", 0) or _FLOAT_BITS.get(pixel_type) or _INT_BITS.get(pixel_type, 0)
        info = FrameInfo(spec.width, spec.height, spec.nchannels, tuple(spec.channelnames),
                         pixel_type, int(bits), inp.format_name())
        if decode:
            pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
            if pixels is None:
                raise InputError("FRAME-CORRUPT", f"{path}: pixel data cannot be decoded "
                                 f"({inp.geterror().strip() or 'truncated or damaged'})")
        return info
    finally:
        inp.close()


def read(path: Path, channels: int | None = None, *, pixel_type: str = "float") -> np.ndarray:
    """Decode a frame to (H, W, C); ``channels`` keeps the first N.

    ``pixel_type`` is ``float`` (float32), ``half`` (float16: a half-float EXR as stored, half the
    memory and no conversion pass; float32 arithmetic on it is exact) or ``native``: half when every
    channel read is stored as half, float32 otherwise, so the values are always exact.
    """
    dtypes = {"float": np.float32, "half": np.float16}
    if pixel_type not in dtypes and pixel_type != "native":
        raise ValueError(f"pixel_type must be one of {', '.join(dtypes)} or native")
    inp = _open(path)
    try:
        spec = inp.spec()
        n = spec.nchannels if channels is None else min(channels, spec.nchannels)
        if pixel_type == "native":
            stored = [str(f) for f in spec.channelformats[:n]] or [str(spec.format)]
            pixel_type = "half" if set(stored) == {"half"} else "float"
        pixels = inp.read_image(0, 0, 0, n, pixel_type)
        if pixels is None:
            raise InputError("FRAME-CORRUPT", f"{path}: pixel data cannot be decoded ({inp.geterror().strip()})")
        return np.asarray(pixels, dtype=dtypes[pixel_type]).reshape(spec.height, spec.width, n)
    finally:
        inp.close()


def write(path: Path, pixels: np.ndarray, *, pixel_type: str = "half", attributes: dict | None = None,
          compression: str | None = None) -> None:
    """Write ``pixels`` (H, W, C) to ``path``; the format follows the extension.

    ``DateTime`` is fixed to empty unless given, so the same pixels and
    attributes always give the same bytes.
    """
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    c = pixels.shape[2] if pixels.ndim == 3 else 1
    spec = oiio.ImageSpec(w, h, c, pixel_type)
    if c in (3, 4):
        spec.channelnames = ("R", "G", "B", "A")[:c]
    spec.attribute("DateTime", "")
    if compression:
        spec.attribute("compression", compression)
    for key, value in (attributes or {}).items():
        if isinstance(value, (list, tuple)):
            spec.attribute(key, oiio.TypeDesc(f"float[{len(value)}]"), [float(v) for v in value])
        else:
            spec.attribute(key, value)
    out = oiio.ImageOutput.create(str(path))
    if out is None:
        raise InputError("FRAME-WRITE", f"{path}: no writer for this format ({oiio.geterror().strip()})")
    try:
        if not out.open(str(path), spec):
            raise InputError("FRAME-WRITE", f"{path}: {out.geterror().strip()}")
        if not out.write_image(pixels):
            raise InputError("FRAME-WRITE", f"{path}: {out.geterror().strip()}")
    finally:
        out.close()


def header(path: Path) -> dict:
    """All header attributes as a plain dict (for provenance checks)."""
    inp = _open(path)
    try:
        spec = inp.spec()
        return {a.name: a.value for a in spec.extra_attribs}
    finally:
        inp.close()


# -- resampling ---------------------------------------------------------------
# Continuous pixel coordinates throughout: pixel (i, j) covers [i, i+1) x [j, j+1)
# and its centre is (i + 0.5, j + 0.5), as in OpenImageIO and Nuke.

FILTERS = ("lanczos3", "catmull-rom", "triangle", "box", "mitchell", "bspline", "gaussian")


def _check_filter(name: str) -> str:
    if name not in FILTERS:
        raise ValueError(f"unknown resampling filter {name!r}; one of {', '.join(FILTERS)}")
    return name


def warp(pixels: np.ndarray, matrix, *, window: tuple[int, int, int, int], filter: str = "lanczos3",
         wrap: str = "clamp") -> np.ndarray:
    """Resample ``pixels`` (H, W, C) through an affine map, one filtered pass.

    ``matrix`` is 2x3 and maps input pixel coordinates to output pixel
    coordinates; ``window`` = (x, y, width, height) is the part of the output
    plane to compute. Minification is filtered (the filter footprint follows
    the map's derivatives), so resolution matching and alignment can share one
    resampling. ``wrap`` says what lies outside the input: ``clamp`` repeats
    the edge pixels, ``black`` is zero.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"expected a 2x3 matrix, got shape {m.shape}")
    src = oiio.ImageBuf(np.ascontiguousarray(pixels, dtype=np.float32))
    x, y, w, h = (int(v) for v in window)
    c = pixels.shape[2] if pixels.ndim == 3 else 1
    # OIIO's M33 is row-vector form: [x y 1] @ M.
    m33 = (m[0, 0], m[1, 0], 0.0, m[0, 1], m[1, 1], 0.0, m[0, 2], m[1, 2], 1.0)
    roi = oiio.ROI(x, x + w, y, y + h, 0, 1, 0, c)
    out = oiio.ImageBufAlgo.warp(src, m33, filtername=_check_filter(filter), wrap=wrap, roi=roi)
    if out.has_error:
        raise ValueError(f"warp failed: {out.geterror().strip()}")
    return np.asarray(out.get_pixels(oiio.FLOAT), dtype=np.float32).reshape(h, w, c)


def resize(pixels: np.ndarray, width: int, height: int, *, filter: str = "lanczos3") -> np.ndarray:
    """Resample ``pixels`` (H, W, C) to ``width`` x ``height``, mapping the full frame onto the full frame."""
    src = oiio.ImageBuf(np.ascontiguousarray(pixels, dtype=np.float32))
    c = pixels.shape[2] if pixels.ndim == 3 else 1
    out = oiio.ImageBufAlgo.resize(src, filtername=_check_filter(filter), roi=oiio.ROI(0, int(width), 0, int(height), 0, 1, 0, c))
    if out.has_error:
        raise ValueError(f"resize failed: {out.geterror().strip()}")
    return np.asarray(out.get_pixels(oiio.FLOAT), dtype=np.float32).reshape(int(height), int(width), c)


def library_version() -> str:
    """The OpenImageIO version, recorded wherever OIIO resampled something."""
    return str(oiio.__version__)
