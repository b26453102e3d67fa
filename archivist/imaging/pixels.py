"""Pixel fixity: a hash of a frame's decoded pixels, which a lossless re-encoding keeps.

A file checksum changes when a master moves from one EXR compression to
another, or to DPX; the pixels do not. Like FFmpeg's framemd5, this hashes
what a decoder gives, in a form defined exactly (docs/package-format.md,
"Pixel hash") so any tool can recompute it. Frames are read through
``archivist.imaging.oiio`` only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from archivist.imaging import oiio

SCHEME = "archivist-pixels/1"


def pixel_hash(path: Path | str) -> str:
    """SHA-256 (hex) of a frame's decoded pixels, scheme ``archivist-pixels/1``.

    The bytes hashed are the ASCII line ``archivist-pixels/1 WxH C1,C2,... float32le``
    and a newline, then every pixel of the data window decoded to 32-bit IEEE
    float (exact for half, float and 8- or 16-bit integer channels), rows top
    to bottom, pixels left to right, channels interleaved in the order
    OpenImageIO gives them (R, G, B, A first, then the others as stored),
    little-endian.

    Args:
        path: the frame file (EXR, DPX, TIFF, PNG).

    Returns:
        64 lowercase hex digits.

    Shape:
        The decoded frame is (H, W, C): H rows of the data window, W columns, C channels.
    """
    path = Path(path)
    info = oiio.probe(path, decode=False)
    pixels = oiio.read(path)
    head = f"{SCHEME} {info.width}x{info.height} {','.join(info.channel_names)} float32le\n"
    h = hashlib.sha256(head.encode("ascii", "backslashreplace"))
    h.update(np.ascontiguousarray(pixels, dtype="<f4").tobytes())
    return h.hexdigest()
