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


def read(path: Path, channels: int | None = None) -> np.ndarray:
    """Decode a frame to float32 (H, W, C); ``channels`` keeps the first N."""
    inp = _open(path)
    try:
        spec = inp.spec()
        n = spec.nchannels if channels is None else min(channels, spec.nchannels)
        pixels = inp.read_image(0, 0, 0, n, "float")
        if pixels is None:
            raise InputError("FRAME-CORRUPT", f"{path}: pixel data cannot be decoded ({inp.geterror().strip()})")
        return np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, n)
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
