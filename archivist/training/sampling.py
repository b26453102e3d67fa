"""Random training patches drawn from one seeded generator."""

from __future__ import annotations

import torch

from archivist.training.data import TrainingData


class PatchSampler:
    """Random patches of the pre-loaded pairs, from one seeded CPU generator.

    All randomness of the loop comes from here, so its state in a checkpoint
    is enough to continue the same sequence of patches after a resume.
    """

    def __init__(self, seed: int, sizes: list[tuple[int, int]], batch: int, patch: int):
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.sizes, self.batch, self.patch = sizes, batch, patch

    def _int(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator).item())

    def draw(self) -> list[tuple[int, int, int]]:
        out = []
        for _ in range(self.batch):
            i = self._int(len(self.sizes))
            h, w = self.sizes[i]
            out.append((i, self._int(h - self.patch + 1), self._int(w - self.patch + 1)))
        return out

    def batch_of(self, data: TrainingData, fmt) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.patch
        picks = self.draw()
        xb = torch.stack([data.inputs[i][:, y:y + p, x:x + p] for i, y, x in picks])
        yb = torch.stack([data.targets[i][:, y:y + p, x:x + p] for i, y, x in picks])
        return xb.contiguous(memory_format=fmt), yb.contiguous(memory_format=fmt)
