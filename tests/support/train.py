"""Packages with a real, learnable restoration task, built through the real dataset library.

The reference is a short pan over a photograph (PNG, like a video
transfer); the source is the same pan "faded" the way chromogenic prints
fade (desaturated, a magenta cast, lifted blacks), written as half-float
EXR like a film scan. Chroma training must learn to undo the fade.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archivist import dataset
from archivist.imaging import oiio
from archivist.package import Package
from support.common import write_shot

SIZE = (64, 96)  # height, width
FRAMES = 5


def fade(rgb: np.ndarray, index: int = 0) -> np.ndarray:
    """A magenta-shifted, desaturated, lifted version of ``rgb``."""
    grey = rgb.mean(axis=-1, keepdims=True)
    out = 0.35 * rgb + 0.65 * grey
    out = out * np.array([1.05, 0.85, 1.0]) + np.array([0.03, 0.0, 0.04])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def soften(rgb: np.ndarray) -> np.ndarray:
    """A 3x3 box blur per channel (a softer, lower-generation element)."""
    from scipy import ndimage

    return ndimage.uniform_filter(rgb, size=(3, 3, 1), mode="reflect").astype(np.float32)


def grainy(rgb: np.ndarray, seed: int, amount: float = 0.03) -> np.ndarray:
    """Fine, pixel-scale luminance grain."""
    noise = np.random.default_rng(seed).normal(0.0, amount, rgb.shape[:2])[..., None]
    return np.clip(rgb + noise, 0.0, 1.0).astype(np.float32)


def make_package(tmp_path: Path, *, degrade=fade, median: int = 2, n: int = FRAMES, size=SIZE,
                 training_use: str = "authorised", name: str = "pkg") -> Package:
    """A package with source ``print16``, reference ``dvd`` and dataset ``ds-001``.

    ``degrade(rgb, index)`` turns reference frame ``index`` into the source frame.

    Frames 1001..1000+n pair with reference frames 1..n; the last is held out.
    """
    ref_dir = tmp_path / f"{name}-dvd"
    refs = write_shot(ref_dir, ext="png", stem="dvd", start=1, size=size, n=n)
    src_dir = tmp_path / f"{name}-scan"
    src_dir.mkdir()
    for i, path in enumerate(refs):
        pixels = degrade(oiio.read(path), i)
        oiio.write(src_dir / f"scan.{1001 + i}.exr", pixels, pixel_type="half", compression="piz")
    pkg = Package.create(tmp_path / name, title="Test film", organization="Test Archive")
    pkg.add_element(role="source", element="print16", paths=[src_dir], description="16mm positive print",
                    training_use="authorised", rights="Archive-owned")
    pkg.add_element(role="reference", element="dvd", paths=[ref_dir], description="PAL DVD 2003",
                    training_use=training_use, rights="Licensed for restoration", rights_holder="Distributor")
    dataset.build(pkg, source="print16", reference="dvd", pairs=[(1001 + i, 1 + i) for i in range(n - 1)],
                  preview_frames=[(1000 + n, n)], align_mode="none", median_size=median)
    return pkg


def soften_and_grain(rgb: np.ndarray, index: int) -> np.ndarray:
    """The spatial task: the source is softer than the reference and carries its own grain."""
    return grainy(soften(rgb), seed=100 + index)
