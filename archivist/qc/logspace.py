"""Colour conversions the QC needs, through OpenColorIO.

* the log space the LUT baseline works in: ACEScct. MatchGrade-style
  baselines are fitted on log-encoded values (the domain guide's
  Linear -> Log -> MatchGrade -> Log -> Linear), so a 33-point lattice
  spends its nodes evenly across stops rather than crowding the highlights;
* linear Rec.709, from which the metrics compute CIELAB;
* the inverse of an inference run's recorded conversion to ACES 2065-1,
  to compare its outputs with frames in the source's colour space.

The config is the one inference pins (``archivist.inference.aces``), so a
recorded colour space name means the same thing in both places.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import PyOpenColorIO as ocio

from archivist.errors import InputError
from archivist.inference import aces

CONFIG = aces.CONFIG
LOG_SPACE = "ACEScct"
LINEAR_REC709 = "Linear Rec.709 (sRGB)"


def frame_space(recorded: str) -> str:
    """The config's colour space for a recorded name ('Rec.709', 'scene-linear Rec.709', ...).

    >>> frame_space("Rec.709")
    'Gamma 2.4 Rec.709 - Texture'
    """
    return aces.resolve(recorded)


@cache
def _config(name: str):
    if not name.startswith("ocio://"):
        raise InputError("QC-COLOUR", f"colour conversions only use OpenColorIO's built-in configs, not {name!r}")
    try:
        return ocio.Config.CreateFromFile(name)
    except ocio.Exception as exc:
        raise InputError("QC-COLOUR", f"OpenColorIO has no built-in config {name!r}: {exc}") from None


@cache
def _processor(config: str, src: str, dst: str):
    try:
        return _config(config).getProcessor(src, dst).getDefaultCPUProcessor()
    except ocio.Exception as exc:
        raise InputError("QC-COLOUR", f"no conversion from {src!r} to {dst!r} in {config}: {exc}") from None


def convert(rgb: np.ndarray, src: str, dst: str, config: str = CONFIG) -> np.ndarray:
    """(..., 3) float32 values from colour space ``src`` to ``dst``."""
    arr = np.array(np.asarray(rgb, dtype=np.float32).reshape(-1, 3), order="C", copy=True)
    if src != dst:
        _processor(config, src, dst).applyRGB(arr)
    return arr.reshape(np.shape(rgb))


def to_log(rgb: np.ndarray, space: str) -> np.ndarray:
    """Frame values in ``space`` to ACEScct (AP1 primaries).

    >>> [round(float(v), 4) for v in to_log(np.array([[0.0, 0.0, 0.0]]), "Linear Rec.709 (sRGB)")[0]]
    [0.0729, 0.0729, 0.0729]
    """
    return convert(rgb, space, LOG_SPACE)


def from_log(cct: np.ndarray, space: str) -> np.ndarray:
    """ACEScct back to frame values in ``space``.

    >>> x = np.array([[0.2, 0.5, 0.9]], np.float32)
    >>> bool(np.allclose(from_log(to_log(x, "Gamma 2.4 Rec.709 - Texture"), "Gamma 2.4 Rec.709 - Texture"), x, atol=1e-4))
    True
    """
    return convert(cct, LOG_SPACE, space)


def to_linear_rec709(rgb: np.ndarray, space: str) -> np.ndarray:
    """Frame values in ``space`` to linear Rec.709 (for CIELAB).

    >>> round(float(to_linear_rec709(np.array([[0.5, 0.5, 0.5]]), "Gamma 2.4 Rec.709 - Texture")[0, 0]), 4)
    0.1895
    """
    return convert(rgb, space, LINEAR_REC709)


def undo_recorded(rgb: np.ndarray, conversion: dict) -> np.ndarray:
    """Invert an inference run's recorded ``{config, source, destination}`` conversion."""
    return convert(rgb, conversion["destination"], conversion["source"], conversion["config"])


def describe(space: str) -> dict:
    """How the LUT's input and output are encoded, for the record and the .cube comments."""
    return {"ocio_config": CONFIG, "opencolorio": ocio.__version__, "frame_space": space, "lut_space": LOG_SPACE}
