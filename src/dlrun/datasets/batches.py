"""Batches of in-memory tensors: index a seeded per-epoch permutation on the data's own device.

The permutation of epoch e depends only on (seed, e), so a resumed run sees the same batches as an
uninterrupted one without saving any sampler state.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from dlrun.datasets.base import Split


class TensorBatches:
    def __init__(self, split: Split, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.split, self.batch_size, self.shuffle, self.seed, self.drop_last = split, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.split.x, self.split.y
        n = len(x)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=gen).to(x.device)
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if self.shuffle:
                idx = order[lo:hi]
                yield x[idx], y[idx]
            else:
                yield x[lo:hi], y[lo:hi]
