"""The pixel hash of a frame in memory is the pixel hash of its decoded file, for every lossless compression."""

from __future__ import annotations

import numpy as np
import pytest

from archivist.imaging import oiio, pixels
from archivist.inference import COMPRESSIONS


def _frame() -> np.ndarray:
    """Grain-bearing half values with the awkward ones: negatives, -0, subnormals, the largest half, infinities."""
    rng = np.random.default_rng(11)
    f = (0.4 + 0.3 * rng.standard_normal((37, 70, 3))).astype(np.float16)
    f[0, :6, 0] = np.array([-0.0, 6e-8, -6e-8, 65504, np.inf, -np.inf], np.float16)
    f[1, :3, 1] = np.array([2.0**-24, 2.0**-14, -1.5], np.float16)
    return f


@pytest.mark.parametrize("compression", sorted(pixels.LOSSLESS_HALF | set(COMPRESSIONS)))
def test_in_memory_hash_is_the_decoded_files_hash(tmp_path, compression):
    frame = _frame()
    path = tmp_path / f"f.{compression}.exr"
    oiio.write(path, frame, pixel_type="half", compression=compression)
    assert oiio.header(path)["compression"] == compression
    decoded = pixels.pixel_hash(path)
    assert pixels.written_pixel_hash(path, frame, compression) == decoded
    same = pixels.pixel_hash_of(frame, ("R", "G", "B")) == decoded
    # Memory and file agree exactly for the lossless ones; DWAA changes the values, and its hash is the file's.
    assert same == (compression in pixels.LOSSLESS_HALF)


def test_nans_and_other_types_are_hashed_from_the_file(tmp_path):
    frame = _frame()
    frame[3, 4, 2] = np.nan
    path = tmp_path / "nan.exr"
    oiio.write(path, frame, pixel_type="half", compression="piz")
    assert pixels.written_pixel_hash(path, frame, "piz") == pixels.pixel_hash(path)
    # float32 values written as half are rounded by the writer: the hash must be of what was stored.
    wide = _frame().astype(np.float32) + np.float32(1e-4)
    oiio.write(path, wide, pixel_type="half", compression="piz")
    assert pixels.written_pixel_hash(path, wide, "piz") == pixels.pixel_hash(path)
    assert pixels.pixel_hash_of(wide, "RGB") != pixels.pixel_hash(path)
