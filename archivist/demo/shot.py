"""The demo's example shot: a slow camera move over a photograph bundled with scikit-image.

Nothing is downloaded: scikit-image's wheel ships these photographs. Each
frame is a 4:3 window over the photograph that pans slowly and zooms in,
with ease-in and ease-out, sampled with a cubic spline so the motion is
sub-pixel smooth. The frames are the "true original" the demo restores
towards: code values in [0, 1], treated as Rec.709 video.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket")


def photograph(name: str) -> np.ndarray:
    """A scikit-image photograph as float32 (H, W, 3) in [0, 1]."""
    from skimage import data as skdata

    if name not in PHOTOGRAPHS:
        raise ValueError(f"unknown photograph {name!r}; one of {', '.join(PHOTOGRAPHS)}")
    img = getattr(skdata, name)()
    return img[..., :3].astype(np.float32) / 255.0


@dataclass(frozen=True)
class ShotSettings:
    """The camera move; recorded with the demo so the shot can be remade exactly."""

    photograph: str = "astronaut"
    frames: int = 30
    width: int = 960
    height: int = 720
    coverage: float = 0.86  # window width at the start, as a fraction of the photograph's width
    zoom: float = 1.2  # how much closer the last frame is than the first
    pan: tuple[float, float] = (0.25, 0.75)  # window centre from/to, as a fraction of the free width

    def as_record(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def ease(t: float) -> float:
    """Smoothstep: starts and stops gently.

    >>> ease(0.0), ease(0.5), ease(1.0)
    (0.0, 0.5, 1.0)
    """
    return t * t * (3.0 - 2.0 * t)


def window(index: int, settings: ShotSettings, photo_hw: tuple[int, int]) -> tuple[float, float, float]:
    """(centre x, centre y, width) of frame ``index``'s window, in photograph pixels.

    >>> s = ShotSettings(frames=3, width=40, height=30)
    >>> [round(v, 1) for v in window(0, s, (512, 512))]
    [238.1, 256.0, 440.3]
    """
    ph, pw = photo_hw
    aspect = settings.height / settings.width
    t = ease(index / max(settings.frames - 1, 1))
    w = min(settings.coverage * pw, ph / aspect) / (1.0 + (settings.zoom - 1.0) * t)
    h = w * aspect
    a, b = settings.pan
    free_x, free_y = pw - w, ph - h
    cx = w / 2 + free_x * (a + (b - a) * t)
    cy = h / 2 + free_y * (0.5 - 0.1 * t)
    return cx, cy, w


def frame(photo: np.ndarray, index: int, settings: ShotSettings) -> np.ndarray:
    """Frame ``index`` of the shot, float32 (height, width, 3) in [0, 1].

    When the frame is smaller than the window, the photograph is blurred
    first (a Gaussian of half the reduction), so small frames do not alias.
    """
    cx, cy, w = window(index, settings, photo.shape[:2])
    scale = w / settings.width
    if scale > 1.0:
        photo = gaussian_filter(photo, (0.5 * scale, 0.5 * scale, 0), mode="reflect")
    ys = cy + (np.arange(settings.height) + 0.5 - settings.height / 2) * scale - 0.5
    xs = cx + (np.arange(settings.width) + 0.5 - settings.width / 2) * scale - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    out = np.stack([map_coordinates(photo[..., c], [yy, xx], order=3, mode="reflect") for c in range(3)], -1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def make_shot(settings: ShotSettings) -> list[np.ndarray]:
    """Every frame of the shot.

    >>> frames = make_shot(ShotSettings(frames=3, width=32, height=24))
    >>> len(frames), frames[0].shape, bool(np.abs(frames[0] - frames[2]).mean() > 0.01)
    (3, (24, 32, 3), True)
    """
    photo = photograph(settings.photograph)
    return [frame(photo, i, settings) for i in range(settings.frames)]
