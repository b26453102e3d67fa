"""PNG contact sheets a person can look at: labelled panels side by side.

Generic on purpose: the dataset writes (source | aligned reference |
difference) per pair, training writes (input | ground truth | prediction).
Labels use a built-in 5x7 pixel font, so a sheet's bytes depend on nothing
but its pixels (no system fonts), and the same inputs give the same PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from archivist.imaging import oiio

# 5x7 glyphs, one string of 7 rows of 5 bits each ('#' = ink).
_GLYPHS = {
    "A": ".###.#...##...#######...##...##...#", "B": "####.#...#####.#...##...##...#####.",
    "C": ".###.#...##....#....#....#...#.###.", "D": "####.#...##...##...##...##...#####.",
    "E": "######....####.#....#....#....#####", "F": "######....####.#....#....#....#....",
    "G": ".###.#...##....#.####...##...#.####", "H": "#...##...#######...##...##...##...#",
    "I": ".###...#....#....#....#....#...###.", "J": "..###...#....#....#....##..#..##...",
    "K": "#...##..#.#.#..##...#.#..#..#.#...#", "L": "#....#....#....#....#....#....#####",
    "M": "#...###.###.#.##...##...##...##...#", "N": "#...###..##.#.##..###...##...##...#",
    "O": ".###.#...##...##...##...##...#.###.", "P": "####.#...##...#####.#....#....#....",
    "Q": ".###.#...##...##...##.#.##..#..##.#", "R": "####.#...##...#####.#.#..#..#.#...#",
    "S": ".####.....#.....###.....#....#####.", "T": "#####..#....#....#....#....#....#..",
    "U": "#...##...##...##...##...##...#.###.", "V": "#...##...##...##...##...#.#.#...#..",
    "W": "#...##...##...##.#.##.#.##.#..#.#..", "X": "#...##...#.#.#...#...#.#.#...##...#",
    "Y": "#...##...#.#.#...#....#....#....#..", "Z": "#####....#...#...#...#...#....#####",
    "0": ".###.#...##..###.#.###..##...#.###.", "1": "..#...##....#....#....#....#...###.",
    "2": ".###.#...#....#...#...#...#...#####", "3": "#####...#...#.....#.....##...#.###.",
    "4": "...#...##..#.#.#..#.#####...#....#.", "5": "######....####.....#....##...#.###.",
    "6": "..##..#...#....####.#...##...#.###.", "7": "#####....#...#...#...#....#....#...",
    "8": ".###.#...##...#.###.#...##...#.###.", "9": ".###.#...##...#.####....#...#..##..",
    " ": "...................................", ".": "..............................##...",
    ",": ".....................##....#...#...", ":": ".....##...##.........##...##.......",
    "-": "...............###.................", "_": "..............................#####",
    "/": "....#....#...#...#...#...#....#....", "(": "...#...#...#....#....#.....#.....#.",
    ")": ".#.....#.....#....#....#...#...#...", "|": "..#....#....#....#....#....#....#..",
    "+": ".......#....#..#####..#....#.......", "=": "..........#####.....#####..........",
    "%": "##...##..#...#...#...#...#..##...##", "x": ".....#...#.#.#...#...#.#.#...#.....",
    "'": "..#....#...........................", "?": ".###.#...#....#...#...#.........#..",
}
GLYPH_W, GLYPH_H = 5, 7
LABEL_H = GLYPH_H + 4


def text_width(text: str) -> int:
    """Width in pixels of ``text`` in the built-in font (one pixel between glyphs).

    >>> text_width("ab")
    11
    """
    return max(0, len(text) * (GLYPH_W + 1) - 1)


def render_text(text: str, color=(230, 230, 230)) -> np.ndarray:
    """``text`` as an RGBA-free (7, width, 3) uint8 image on black; unknown characters show as '?'.

    >>> render_text("Hi").shape
    (7, 11, 3)
    """
    out = np.zeros((GLYPH_H, max(1, text_width(text)), 3), np.uint8)
    for i, ch in enumerate(text):
        glyph = _GLYPHS.get(ch) or _GLYPHS.get(ch.upper()) or _GLYPHS["?"]
        ink = np.array([c == "#" for c in glyph]).reshape(GLYPH_H, GLYPH_W)
        out[:, i * (GLYPH_W + 1):i * (GLYPH_W + 1) + GLYPH_W][ink] = color
    return out


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Display values: float (H, W[, C]) clipped to [0, 1] and rounded to 8-bit RGB; 1 channel becomes grey.

    No colour transform is applied: values are shown as stored.

    >>> to_uint8(np.array([[[0.5, -1.0, 2.0]]], np.float32)).tolist()
    [[[128, 0, 255]]]
    """
    a = np.asarray(img)
    if a.dtype == np.uint8:
        x = a
    else:
        x = np.round(np.clip(np.nan_to_num(a.astype(np.float32), nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.ascontiguousarray(x[..., :3])


def contact_sheet(items: Sequence[tuple[str, np.ndarray]], *, columns: int | None = None, gap: int = 4,
                  min_width: int = 0, background: int = 24) -> np.ndarray:
    """Lay labelled images out in a grid: one uint8 (H, W, 3) image.

    ``items`` are (label, image) with float images in [0, 1] or uint8.
    ``columns`` defaults to all in one row. Images narrower than
    ``min_width`` are enlarged by a whole factor (pixel replication, so
    nothing is smoothed). Cells are as big as the largest panel.

    >>> sheet = contact_sheet([("a", np.zeros((8, 10))), ("b", np.ones((8, 10, 3)))], gap=2)
    >>> sheet.shape
    (23, 26, 3)
    """
    if not items:
        raise ValueError("a contact sheet needs at least one image")
    panels = []
    for label, img in items:
        x = to_uint8(img)
        if min_width and x.shape[1] < min_width:
            f = -(-min_width // x.shape[1])
            x = np.repeat(np.repeat(x, f, axis=0), f, axis=1)
        panels.append((str(label), x))
    cols = columns or len(panels)
    rows = -(-len(panels) // cols)
    cell_w = max(max(p.shape[1] for _, p in panels), max(text_width(t) for t, _ in panels))
    cell_h = max(p.shape[0] for _, p in panels) + LABEL_H
    sheet = np.full((gap + rows * (cell_h + gap), gap + cols * (cell_w + gap), 3), background, np.uint8)
    for i, (label, img) in enumerate(panels):
        r, c = divmod(i, cols)
        y, x = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        text = render_text(label)
        sheet[y + 1:y + 1 + GLYPH_H, x:x + text.shape[1]] = np.maximum(sheet[y + 1:y + 1 + GLYPH_H, x:x + text.shape[1]], text)
        sheet[y + LABEL_H:y + LABEL_H + img.shape[0], x:x + img.shape[1]] = img
    return sheet


def write_png(path: Path, sheet: np.ndarray) -> None:
    """Write a uint8 (H, W, 3) sheet as an 8-bit PNG."""
    oiio.write(Path(path), to_uint8(sheet), pixel_type="uint8")
