"""Training data: every pair of a dataset read and hash-checked once, as tensors.

Inputs are Y'CbCr (what the model sees), ground truth R'G'B' (what the loss
compares), both (3, H, W); one centred window of a held-out frame is kept
for the contact sheets and the held-out loss, and up to ``GUARD_FRAMES``
whole held-out frames, spread over the dataset's held-out list, for the
held-out loss that chooses the checkpoint a run exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from archivist.errors import InputError
from archivist.imaging import contact
from archivist.package import Package
from archivist.training import targets

PREVIEW_MAX = 512  # contact sheets show a centred window of the preview frame at 1:1
# Held-out frames that judge each checkpoint. Few, so that a benchmark or QC can keep the
# other held-out frames unseen by the choice.
GUARD_FRAMES = 3


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


@dataclass
class TrainingData:
    """Pairs pre-loaded once: model inputs (Y'CbCr) and targets (R'G'B'), (3, H, W) each."""

    inputs: list[torch.Tensor]
    targets: list[torch.Tensor]
    preview_input: torch.Tensor  # (1, 3, h, w) Y'CbCr, a centred window of the preview frame
    preview_source: np.ndarray  # (h, w, 3) R'G'B'
    preview_target: np.ndarray  # (h, w, 3) R'G'B'
    preview: dict  # what the preview is, for the record
    kr: float
    kb: float
    # Per pair: (H, W) bool of the pixels a patch may cover (the pair's recorded region), or None for all.
    regions: list[np.ndarray | None] = field(default_factory=list)
    # Where the crop lies in the source frame: (top, left, frame height, frame width); the frame field
    # needs each patch's place in the whole frame, not in the crop.
    frame: tuple[int, int, int, int] | None = None
    # Whole held-out frames that judge each checkpoint (``guard_indices``): inputs and targets as above.
    guard_inputs: list[torch.Tensor] = field(default_factory=list)
    guard_targets: list[torch.Tensor] = field(default_factory=list)
    guard_frames: list[int] = field(default_factory=list)

    def window(self, top: int, left: int) -> tuple[int, int, int, int]:
        """The frame window of a patch whose corner is at (top, left) in the crop."""
        if self.frame is None:
            raise ValueError("training data without a frame")
        y0, x0, fh, fw = self.frame
        return (y0 + top, x0 + left, fh, fw)

    @property
    def preview_window(self) -> tuple[int, int, int, int]:
        return self.window(self.preview["window"]["y"], self.preview["window"]["x"])

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [tuple(t.shape[-2:]) for t in self.inputs]


def _dataset_api():
    from archivist import dataset

    return dataset


def _frame_number(entry: dict) -> int:
    return entry["source"]["number"]


def load_data(pkg: Package, record: dict, mode: str, tone: bool, device: str, channels_last: bool) -> TrainingData:
    """Read and hash-check every pair once, and build inputs and ground truth."""
    ds = _dataset_api()
    kr, kb = float(record["colour"]["kr"]), float(record["colour"]["kb"])
    if not record.get("pairs"):
        raise InputError("TRAIN-DATASET", f"dataset {record.get('id')!r} has no training pairs")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    inputs, gts, regions = [], [], []
    for entry in record["pairs"]:
        src, ref = ds.pair_arrays(pkg, record, entry)
        if src.shape != ref.shape or src.ndim != 3 or src.shape[2] != 3:
            raise InputError("TRAIN-DATASET", f"pair {_frame_number(entry)}: source {src.shape} and reference "
                             f"{ref.shape} must be the same (H, W, 3)")
        inputs.append(_chw(targets.to_ycbcr(src, kr, kb)).to(device))
        gts.append(_chw(targets.target(mode, tone, src, ref, kr, kb)).to(device))
        regions.append(_region(pkg, record, entry, src.shape[:2]))
    holdout = record.get("holdout") or []
    entry = holdout[0] if holdout else record["pairs"][0]
    first = ds.pair_arrays(pkg, record, entry)  # held-out frame 0 is also the first that judges checkpoints
    y, x, h, w = contact.centre_window(first[0].shape[0], first[0].shape[1], PREVIEW_MAX)
    src, ref = first[0][y:y + h, x:x + w], first[1][y:y + h, x:x + w]
    preview = {"held_out": bool(holdout), "frame": _frame_number(entry),
               "window": {"x": x, "y": y, "width": w, "height": h}}
    pin = _chw(targets.to_ycbcr(src, kr, kb))[None].to(device).contiguous(memory_format=fmt)
    scan = pkg.element(record["source_element"])["scan"]
    crop = record["crop"]
    frame = (int(crop["y"]), int(crop["x"]), int(scan["height"]), int(scan["width"]))
    data = TrainingData(inputs, gts, pin, src, targets.target(mode, tone, src, ref, kr, kb), preview, kr, kb,
                        regions, frame)
    for i in guard_indices(len(holdout)):
        src, ref = first if i == 0 else ds.pair_arrays(pkg, record, holdout[i])
        data.guard_inputs.append(_chw(targets.to_ycbcr(src, kr, kb))[None].to(device).contiguous(memory_format=fmt))
        data.guard_targets.append(_chw(targets.target(mode, tone, src, ref, kr, kb))[None].to(device))
        data.guard_frames.append(_frame_number(holdout[i]))
    return data


def guard_indices(n: int, most: int = GUARD_FRAMES) -> list[int]:
    """Which of ``n`` held-out frames judge the checkpoints: all of them, or ``most`` spread from first to last.

    A fade that drifts along the shot is judged at its start, middle and end.

    >>> guard_indices(2), guard_indices(8), guard_indices(0)
    ([0, 1], [0, 4, 7], [])
    """
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def _region(pkg: Package, record: dict, entry: dict, shape: tuple[int, int]) -> np.ndarray | None:
    """The pair's usable pixels in crop coordinates, its mask read and hash-checked, or None (no region)."""
    region = entry.get("region")
    if not region:
        return None
    from archivist.dataset.preprocess import Crop
    from archivist.dataset.regions import allowed
    from archivist.imaging import oiio

    mask = None
    if region.get("mask"):
        path = pkg.verified_path(region["mask"], "DATASET-HASH", "region mask")
        pixels = oiio.read(path)
        mask = np.asarray(pixels if pixels.ndim == 2 else pixels[..., 0]) * 255.0
    out = allowed(region, mask, Crop(**record["crop"]))
    if out is None or out.shape != tuple(shape) or not out.any():
        raise InputError("TRAIN-REGION", f"pair {_frame_number(entry)}: its region marks no pixel of the "
                         f"{shape[1]}x{shape[0]} crop, or does not match it")
    return out
