"""Conversion of the model's working R'G'B' to ACES 2065-1 with OpenColorIO.

The config is OpenColorIO's built-in ACES studio config, pinned by its full
versioned name so that a newer OpenColorIO cannot silently change the
transform an archived run used. The source colour space is the one recorded
for the source element (``scan.colour_space``) or given with
``--colour-space``; which names are accepted and what they map to is
``archivist.imaging.colourspaces``.

"Rec.709" means display-referred video (a telecine, a DVD, Resolve's
Rec.709 export, as in the chroma recovery guide): its code values are
decoded with the BT.1886 gamma 2.4 curve and its primaries converted, with
no inverse output transform, which keeps the restorer's grade as it was.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from archivist.imaging import colourspaces
from archivist.imaging.colourspaces import CONFIG, config  # noqa: F401 - re-exported for the run records

DESTINATION = "ACES2065-1"
BAND_VALUES = 3 * 256 * 256  # smaller frames are converted in one call: threads would cost more than they save

# ACES AP0 primaries and white point (SMPTE ST 2065-1): Rx Ry Gx Gy Bx By Wx Wy.
AP0_CHROMATICITIES = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.0770, 0.32168, 0.33767)


def resolve(name: str) -> str:
    """The config colour space for a recorded colour space name (``archivist.imaging.colourspaces``).

    >>> resolve("scene-linear Rec.709")
    'Linear Rec.709 (sRGB)'
    >>> resolve("Rec.709")
    'Gamma 2.4 Rec.709 - Texture'
    >>> resolve("lin_ap1")
    'ACEScg'
    >>> from archivist.errors import InputError
    >>> try:
    ...     resolve("Kodachrome")
    ... except InputError as exc:
    ...     print(exc.code)
    INFER-COLOUR-SPACE
    """
    return colourspaces.resolve(name, code="INFER-COLOUR-SPACE")


@dataclass(frozen=True)
class AcesConversion:
    """A CPU processor from one colour space to ACES 2065-1."""

    source: str  # the config's colour space name

    def as_record(self) -> dict:
        return {"config": CONFIG, "source": self.source, "destination": DESTINATION,
                "opencolorio": ocio.__version__}

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """A converted float32 copy of (H, W, 3) ``rgb``."""
        return self.apply_inplace(np.ascontiguousarray(rgb, dtype=np.float32).copy())

    def apply_inplace(self, rgb: np.ndarray, *, workers: int = 2) -> np.ndarray:
        """Convert a C-contiguous float32 (H, W, 3) array in place, in row bands on ``workers`` threads.

        Every pixel is converted on its own, so the bands give the same bits as one call.
        """
        if rgb.dtype != np.float32 or not rgb.flags.c_contiguous:
            raise ValueError("apply_inplace needs a C-contiguous float32 array")
        if self.source == DESTINATION:
            return rgb
        proc = _processor(self.source)
        if workers <= 1 or rgb.size < BAND_VALUES:
            proc.applyRGB(rgb)
            return rgb
        bands = [b for b in np.array_split(rgb, workers * 4, axis=0) if b.size]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(proc.applyRGB, bands))
        return rgb


@lru_cache(maxsize=16)
def _processor(source: str):
    return config().getProcessor(source, DESTINATION).getDefaultCPUProcessor()


def to_aces(name: str) -> AcesConversion:
    """The conversion for a recorded colour space name (resolved with ``resolve``)."""
    return AcesConversion(resolve(name))
