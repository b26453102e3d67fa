"""A documented model of chromogenic dye fading, for making faded "print" frames.

A colour print holds three dye layers: cyan (absorbs red), magenta (absorbs
green) and yellow (absorbs blue). Fading destroys dye, and the dyes of most
pre-1983 motion picture print stocks do not fade at the same rate: in dark
storage the cyan and yellow dyes are lost faster than the magenta, which
leaves the familiar pink-magenta print (Wilhelm and Brower 1993, ch. 9;
Reilly 1998). Fading is also uneven: it differs across a frame (reel edges,
storage conditions) and along a reel, and a yellowish stain builds up in the
base and highlights. Restoration research models it in dye density, not in
RGB (Frey and Gschwind 1994; Gschwind and Frey 1994), because dye loss is
multiplicative in transmittance and linear in density.

The model, per pixel (x, y) of frame t:

1. decode the original's code values to linear transmittance T (BT.1886,
   gamma 2.4, as a Rec.709 telecine would be), limited to the print's
   density range (``D_MAX``), and take integral densities D = -log10 T;
2. recover analytical dye amounts a = M^-1 D, where the 3x3 matrix M holds
   each dye's unwanted side absorptions (``CROSSTALK``);
3. fade: a' = r(x, y, t) * a per dye, with retention
   r = 1 - (1 - r0) * s(x, y, t); r0 is the per-dye retention of a fully
   faded area (``RETENTION``: cyan and yellow lower than magenta) and s the
   fade strength, 1 everywhere for a uniform fade, or a smooth field across
   the frame that also drifts along the shot;
4. add base stain, mostly blue density (yellowish): D' = M a' + s * STAIN;
5. add grain: independent noise per dye layer, blurred to a grain size
   below a pixel and proportional to sqrt(dye amount) (more dye, more
   grain clouds), different in every frame;
6. encode back to code values (gamma 2.4) and clamp to [0, 1].

References:

* Frey, F. and Gschwind, R. (1994). Mathematical bleaching models for
  photographic three-color materials. Journal of Imaging Science and
  Technology 38(6), 513-519.
* Gschwind, R. and Frey, F. (1994). Electronic imaging, a tool for the
  reconstruction of faded color photographs. Journal of Imaging Science and
  Technology 38(6), 520-525.
* Reilly, J. M. (1998). Storage Guide for Color Photographic Materials.
  Image Permanence Institute, Rochester Institute of Technology.
* Wilhelm, H. and Brower, C. (1993). The Permanence and Care of Color
  Photographs. Preservation Publishing Company, Grinnell, Iowa.

The numbers are illustrative, chosen to give a strong magenta cast like the
prints in the chroma recovery guide; they are not measurements of one stock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

GAMMA = 2.4
D_MAX = 3.0  # densest the print can be (transmittance 10^-3)

# Integral density (rows R, G, B) per unit analytical density of each dye (columns C, M, Y).
CROSSTALK = np.array([
    [1.00, 0.08, 0.01],
    [0.10, 1.00, 0.08],
    [0.05, 0.25, 1.00],
])
RETENTION = (0.45, 0.85, 0.40)  # cyan, magenta, yellow dye left where the fade is strongest
STAIN = (0.01, 0.02, 0.07)  # added R, G, B density at full fade strength (yellowish)


@dataclass(frozen=True)
class FadeSettings:
    """What ``fade`` does; recorded with the demo so the faded print can be remade exactly."""

    uniform: bool = False
    retention: tuple[float, float, float] = RETENTION
    stain: tuple[float, float, float] = STAIN
    strength_range: tuple[float, float] = (0.55, 1.25)  # fade strength across the frame (non-uniform)
    drift: float = 0.25  # strength change from the first to the last frame (non-uniform)
    grain: float = 0.035  # grain density (standard deviation) at one unit of dye
    grain_size: float = 0.6  # Gaussian sigma of a grain cloud, in pixels
    seed: int = 0

    def as_record(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def to_density(rgb: np.ndarray) -> np.ndarray:
    """Integral densities of code values (BT.1886 decode), limited to ``D_MAX``.

    >>> [round(float(v), 4) + 0.0 for v in to_density(np.array([1.0, 0.5, 0.0]))]
    [0.0, 0.7225, 3.0]
    """
    t = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0) ** GAMMA
    return -np.log10(np.maximum(t, 10.0 ** -D_MAX))


def from_density(d: np.ndarray) -> np.ndarray:
    """Code values of integral densities (the inverse of ``to_density`` inside its range).

    >>> bool(np.allclose(from_density(to_density(np.array([0.9, 0.5, 0.2]))), [0.9, 0.5, 0.2]))
    True
    """
    return (10.0 ** -np.asarray(d, np.float64)) ** (1.0 / GAMMA)


def dye_amounts(density: np.ndarray) -> np.ndarray:
    """Analytical dye amounts (C, M, Y) from integral densities (R, G, B): M^-1 D."""
    return density @ np.linalg.inv(CROSSTALK).T


def strength_field(height: int, width: int, index: int, count: int, settings: FadeSettings) -> np.ndarray:
    """Fade strength s(x, y) of frame ``index`` of ``count``: 1 when uniform, else a smooth field.

    The field is fixed to the print, not to the picture: a diagonal gradient
    (one edge of the reel faded more) plus a broad blotch, scaled along the
    shot by ``drift``.

    >>> s = strength_field(6, 8, 0, 24, FadeSettings(uniform=True))
    >>> float(s.min()), float(s.max())
    (1.0, 1.0)
    >>> s = strength_field(60, 80, 0, 24, FadeSettings())
    >>> bool(s.max() - s.min() > 0.4)
    True
    """
    if settings.uniform:
        return np.ones((height, width))
    yy, xx = np.mgrid[0:height, 0:width]
    u, v = xx / max(width - 1, 1), yy / max(height - 1, 1)
    diagonal = 0.6 * u + 0.4 * v
    blotch = np.exp(-(((u - 0.3) / 0.28) ** 2 + ((v - 0.7) / 0.35) ** 2))
    base = (diagonal + 0.6 * blotch) / 1.6  # in [0, 1]
    lo, hi = settings.strength_range
    field = lo + (hi - lo) * base
    t = index / max(count - 1, 1)
    return field * (1.0 - settings.drift / 2 + settings.drift * t)


def fade(rgb: np.ndarray, index: int, count: int, settings: FadeSettings) -> np.ndarray:
    """The faded print of one original frame (float32 code values in [0, 1]).

    Deterministic: the grain of frame ``index`` comes from ``settings.seed`` and ``index``.

    >>> grey = np.full((16, 16, 3), 0.6)
    >>> out = fade(grey, 0, 1, FadeSettings(uniform=True, grain=0.0))
    >>> r, g, b = out[8, 8]
    >>> bool(g < r and g < b)  # magenta: green is absorbed most once cyan and yellow have gone
    True
    """
    h, w = rgb.shape[:2]
    density = to_density(rgb[..., :3])
    dyes = dye_amounts(density)
    s = strength_field(h, w, index, count, settings)[..., None]
    r0 = np.asarray(settings.retention)
    retention = 1.0 - (1.0 - r0) * s
    faded = dyes * np.clip(retention, 0.0, 1.0)
    if settings.grain > 0:
        rng = np.random.default_rng([settings.seed, index])
        noise = rng.standard_normal((h, w, 3))
        for c in range(3):  # each dye layer has its own grain
            noise[..., c] = gaussian_filter(noise[..., c], settings.grain_size, mode="wrap")
        noise /= max(noise.std(), 1e-12)
        faded = faded + settings.grain * noise * np.sqrt(np.maximum(faded, 0.0) + 0.05)
    out_density = faded @ CROSSTALK.T + s * np.asarray(settings.stain)
    return np.clip(from_density(out_density), 0.0, 1.0).astype(np.float32)
