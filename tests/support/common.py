"""Plain helpers every test may use: real photographs, short shots written through OpenImageIO, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from skimage import data as skdata

from archivist.imaging import oiio

REPO = Path(__file__).resolve().parents[2]


def photo(name: str = "astronaut") -> np.ndarray:
    """A real photograph from scikit-image as float32 RGB in [0, 1]."""
    img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.float32) / 255.0


def write_shot(folder: Path, *, n: int = 4, size=(48, 64), ext: str = "exr", start: int = 1001,
               image: str = "astronaut", step: int = 3, stem: str = "shot", pixel_type: str | None = None) -> list[Path]:
    """A short pan over a photograph: frame i is a window moved by ``step`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    img = photo(image)
    h, w = size
    out = []
    for i in range(n):
        y, x = 100 + i * step // 2, 150 + i * step
        frame = img[y:y + h, x:x + w]
        path = folder / f"{stem}.{start + i:04d}.{ext}"
        ptype = pixel_type or {"exr": "half", "png": "uint8", "tif": "uint16", "dpx": "uint16"}[ext]
        oiio.write(path, frame, pixel_type=ptype, compression="piz" if ext == "exr" else None)
        out.append(path)
    return out


def run_cli(*args, env=None, check=False, cwd=None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a child process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "archivist", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"archivist {args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc
