"""The log space the LUT baseline works in: ACEScct, through OpenColorIO.

MatchGrade-style baselines are fitted on log-encoded values (the domain
guide's Linear -> Log -> MatchGrade -> Log -> Linear), so a 33-point
lattice spends its nodes evenly across stops rather than crowding the
highlights. Conversions use a pinned OCIO built-in config, so the same
values convert the same way wherever the package is opened.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

CONFIG = "studio-config-v2.2.0_aces-v1.3_ocio-v2.4"
LOG_SPACE = "ACEScct"
# Frame encodings the QC understands (see ``metrics``), as OCIO colour space names.
FRAME_SPACES = {"srgb": "sRGB Encoded Rec.709 (sRGB)", "linear-rec709": "Linear Rec.709 (sRGB)"}


@lru_cache(maxsize=None)
def _processor(src: str, dst: str):
    cfg = ocio.Config.CreateFromBuiltinConfig(CONFIG)
    return cfg.getProcessor(src, dst).getDefaultCPUProcessor()


def _run(rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).reshape(-1, 3)).copy()
    _processor(src, dst).applyRGB(arr)
    return arr.reshape(np.shape(rgb))


def to_log(rgb: np.ndarray, encoding: str = "srgb") -> np.ndarray:
    """Frame values to ACEScct (AP1 primaries).

    >>> [round(float(v), 4) for v in to_log(np.array([[0.0, 0.0, 0.0]]))[0]]
    [0.0729, 0.0729, 0.0729]
    """
    return _run(rgb, FRAME_SPACES[encoding], LOG_SPACE)


def from_log(cct: np.ndarray, encoding: str = "srgb") -> np.ndarray:
    """ACEScct back to frame values; ``from_log(to_log(x)) == x`` to float precision.

    >>> x = np.array([[0.2, 0.5, 0.9]], np.float32)
    >>> bool(np.allclose(from_log(to_log(x)), x, atol=1e-4))
    True
    """
    return _run(cct, LOG_SPACE, FRAME_SPACES[encoding])


def describe(encoding: str) -> dict:
    """How the LUT's input and output are encoded, for the record and the .cube comments."""
    return {"ocio_config": CONFIG, "ocio_version": ocio.__version__, "frame_space": FRAME_SPACES[encoding],
            "lut_space": LOG_SPACE}
