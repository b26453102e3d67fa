"""Random training patches drawn from one seeded generator.

A pair with a region (``archivist.dataset.regions``) is sampled only where a
whole patch lies inside the region: its patch corners are drawn uniformly
from the positions whose ``patch x patch`` window is entirely usable. A pair
without one is sampled anywhere, exactly as before regions existed, so runs
on datasets without regions draw the same patches.
"""

from __future__ import annotations

import numpy as np
import torch

from archivist.errors import InputError
from archivist.training.data import TrainingData


def valid_corners(allowed: np.ndarray, patch: int) -> np.ndarray:
    """Top-left corners (y, x) of every ``patch`` x ``patch`` window wholly inside ``allowed``.

    Args:
        allowed: (H, W) bool, the usable pixels.
        patch: the patch size.

    Returns:
        (N, 2) int64 corners, in raster order.

    >>> a = np.zeros((4, 5), bool); a[1:4, 1:4] = True
    >>> valid_corners(a, 2).tolist()
    [[1, 1], [1, 2], [2, 1], [2, 2]]
    """
    h, w = allowed.shape
    if patch > h or patch > w:
        return np.zeros((0, 2), np.int64)
    s = np.zeros((h + 1, w + 1), np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(allowed.astype(np.int64), axis=0), axis=1)
    inside = s[patch:, patch:] - s[:-patch, patch:] - s[patch:, :-patch] + s[:-patch, :-patch]
    return np.argwhere(inside == patch * patch).astype(np.int64)


def largest_patch(allowed: np.ndarray) -> int:
    """The side of the largest square wholly inside ``allowed``.

    >>> a = np.zeros((6, 6), bool); a[1:5, 0:3] = True
    >>> largest_patch(a)
    3
    """
    lo, hi = 0, min(allowed.shape)
    while lo < hi:  # the property is monotone in the size
        mid = (lo + hi + 1) // 2
        if len(valid_corners(allowed, mid)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def effective_patch(data: TrainingData, patch: int) -> int:
    """The patch size a run uses: the one asked for, clamped to the crop and to every pair's region."""
    sizes = [patch] + [min(hw) for hw in data.sizes]
    sizes += [largest_patch(r) for r in data.regions if r is not None]
    return min(sizes)


class PatchSampler:
    """Random patches of the pre-loaded pairs, from one seeded CPU generator.

    All randomness of the loop comes from here, so its state in a checkpoint
    is enough to continue the same sequence of patches after a resume.
    """

    def __init__(self, seed: int, sizes: list[tuple[int, int]], batch: int, patch: int,
                 regions: list[np.ndarray | None] | None = None):
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.sizes, self.batch, self.patch = sizes, batch, patch
        self.corners: list[np.ndarray | None] = []
        for i, r in enumerate(regions or [None] * len(sizes)):
            if r is None:
                self.corners.append(None)
                continue
            found = valid_corners(r, patch)
            if not len(found):
                raise InputError("TRAIN-REGION", f"pair {i + 1}'s region holds no {patch}x{patch} patch",
                                 hint="give a smaller --patch, or a larger region")
            self.corners.append(found)

    def _int(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator).item())

    def draw(self) -> list[tuple[int, int, int]]:
        out = []
        for _ in range(self.batch):
            i = self._int(len(self.sizes))
            corners = self.corners[i] if self.corners else None
            if corners is not None:
                y, x = corners[self._int(len(corners))]
                out.append((i, int(y), int(x)))
                continue
            h, w = self.sizes[i]
            out.append((i, self._int(h - self.patch + 1), self._int(w - self.patch + 1)))
        return out

    def batch_of(self, data: TrainingData, fmt: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor, list | None]:
        """Inputs, targets and each patch's frame window (None when the data has no frame)."""
        p = self.patch
        picks = self.draw()
        xb = torch.stack([data.inputs[i][:, y:y + p, x:x + p] for i, y, x in picks])
        yb = torch.stack([data.targets[i][:, y:y + p, x:x + p] for i, y, x in picks])
        windows = [data.window(y, x) for _, y, x in picks] if data.frame is not None else None
        return xb.contiguous(memory_format=fmt), yb.contiguous(memory_format=fmt), windows


def fit_views(data: TrainingData) -> tuple[list[torch.Tensor], list[torch.Tensor], list | None]:
    """What the model's starting lattice is fitted on: each pair whole, or the bounding box of its region;
    with each view's frame window (None when the data has no frame)."""
    xs, ys, corners = [], [], []
    for x, t, r in zip(data.inputs, data.targets, data.regions or [None] * len(data.inputs)):
        if r is None:
            xs.append(x)
            ys.append(t)
            corners.append((0, 0))
            continue
        rows, cols = np.flatnonzero(r.any(axis=1)), np.flatnonzero(r.any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        xs.append(x[:, y0:y1, x0:x1])
        ys.append(t[:, y0:y1, x0:x1])
        corners.append((y0, x0))
    windows = [data.window(y, x) for y, x in corners] if data.frame is not None else None
    return xs, ys, windows
