"""Batches for the loop, from memory (the fast path) or from a DataLoader (file-based data).

Both shuffle by the same seeded per-epoch permutation, so a resumed run sees the same batches as an
uninterrupted one without saving sampler state, and both paths give identical batches for one seed.
A `BatchTransform` (normalization, augmentation in training only) runs on whole batches on the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from dlrun.datasets.base import Split


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


class _Batches:
    def __init__(self, split: Split, batch_size: int, train: bool, seed: int, transform):
        self.split, self.batch_size, self.train, self.seed, self.transform = split, batch_size, train, seed, transform
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def _finish(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.transform(x, self.train) if self.transform is not None else x), y


class TensorBatches(_Batches):
    """Index tensors that already live on the training device."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.split.x, self.split.y
        n = len(x)
        order = epoch_permutation(n, self.seed, self.epoch).to(x.device) if self.train else None
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if order is None:
                yield self._finish(x[lo:hi], y[lo:hi])
            else:
                idx = order[lo:hi]
                yield self._finish(x[idx], y[idx])


class _PermutationSampler(Sampler):
    def __init__(self, owner: LoaderBatches):
        self.owner = owner

    def __len__(self) -> int:
        return len(self.owner.split)

    def __iter__(self):
        o = self.owner
        n = len(o.split)
        order = epoch_permutation(n, o.seed, o.epoch) if o.train else torch.arange(n)
        return iter(order.tolist())


class LoaderBatches(_Batches):
    """A torch DataLoader (workers, pinned memory, persistent workers) that decodes samples on the CPU."""

    def __init__(self, split, batch_size, train, seed, transform, device: torch.device, num_workers: int):
        super().__init__(split, batch_size, train, seed, transform)
        dataset = split.dataset if split.dataset is not None else TensorDataset(split.x, split.y)
        self.device = device
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=_PermutationSampler(self),
                                 num_workers=num_workers, pin_memory=device.type == "cuda",
                                 persistent_workers=num_workers > 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            y = y.to(self.device, dtype=self.split.y.dtype, non_blocking=True)  # float labels for a binary task
            yield self._finish(x.to(self.device, non_blocking=True), y)
