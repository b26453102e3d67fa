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

# OpenEXR compressions that give back every half value exactly as it was written (each tested against a
# decode in tests/test_pixel_hash.py). DWAA, DWAB and B44 are lossy; PXR24 is lossy for 32-bit floats only.
LOSSLESS_HALF = frozenset({"none", "rle", "zips", "zip", "piz", "pxr24", "htj2k32", "htj2k256"})
_BAND_ROWS = 32  # rows converted to float32 at a time: a 2K band fits in a core's cache


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
    return pixel_hash_of(oiio.read(path), info.channel_names)


def _header(width: int, height: int, channel_names) -> bytes:
    return f"{SCHEME} {width}x{height} {','.join(channel_names)} float32le\n".encode("ascii", "backslashreplace")


def pixel_hash_of(pixels: np.ndarray, channel_names) -> str:
    """``pixel_hash`` of pixels in memory, as a decoder would give them.

    Equal to ``pixel_hash`` of a file exactly when decoding the file gives ``pixels`` (its data window,
    channels in the file's order). The float32 copy is made a band of rows at a time, so hashing a
    half-float frame needs no full-size copy.

    Args:
        pixels: half, float or double values; converted to float32 (exact for half).
        channel_names: the channel names, in order.

    Returns:
        64 lowercase hex digits.

    Shape:
        pixels: (H, W, C) or (H, W) for one channel.
    """
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    h, w, c = pixels.shape
    if len(channel_names) != c:
        raise ValueError(f"{c} channel(s) but {len(channel_names)} channel name(s)")
    digest = hashlib.sha256(_header(w, h, channel_names))
    for y in range(0, h, _BAND_ROWS):
        digest.update(np.ascontiguousarray(pixels[y:y + _BAND_ROWS], dtype="<f4").data)
    return digest.hexdigest()


def written_pixel_hash(path: Path | str, pixels: np.ndarray, compression: str,
                       channel_names=("R", "G", "B")) -> str:
    """``pixel_hash(path)`` of a half-float EXR just written from ``pixels``, without decoding it when it need not.

    With a compression in ``LOSSLESS_HALF`` the decoder gives back the very half values written, and a half
    converts to float32 exactly, so the hash of ``pixels`` in memory is the hash of the decoded file, bit for
    bit. Anything else is decoded from the file as written: a lossy compression (its hash is of what it
    stored), pixels that are not half, and NaNs, whose payload bits this does not promise to convert the way
    the decoder does.

    Args:
        path: the EXR written from ``pixels``.
        pixels: the half values given to the writer.
        compression: the compression the file was written with, spelled as given to the writer.
        channel_names: the channel names written, in order.

    Returns:
        64 lowercase hex digits, equal to ``pixel_hash(path)``.

    Shape:
        pixels: (H, W, C).
    """
    if compression in LOSSLESS_HALF and pixels.dtype == np.float16 and not np.isnan(pixels).any():
        return pixel_hash_of(pixels, channel_names)
    return pixel_hash(path)
