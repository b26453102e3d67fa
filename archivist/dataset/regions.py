"""Region-limited training pairs: where in a pair a model may learn from.

For the two-step approach (train on the less damaged parts of a frame,
then apply the model to the whole frame) a training pair can carry a
region: rectangles, a mask image, or both (their union). Coordinates are
source pixels, origin at the top-left corner of the top-left pixel, like
the crop; a rectangle must lie inside the crop. A mask is an image of the
source frame's size; pixels whose first channel is above one half are
usable. archivist stores the mask in the dataset as an 8-bit grey PNG
(0 or 255), ``data/dataset/<id>/masks/<source>.<number>.png``, named with
its SHA-256 by the pair, so the region a model learnt from is kept and
checked like every other input.

Training (``archivist.training.sampling``) draws patches that lie wholly
inside the region; held-out frames have no region, since QC judges the
whole frame.

``--region`` on the command line: ``FRAME:X,Y,W,H`` (a rectangle for one
training frame), ``all:X,Y,W,H`` (for every training pair), ``FRAME:mask=FILE``
or ``all:mask=FILE``; repeat it for more rectangles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archivist.dataset.preprocess import Crop
from archivist.errors import InputError
from archivist.imaging import oiio

ALL = "all"


@dataclass
class RegionSpec:
    """What was given for one frame (or for every pair): rectangles and at most one mask file."""

    rects: list[Crop] = field(default_factory=list)
    mask: Path | None = None


def parse(items: list[str]) -> dict[int | str, RegionSpec]:
    """``--region`` values -> {source frame number or "all": RegionSpec}.

    >>> r = parse(["1001:0,0,32,16", "1001:0,16,16,16", "all:mask=m.png"])
    >>> [(c.x, c.y, c.width, c.height) for c in r[1001].rects], str(r["all"].mask)
    ([(0, 0, 32, 16), (0, 16, 16, 16)], 'm.png')
    >>> parse(["1001"])
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: DATASET-REGION: --region '1001' must be FRAME:X,Y,W,H, FRAME:mask=FILE, all:X,Y,W,H or all:mask=FILE
    """
    out: dict[int | str, RegionSpec] = {}
    for item in items:
        key, sep, value = item.partition(":")
        key = key.strip()
        try:
            if not sep:
                raise ValueError
            frame: int | str = ALL if key.lower() == ALL else int(key)
        except ValueError:
            raise InputError("DATASET-REGION", f"--region {item!r} must be FRAME:X,Y,W,H, FRAME:mask=FILE, "
                             "all:X,Y,W,H or all:mask=FILE") from None
        spec = out.setdefault(frame, RegionSpec())
        value = value.strip()
        if value.startswith("mask="):
            if spec.mask is not None:
                raise InputError("DATASET-REGION", f"two masks for {key}: give one mask per frame")
            spec.mask = Path(value[len("mask="):])
            continue
        try:
            x, y, w, h = (int(v) for v in value.split(","))
        except ValueError:
            raise InputError("DATASET-REGION", f"--region {item!r}: a rectangle is X,Y,W,H in source pixels") from None
        spec.rects.append(Crop(x, y, w, h))
    return out


@dataclass
class PairRegion:
    """The region of one training pair, checked: rectangles and the mask's pixels (source frame size)."""

    rects: list[Crop]
    mask: np.ndarray | None  # (H, W) uint8, 0 or 255
    mask_from: str | None  # the file the mask was read from, for messages

    def as_record(self, mask_ref: dict | None) -> dict:
        rec: dict = {"coordinates": "source pixels", "combine": "union"}
        if self.rects:
            rec["rectangles"] = [c.as_dict() for c in self.rects]
        if mask_ref is not None:
            rec["mask"] = mask_ref
        return rec


def resolve(specs: dict[int | str, RegionSpec], training: list[int], holdout: list[int], crop: Crop,
            source_size: tuple[int, int]) -> dict[int, PairRegion]:
    """Each training frame's region, checked against the crop and the frame size.

    Args:
        specs: what ``parse`` returned.
        training: the training pairs' source frame numbers.
        holdout: the held-out frames' numbers (they may not have a region).
        crop: the dataset's crop, in source pixels.
        source_size: (width, height) of the source frames.

    Returns:
        {source frame number: PairRegion} for the frames that have one.
    """
    out: dict[int, PairRegion] = {}
    if not specs:
        return out
    for key in specs:
        if key == ALL:
            continue
        if key in holdout:
            raise InputError("DATASET-REGION", f"frame {key} is held out: QC judges held-out frames whole, so "
                             "they take no region")
        if key not in training:
            raise InputError("DATASET-REGION", f"frame {key} is not a training pair of this dataset",
                             hint=f"training frames: {', '.join(map(str, training))}")
    masks: dict[Path, np.ndarray] = {}
    for number in training:
        spec = RegionSpec()
        for key in (ALL, number):
            given = specs.get(key)
            if given is not None:
                spec.rects += given.rects
                spec.mask = given.mask if given.mask is not None else spec.mask
        if not spec.rects and spec.mask is None:
            continue
        for r in spec.rects:
            inside = (r.width >= 1 and r.height >= 1 and r.x >= crop.x and r.y >= crop.y
                      and r.x + r.width <= crop.x + crop.width and r.y + r.height <= crop.y + crop.height)
            if not inside:
                raise InputError("DATASET-REGION", f"frame {number}: rectangle {r.x},{r.y},{r.width},{r.height} "
                                 f"does not lie inside the crop {crop.x},{crop.y},{crop.width},{crop.height}")
        mask = None
        if spec.mask is not None:
            if spec.mask not in masks:
                masks[spec.mask] = _read_mask(spec.mask, source_size)
            mask = masks[spec.mask]
            if not mask[crop.y:crop.y + crop.height, crop.x:crop.x + crop.width].any():
                raise InputError("DATASET-REGION", f"frame {number}: mask {spec.mask.name} marks no pixel inside "
                                 "the crop")
        out[number] = PairRegion(spec.rects, mask, str(spec.mask) if spec.mask else None)
    return out


def _read_mask(path: Path, source_size: tuple[int, int]) -> np.ndarray:
    try:
        pixels = oiio.read(path)
    except InputError as exc:
        raise InputError("DATASET-REGION", f"mask {path}: {exc.message}") from None
    h, w = pixels.shape[:2]
    if (w, h) != tuple(source_size):
        raise InputError("DATASET-REGION", f"mask {path.name} is {w}x{h}; a mask is the source frame's size, "
                         f"{source_size[0]}x{source_size[1]}")
    first = pixels if pixels.ndim == 2 else pixels[..., 0]
    return np.where(first > 0.5, 255, 0).astype(np.uint8)


def allowed(region: dict | None, mask: np.ndarray | None, crop: Crop) -> np.ndarray | None:
    """The usable pixels of a pair in crop coordinates, (height, width) bool, from its recorded region.

    Args:
        region: the pair's ``region`` as recorded (None: the whole crop).
        mask: the stored mask's pixels, (H, W) of the source frame, when the region has one.
        crop: the dataset's crop.

    Returns:
        None when the pair has no region, else the union of its rectangles and mask inside the crop.

    >>> m = allowed({"rectangles": [{"x": 2, "y": 1, "width": 3, "height": 2}]}, None, Crop(1, 0, 6, 4))
    >>> m.astype(int).tolist()
    [[0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]]
    """
    if not region:
        return None
    out = np.zeros((crop.height, crop.width), dtype=bool)
    for r in region.get("rectangles") or []:
        x0, y0 = r["x"] - crop.x, r["y"] - crop.y
        out[max(y0, 0):max(y0 + r["height"], 0), max(x0, 0):max(x0 + r["width"], 0)] = True
    if mask is not None:
        out |= mask[crop.y:crop.y + crop.height, crop.x:crop.x + crop.width] > 127
    return out
