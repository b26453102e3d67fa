"""Example material for the demo: a faded film scan and a DVD reference.

The frames are made from a real photograph shipped with scikit-image, so
the demo needs no download and no licensed footage:

* ``print16/shot.1001.exr`` ...: the "scan" of a faded 16mm positive print.
  A slow pan over the photograph, with the chroma faded towards magenta
  (as chromogenic dyes fade) and fresh grain on every frame, written as
  RGB half-float OpenEXR (PIZ, lossless).
* ``dvd/dvd.1001.png`` ...: the "PAL DVD" reference of the same frames, at
  a lower resolution with the original colour, as 8-bit RGB PNG.

The pair is what a chroma recovery starts from: a scan with the better
picture and the wrong colour, and a reference with the right colour.

Run ``python examples/make_example_frames.py OUT`` or import ``make_example``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skimage import data as skdata
from skimage.transform import resize

from archivist.imaging import colour, oiio

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket")
FIRST_FRAME = 1001


def photograph(name: str) -> np.ndarray:
    """A scikit-image photograph as float32 R'G'B' in [0, 1], shape (H, W, 3)."""
    if name not in PHOTOGRAPHS:
        raise ValueError(f"unknown photograph {name!r}; one of {', '.join(PHOTOGRAPHS)}")
    img = getattr(skdata, name)()
    return img[..., :3].astype(np.float32) / 255.0


def pan_window(img: np.ndarray, index: int, size: tuple[int, int], count: int) -> np.ndarray:
    """Frame ``index`` of ``count`` of a left-to-right pan of a ``size`` window over ``img``.

    >>> img = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    >>> pan_window(img, 0, (2, 4), 3).shape
    (2, 4, 3)
    >>> float(pan_window(img, 2, (2, 4), 3)[0, 0, 0]) == float(img[1, 2, 0])
    True
    """
    h, w = size
    ih, iw = img.shape[:2]
    if h > ih or w > iw:
        raise ValueError(f"frame size {w}x{h} is larger than the photograph ({iw}x{ih})")
    span = iw - w
    x = round(span * index / max(count - 1, 1))
    y = (ih - h) // 2
    return img[y:y + h, x:x + w]


def fade(rgb: np.ndarray, *, keep: float = 0.35, cast=(0.035, 0.045)) -> np.ndarray:
    """Fade chroma the way old chromogenic prints do: less saturation, a magenta cast.

    Luma is kept; Cb and Cr are scaled by ``keep`` and shifted by ``cast``
    (positive Cb and Cr together read as magenta).

    >>> grey = np.full((1, 1, 3), 0.5, np.float32)
    >>> out = fade(grey)
    >>> bool(out[0, 0, 1] < out[0, 0, 0] and out[0, 0, 1] < out[0, 0, 2])
    True
    """
    ycc = colour.rgb_to_ycbcr(rgb)
    ycc[..., 1] = ycc[..., 1] * keep + cast[0]
    ycc[..., 2] = ycc[..., 2] * keep + cast[1]
    return np.clip(colour.ycbcr_to_rgb(ycc), 0.0, None)


def grain(shape: tuple[int, ...], rng: np.random.Generator, strength: float = 0.02) -> np.ndarray:
    """Film-like grain: noise with a little spatial correlation, different per channel."""
    noise = rng.standard_normal(shape).astype(np.float32)
    # Average with a one-pixel shift: grain clumps are larger than a pixel.
    noise = (noise + np.roll(noise, 1, axis=0) + np.roll(noise, 1, axis=1)) / np.sqrt(3.0)
    return noise * strength


def make_example(out: Path, *, frames: int = 8, size: tuple[int, int] = (288, 384), reference_scale: float = 0.5,
                 image: str = "astronaut", seed: int = 0) -> dict[str, list[Path]]:
    """Write the scan and reference frames under ``out``; return their paths by element."""
    if frames < 1:
        raise ValueError("frames must be at least 1")
    out = Path(out)
    src_dir, ref_dir = out / "print16", out / "dvd"
    for d in (src_dir, ref_dir):
        d.mkdir(parents=True, exist_ok=True)
    img = photograph(image)
    rng = np.random.default_rng(seed)
    ref_size = (max(1, round(size[0] * reference_scale)), max(1, round(size[1] * reference_scale)))
    written: dict[str, list[Path]] = {"print16": [], "dvd": []}
    for i in range(frames):
        number = FIRST_FRAME + i
        window = pan_window(img, i, size, frames)
        # Scan: scene-linear-ish values (display values to the power 2.2), faded, grainy.
        scan = fade(window) ** 2.2
        scan = np.clip(scan + grain(scan.shape, rng) * np.sqrt(scan + 0.01), 0.0, None)
        src = src_dir / f"shot.{number}.exr"
        oiio.write(src, scan, pixel_type="half", compression="piz")
        written["print16"].append(src)
        # Reference: the original colour, downscaled with anti-aliasing, 8-bit display values.
        small = resize(window, ref_size + (3,), order=1, anti_aliasing=True, preserve_range=True)
        ref = ref_dir / f"dvd.{number}.png"
        oiio.write(ref, np.clip(small, 0.0, 1.0).astype(np.float32), pixel_type="uint8")
        written["dvd"].append(ref)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write print16/ and dvd/ into")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--reference-scale", type=float, default=0.5)
    parser.add_argument("--image", choices=PHOTOGRAPHS, default="astronaut")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        written = make_example(args.out, frames=args.frames, size=(args.height, args.width),
                               reference_scale=args.reference_scale, image=args.image, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for element, paths in written.items():
        print(f"{element}: {len(paths)} frames in {paths[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
