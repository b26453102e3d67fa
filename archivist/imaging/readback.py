"""Reading an element's frames in the working R'G'B' a stage works in.

An element's frames are used as stored. A derived element's frames are an
inference run's half-float ACES 2065-1 outputs; its record's ``read_as``
names the OpenColorIO conversion back to the working space the run started
from, and every stage that reads them (dataset, training, inference, QC)
applies it here, so a later stage sees what the earlier one would have seen
had it written its result in that space.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.imaging.colourspaces import CONFIG, config


@lru_cache(maxsize=16)
def _processor(source: str, destination: str):
    return config().getProcessor(source, destination).getDefaultCPUProcessor()


def check(read_as: dict | None) -> None:
    """Refuse a ``read_as`` this installation cannot apply exactly as recorded."""
    if read_as is None:
        return
    if read_as.get("config") != CONFIG:
        raise InputError("COLOUR-READBACK", f"frames are read back with OpenColorIO config {read_as.get('config')!r}, "
                         f"this archivist has {CONFIG!r}")
    names = {cs.getName() for cs in config().getColorSpaces()}
    for key in ("source", "destination"):
        if read_as.get(key) not in names:
            raise InputError("COLOUR-READBACK", f"colour space {read_as.get(key)!r} is not in {CONFIG}")


def to_working(rgb: np.ndarray, read_as: dict | None) -> np.ndarray:
    """Stored values to the working R'G'B' (unchanged when ``read_as`` is None).

    Args:
        rgb: (H, W, 3) frame values as stored.
        read_as: a derived element's ``read_as`` ({config, source, destination}), or None.

    Returns:
        (H, W, 3) float32, C-contiguous; every pixel converted on its own, so the same input gives the same bits.
    """
    out = np.ascontiguousarray(rgb[..., :3], dtype=np.float32)
    if read_as is None or read_as["source"] == read_as["destination"]:
        return out
    out = out.copy() if out is rgb else out
    _processor(read_as["source"], read_as["destination"]).applyRGB(out)
    return out


def read(path: Path | str, read_as: dict | None) -> np.ndarray:
    """A frame's three channels in the working R'G'B': (H, W, 3) float32."""
    return to_working(oiio.read(path, channels=3), read_as)


def read_as_of(pkg, element: str) -> dict | None:
    """The ``read_as`` of an element (None for an element whose frames are used as stored)."""
    return pkg.element(element).get("read_as")
