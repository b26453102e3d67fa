"""Contact sheets: panels side by side, as small pure functions on (H, W, 3) arrays."""

from __future__ import annotations

import numpy as np

GUTTER = 4
GUTTER_VALUE = 0.18  # mid grey, so panel edges stay visible on black or white frames


def centre_window(height: int, width: int, limit: int) -> tuple[int, int, int, int]:
    """(y, x, h, w) of the centred window of at most ``limit`` x ``limit`` pixels.

    >>> centre_window(100, 300, 64)
    (18, 118, 64, 64)
    >>> centre_window(40, 50, 64)
    (0, 0, 40, 50)
    """
    h, w = min(height, limit), min(width, limit)
    return (height - h) // 2, (width - w) // 2, h, w


def sheet(panels: list[np.ndarray]) -> np.ndarray:
    """Panels of equal height side by side with grey gutters, clamped to [0, 1].

    >>> sheet([np.zeros((2, 3, 3)), np.ones((2, 3, 3))]).shape
    (2, 10, 3)
    """
    h = panels[0].shape[0]
    gutter = np.full((h, GUTTER, 3), GUTTER_VALUE, dtype=np.float32)
    parts: list[np.ndarray] = []
    for i, p in enumerate(panels):
        if p.shape[0] != h:
            raise ValueError("panels must have the same height")
        if i:
            parts.append(gutter)
        parts.append(np.clip(p, 0.0, 1.0).astype(np.float32))
    return np.concatenate(parts, axis=1)
