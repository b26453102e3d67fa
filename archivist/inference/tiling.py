"""Overlapping tiles with seamless blending, so that a frame of any size runs
through a model whose activations would not fit in memory at once.

Along each axis the frame is cut into spans of about ``tile`` pixels that
overlap their neighbours by ``overlap`` pixels. In every overlap the
``margin`` pixels next to each tile's inner edge get weight 0 (a tile's edge
pixels saw zero padding instead of picture, so they are the ones that
differ from an untiled run); the rest of the overlap is a raised-cosine
cross-fade (sin^2 against cos^2). The weights of a pixel sum to exactly 1,
and a 2-D tile's weight is the product of its row and column weights, so
the weights of all tiles form a partition of unity: no seams, and every
pixel covered by one tile alone is that tile's output bit for bit.

Tile starts and sizes are multiples of ``align``, the model's total
downsampling factor, so each tile sees the same sampling phase as the whole
frame. When the margin is at least the model's receptive radius (and the
overlap more than twice that), tiled output equals untiled output to float
rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    lead: int  # pixels shared with the previous span
    trail: int  # pixels shared with the next span

    @property
    def size(self) -> int:
        return self.end - self.start


def spans(length: int, tile: int, overlap: int, align: int = 1) -> list[Span]:
    """Cut ``length`` pixels into overlapping spans.

    ``tile`` <= 0 or >= ``length`` means one span. Sizes and starts are
    multiples of ``align`` except where a span ends at the frame edge.

    >>> [(s.start, s.end) for s in spans(100, 40, 8)]
    [(0, 40), (32, 72), (60, 100)]
    >>> [(s.start, s.end) for s in spans(100, 0, 8)]
    [(0, 100)]
    >>> [(s.start, s.end, s.lead, s.trail) for s in spans(100, 40, 10, align=4)]
    [(0, 40, 0, 12), (28, 68, 12, 12), (56, 96, 12, 36), (60, 100, 36, 0)]
    """
    if length <= 0:
        raise ValueError("length must be positive")
    if tile <= 0 or tile >= length:
        return [Span(0, length, 0, 0)]
    align = max(1, int(align))
    tile = max(align, tile // align * align)
    overlap = _round_up(max(0, overlap), align)
    if overlap >= tile:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile} (after aligning to {align})")
    stride = tile - overlap
    starts = [0]
    while starts[-1] + tile < length:
        nxt = starts[-1] + stride
        if nxt + tile >= length:
            # The last span ends at the frame edge; its start stays aligned.
            nxt = max(starts[-1] + align, (length - tile) // align * align)
        starts.append(nxt)
    ends = [min(s + tile, length) for s in starts]
    ends[-1] = length
    out = []
    for i, (s, e) in enumerate(zip(starts, ends)):
        lead = ends[i - 1] - s if i > 0 else 0
        trail = e - starts[i + 1] if i + 1 < len(starts) else 0
        out.append(Span(s, e, lead, trail))
    return out


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def ramp(n: int, margin: int) -> np.ndarray:
    """Weights rising from 0 to 1 across an overlap of ``n`` pixels, in float64.

    The first ``margin`` pixels are 0, the last ``margin`` are 1, and the
    middle is sin^2; the mirrored ramp is cos^2 there, so the two tiles of
    an overlap sum to 1.

    >>> ramp(8, 2).round(3).tolist()
    [0.0, 0.0, 0.038, 0.309, 0.691, 0.962, 1.0, 1.0]
    """
    t = np.arange(n, dtype=np.float64) + 0.5
    margin = min(margin, n // 2)
    width = max(n - 2 * margin, 1)
    u = np.clip((t - margin) / width, 0.0, 1.0)
    return np.sin(0.5 * math.pi * u) ** 2


def taper(span: Span, margin: int | None = None) -> np.ndarray:
    """A span's raw window: 0 for ``margin`` pixels at each inner edge (default a quarter of the
    overlap), then sin^2 up to 1 across the rest of the overlap."""
    w = np.ones(span.size, dtype=np.float64)
    if span.lead:
        w[:span.lead] *= ramp(span.lead, span.lead // 4 if margin is None else margin)
    if span.trail:
        w[span.size - span.trail:] *= ramp(span.trail, span.trail // 4 if margin is None else margin)[::-1]
    return w


def axis_weights(axis: list[Span] | tuple[Span, ...], margin: int | None = None) -> list[np.ndarray]:
    """Blending weights of every span of an axis (float64), summing to 1 at every pixel.

    Each span's taper is divided by the sum of the tapers covering a pixel;
    where two spans overlap the tapers already sum to 1 (sin^2 + cos^2), so
    the division changes nothing there, and it keeps the sum exact where a
    short last span overlaps more than one neighbour.

    >>> s = spans(100, 40, 8)
    >>> total = np.zeros(100)
    >>> for x, wx in zip(s, axis_weights(s)):
    ...     total[x.start:x.end] += wx
    >>> bool(np.allclose(total, 1.0, rtol=0, atol=1e-15))
    True
    >>> s = spans(74, 40, 8)  # the last span overlaps both others
    >>> total = np.zeros(74)
    >>> for x, wx in zip(s, axis_weights(s)):
    ...     total[x.start:x.end] += wx
    >>> bool(np.allclose(total, 1.0, rtol=0, atol=1e-15))
    True
    """
    length = axis[-1].end
    raw = [taper(x, margin) for x in axis]
    total = np.zeros(length, dtype=np.float64)
    for x, w in zip(axis, raw):
        total[x.start:x.end] += w
    if (total <= 0).any():
        raise ValueError("tiles leave pixels without weight; use a larger tile or overlap")
    return [w / total[x.start:x.end] for x, w in zip(axis, raw)]


@dataclass(frozen=True)
class TilePlan:
    height: int
    width: int
    tile: int
    overlap: int
    align: int
    rows: tuple[Span, ...]
    cols: tuple[Span, ...]
    margin: int | None = None  # discarded pixels at an inner tile edge (None: a quarter of the overlap)

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    def as_record(self) -> dict:
        return {"tile": self.tile, "overlap": self.overlap, "align": self.align, "margin": self.margin,
                "grid": [len(self.rows), len(self.cols)]}


def plan(height: int, width: int, tile: int, overlap: int, align: int = 1, margin: int | None = None) -> TilePlan:
    """The tile grid for a frame.

    >>> p = plan(48, 64, 32, 8)
    >>> p.count, [(r.start, r.end) for r in p.rows], [(c.start, c.end) for c in p.cols]
    (6, [(0, 32), (16, 48)], [(0, 32), (24, 56), (32, 64)])
    """
    return TilePlan(height, width, tile, overlap, align,
                    tuple(spans(height, tile, overlap, align)), tuple(spans(width, tile, overlap, align)), margin)


Model = Callable[[np.ndarray], np.ndarray]


def run_tiled(image: np.ndarray, model: Model, tile_plan: TilePlan, *, batch: int = 1) -> np.ndarray:
    """Run ``model`` (N, C, h, w) -> (N, C', h, w) over a (C, H, W) image tile by tile and blend.

    Tiles of equal shape are batched ``batch`` at a time. Returns float32 (C', H, W).

    >>> img = np.random.default_rng(0).random((3, 40, 56), dtype=np.float32)
    >>> box = lambda x: (x[..., :-2] + x[..., 1:-1] + x[..., 2:])  # needs context
    >>> def model(x):
    ...     p = np.pad(x, ((0, 0), (0, 0), (0, 0), (1, 1)))
    ...     return box(p) / 3
    >>> full = model(img[None])[0]
    >>> tiled = run_tiled(img, model, plan(40, 56, 24, 8), batch=2)
    >>> float(np.abs(tiled - full).max()) < 1e-6
    True
    """
    c, h, w = image.shape
    if (h, w) != (tile_plan.height, tile_plan.width):
        raise ValueError(f"plan is for {tile_plan.width}x{tile_plan.height}, image is {w}x{h}")
    if tile_plan.count == 1:
        return np.asarray(model(image[None])[0], dtype=np.float32)
    out: np.ndarray | None = None
    row_w = dict(zip(tile_plan.rows, axis_weights(tile_plan.rows, tile_plan.margin)))
    col_w = dict(zip(tile_plan.cols, axis_weights(tile_plan.cols, tile_plan.margin)))
    groups: dict[tuple[int, int], list[tuple[Span, Span]]] = {}
    for r in tile_plan.rows:
        for q in tile_plan.cols:
            groups.setdefault((r.size, q.size), []).append((r, q))
    for tiles in groups.values():
        for i in range(0, len(tiles), max(1, batch)):
            chunk = tiles[i:i + max(1, batch)]
            x = np.stack([image[:, r.start:r.end, q.start:q.end] for r, q in chunk])
            y = np.asarray(model(np.ascontiguousarray(x)), dtype=np.float32)
            if out is None:
                out = np.zeros((y.shape[1], h, w), dtype=np.float32)
            for (r, q), yt in zip(chunk, y):
                if yt.shape[1:] != (r.size, q.size):
                    raise ValueError(f"the model returned {yt.shape[2]}x{yt.shape[1]} for a {q.size}x{r.size} tile")
                wgt = np.outer(row_w[r], col_w[q])
                if wgt.min() == 1.0:
                    out[:, r.start:r.end, q.start:q.end] += yt
                else:
                    out[:, r.start:r.end, q.start:q.end] += (yt * wgt).astype(np.float32)
    return out
