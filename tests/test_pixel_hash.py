"""The pixel hash survives a lossless re-encoding and changes with the pixels."""

from __future__ import annotations

import hashlib

import numpy as np

from archivist.imaging import oiio
from archivist.imaging.pixels import pixel_hash


def test_a_lossless_reencode_keeps_the_pixel_hash_and_a_changed_pixel_does_not(tmp_path):
    rng = np.random.default_rng(7)
    frame = rng.random((40, 64, 3), dtype=np.float32).astype(np.float16).astype(np.float32)
    piz, zip_, none, dwaa = (tmp_path / f"f.{c}.exr" for c in ("piz", "zip", "none", "dwaa"))
    oiio.write(piz, frame, pixel_type="half", compression="piz")
    for out, compression in ((zip_, "zip"), (none, "none"), (dwaa, "dwaa")):
        oiio.write(out, oiio.read(piz), pixel_type="half", compression=compression)
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (piz, zip_, none)}
    assert len(set(sha.values())) == 3  # the files differ ...
    assert pixel_hash(piz) == pixel_hash(zip_) == pixel_hash(none)  # ... their pixels do not
    assert pixel_hash(dwaa) != pixel_hash(piz)  # DWAA is lossy (on frames of 32 rows or more)
    changed = frame.copy()
    changed[5, 7, 1] = np.float32(np.float16(changed[5, 7, 1]) + np.float16(0.125))
    oiio.write(tmp_path / "g.exr", changed, pixel_type="half", compression="piz")
    assert pixel_hash(tmp_path / "g.exr") != pixel_hash(piz)
    # The definition, recomputed by hand from the decoded pixels
    head = b"archivist-pixels/1 64x40 R,G,B float32le\n"
    assert pixel_hash(piz) == hashlib.sha256(head + oiio.read(piz).astype("<f4").tobytes()).hexdigest()
