"""The QC's pictures, drawn with numpy: comparison strips, a Delta E heat map, the loss curve.

No plotting library: lines are drawn on a 3x supersampled canvas and
box-filtered down (anti-aliasing), text uses the built-in pixel font of
``archivist.imaging.previews``, so the same data always gives the same PNG bytes.
"""

from __future__ import annotations

import math

import numpy as np

from archivist.imaging import oiio
from archivist.imaging.previews import GLYPH_H, contact_sheet, render_text, text_width, to_uint8

PANEL_MAX_WIDTH = 480  # strip panels of large frames are reduced to this width
HEAT_MAX = 10.0  # Delta E at the top of the heat map's scale
# A perceptually ordered ramp (black, purple, orange, pale yellow), like matplotlib's "inferno".
_RAMP = np.array([[0.0, 0.0, 0.02], [0.34, 0.06, 0.43], [0.73, 0.21, 0.33], [0.98, 0.55, 0.04], [0.99, 1.0, 0.64]])


def heat(values: np.ndarray, top: float = HEAT_MAX) -> np.ndarray:
    """Map values in [0, top] to colours (H, W, 3) float32; larger values saturate.

    >>> [[round(float(c), 2) for c in px] for px in heat(np.array([0.0, 10.0]))]
    [[0.0, 0.0, 0.02], [0.99, 1.0, 0.64]]
    """
    t = np.clip(np.asarray(values, np.float64) / top, 0.0, 1.0) * (len(_RAMP) - 1)
    i = np.minimum(t.astype(np.int64), len(_RAMP) - 2)
    f = (t - i)[..., None]
    return ((1 - f) * _RAMP[i] + f * _RAMP[i + 1]).astype(np.float32)


def shrink(img: np.ndarray, max_width: int = PANEL_MAX_WIDTH) -> np.ndarray:
    """Reduce an image to at most ``max_width`` pixels wide (box filter); smaller ones are kept."""
    h, w = img.shape[:2]
    if w <= max_width:
        return img
    nh = max(1, round(h * max_width / w))
    return oiio.resize(np.ascontiguousarray(img, dtype=np.float32), max_width, nh, filter="box")


def strip(panels: list[tuple[str, np.ndarray]], *, max_width: int = PANEL_MAX_WIDTH) -> np.ndarray:
    """Labelled panels side by side (uint8), each reduced to ``max_width``."""
    return contact_sheet([(label, to_uint8(shrink(img, max_width))) for label, img in panels], min_width=160)


# -- line plots ---------------------------------------------------------------------------------------

SS = 3  # supersampling factor


def _line(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, colour, width: float = 1.0) -> None:
    """Draw a polyline (supersampled pixel coordinates) by stamping discs along each segment."""
    r = width * SS / 2.0
    h, w = canvas.shape[:2]
    col = np.asarray(colour, np.float32)
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:]):
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            continue
        n = max(2, int(math.hypot(x1 - x0, y1 - y0) / max(r, 0.5)) + 1)
        for t in np.linspace(0.0, 1.0, n):
            cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            ya, yb = max(0, int(cy - r)), min(h, int(cy + r) + 1)
            xa, xb = max(0, int(cx - r)), min(w, int(cx + r) + 1)
            if ya >= yb or xa >= xb:
                continue
            yy, xx = np.mgrid[ya:yb, xa:xb]
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            canvas[ya:yb, xa:xb][mask] = col


def _text(img: np.ndarray, text: str, x: int, y: int, colour=(40, 40, 40), anchor: str = "left") -> None:
    glyphs = render_text(text, color=(255, 255, 255))
    if anchor == "right":
        x -= glyphs.shape[1]
    elif anchor == "centre":
        x -= glyphs.shape[1] // 2
    h, w = img.shape[:2]
    ys, xs = slice(max(y, 0), min(y + GLYPH_H, h)), slice(max(x, 0), min(x + glyphs.shape[1], w))
    g = glyphs[ys.start - y:ys.stop - y, xs.start - x:xs.stop - x, 0] > 0
    img[ys, xs][g] = colour


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi].

    >>> nice_ticks(0, 1000)
    [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    """
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.ceil(lo / step - 1e-9) * step
    return [float(round(first + i * step, 10)) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:.3g}"


def loss_plot(series: list[tuple[str, np.ndarray, np.ndarray, tuple]], *, width: int = 720, height: int = 360,
              title: str = "", log_y: bool = True, x_label: str = "step") -> np.ndarray:
    """A line plot (uint8 RGB) of ``series``: (label, x, y, colour 0-255) each, on a shared log-y axis."""
    left, right, top, bottom = 56, 16, 28, 36
    pw, ph = width - left - right, height - top - bottom
    xs_all = np.concatenate([np.asarray(s[1], np.float64) for s in series if len(s[1])]) if series else np.zeros(1)
    ys_all = np.concatenate([np.asarray(s[2], np.float64) for s in series if len(s[2])]) if series else np.ones(1)
    ys_all = ys_all[np.isfinite(ys_all) & ((ys_all > 0) if log_y else True)]
    if ys_all.size == 0:
        ys_all = np.ones(1)
    x0, x1 = float(xs_all.min()), float(max(xs_all.max(), xs_all.min() + 1))
    if log_y:
        e0, e1 = math.floor(math.log10(ys_all.min())), math.ceil(math.log10(ys_all.max()))
        e1 = max(e1, e0 + 1)
        fy = lambda v: (np.log10(np.maximum(v, 1e-30)) - e0) / (e1 - e0)  # noqa: E731
        yticks = [10.0 ** e for e in range(e0, e1 + 1)]
    else:
        lo, hi = float(ys_all.min()), float(ys_all.max())
        yticks = nice_ticks(lo, hi)
        lo, hi = min(lo, yticks[0]), max(hi, yticks[-1], lo + 1e-9)
        fy = lambda v: (np.asarray(v) - lo) / (hi - lo)  # noqa: E731
    fx = lambda v: (np.asarray(v, np.float64) - x0) / (x1 - x0)  # noqa: E731

    canvas = np.full((height * SS, width * SS, 3), 255, np.float32)
    grid = (225, 225, 225)
    for t in yticks:
        py = (top + ph * (1 - float(fy(t)))) * SS
        _line(canvas, np.array([left * SS, (left + pw) * SS]), np.array([py, py]), grid, 1.0)
    xticks = nice_ticks(x0, x1)
    for t in xticks:
        px = (left + pw * float(fx(t))) * SS
        _line(canvas, np.array([px, px]), np.array([top * SS, (top + ph) * SS]), grid, 1.0)
    for _, x, y, col in series:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if len(x) == 0:
            continue
        px = (left + pw * fx(x)) * SS
        py = (top + ph * (1 - fy(y))) * SS
        if len(x) == 1:
            px, py = np.repeat(px, 2), np.repeat(py, 2)
        _line(canvas, px, py, col, 1.6)
    axis = (90, 90, 90)
    _line(canvas, np.array([left, left, left + pw]) * SS, np.array([top, top + ph, top + ph]) * SS, axis, 1.0)
    img = canvas.reshape(height, SS, width, SS, 3).mean(axis=(1, 3)).round().astype(np.uint8)

    for t in yticks:
        py = int(round(top + ph * (1 - float(fy(t)))))
        _text(img, _fmt(t), left - 6, py - GLYPH_H // 2, anchor="right")
    for t in xticks:
        px = int(round(left + pw * float(fx(t))))
        _text(img, _fmt(t), px, top + ph + 6, anchor="centre")
    _text(img, x_label, left + pw // 2, height - GLYPH_H - 4, anchor="centre")
    if title:
        _text(img, title, left, 8)
    lx = left + pw
    for label, _, _, col in reversed(series):
        tw = text_width(label)
        _text(img, label, lx, 8, colour=col, anchor="right")
        lx -= tw + 16
    return img


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values (shorter at the start).

    >>> moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    v = np.asarray(values, np.float64)
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)
