"""Helpers for dataset and alignment tests: references made with a known transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archivist.dataset.align import Transform, stretch
from archivist.imaging import oiio
from support.common import photo

ORIGIN = (150, 100)  # where the pan starts in the photograph, as in conftest.write_shot


def source_window(image: str, size, index: int, step: int = 3) -> tuple[np.ndarray, tuple[int, int]]:
    """Frame ``index`` of a pan over a photograph, and its top-left corner in the photograph."""
    img = photo(image)
    h, w = size
    x, y = ORIGIN[0] + index * step, ORIGIN[1] + index * step // 2
    if y + h > img.shape[0] or x + w > img.shape[1]:
        raise ValueError(f"a {w}x{h} window at ({x}, {y}) does not fit the {image} photograph")
    return img[y:y + h, x:x + w], (x, y)


def faded(rgb: np.ndarray, seed: int) -> np.ndarray:
    """A faded, grainy scan of ``rgb``: weaker colour, a magenta cast, a 2.2 power, noise."""
    grey = rgb.mean(axis=2, keepdims=True)
    out = np.clip(grey + 0.4 * (rgb - grey) + np.array([0.03, -0.02, 0.03], np.float32), 0.0, 1.0) ** 2.2
    noise = np.random.default_rng(seed).standard_normal(rgb.shape).astype(np.float32) * 0.01
    return np.clip(out + noise, 0.0, None).astype(np.float32)


def reference_frame(image: str, origin, transform: Transform, source_size, reference_size) -> np.ndarray:
    """The reference whose content, stretched to the source grid and moved by ``transform``, is the source window.

    Source pixel x shows photograph point x + origin; reference point z (after
    stretching, D z) lands on source point T(D z), so it shows T(D z) + origin.
    """
    (hs, ws), (hr, wr) = source_size, reference_size
    to_photo = Transform.from_array([[1, 0, origin[0]], [0, 1, origin[1]]]).compose(transform).compose(
        stretch((wr, hr), (ws, hs)))
    return oiio.warp(photo(image), to_photo.inverse().array, window=(0, 0, wr, hr), filter="lanczos3")


def write_pair_elements(folder: Path, *, n: int = 4, size=(96, 128), reference_size=(48, 64),
                        transform: Transform | None = None, image: str = "astronaut",
                        reference_image: str | None = None, reference_channels: int = 3) -> tuple[Path, Path]:
    """A faded source pan (EXR, 1001...) and a clean reference (PNG, 1...) related by ``transform``."""
    transform = transform or Transform.identity()
    src_dir, ref_dir = folder / "scan", folder / "ref"
    src_dir.mkdir(parents=True, exist_ok=True)
    ref_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        window, origin = source_window(image, size, i)
        oiio.write(src_dir / f"scan.{1001 + i}.exr", faded(window, i), pixel_type="half", compression="piz")
        ref = reference_frame(reference_image or image, origin, transform, size, reference_size)
        ref = np.clip(ref, 0.0, 1.0)
        if reference_channels == 4:
            ref = np.concatenate([ref, np.ones(ref.shape[:2] + (1,), np.float32)], axis=2)
        oiio.write(ref_dir / f"ref.{1 + i:04d}.png", ref, pixel_type="uint8")
    return src_dir, ref_dir


def add_pair_elements(pkg, src_dir: Path, ref_dir: Path, *, training_use: str = "authorised") -> None:
    pkg.add_element(role="source", element="print16", paths=[src_dir], description="16mm positive print",
                    training_use="authorised", colour_space="scene-linear Rec.709")
    pkg.add_element(role="reference", element="dvd", paths=[ref_dir], description="PAL DVD 2003",
                    training_use=training_use, colour_space="Rec.709")
