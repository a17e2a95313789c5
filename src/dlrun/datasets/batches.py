"""Batches for the loop, from memory (the fast path) or from a DataLoader (file-based data).

Both shuffle by the same seeded per-epoch permutation, so a resumed run sees the same batches as an
uninterrupted one without saving sampler state, and both paths give identical batches for one seed.
`skip(n)` starts the next pass after its first n batches (a run resumed inside an epoch), which are not loaded.
A `BatchTransform` (normalization, augmentation in training only) runs on whole batches on the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from dlrun.datasets.balance import balanced_order

if TYPE_CHECKING:  # base.DataBundle.batches builds these batches: a run-time import back would be a cycle
    from dlrun.datasets.base import Split


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def shard(n: int, seed: int, epoch: int, train: bool, rank: int = 0, world: int = 1) -> torch.Tensor:
    """The row indices this process sees in one epoch.

    Training: the epoch's permutation, padded by wrapping to a multiple of `world` and dealt out
    round-robin (as DistributedSampler does), so every rank takes the same number of steps.
    Evaluation: a contiguous chunk per rank, no padding, so gathering in rank order gives the split.
    """
    if train:
        order = epoch_permutation(n, seed, epoch)
        if world > 1:
            order = torch.cat([order, order[: (-n) % world]])[rank::world]
        return order
    lo, hi = n * rank // world, n * (rank + 1) // world
    return torch.arange(lo, hi)


class _Batches:
    def __init__(self, split: Split, batch_size: int, train: bool, seed: int, transform, rank: int = 0, world: int = 1):
        self.split, self.batch_size, self.train, self.seed, self.transform = split, batch_size, train, seed, transform
        self.rank, self.world = rank, world
        self.epoch = 0
        self.skipped = 0  # batches the next pass leaves out at its start (skip)
        self.row_weights: torch.Tensor | None = None  # set: class-balanced draws (dataset.sampler=balanced)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, batches: int) -> None:
        """The next pass starts after its first `batches` batches (the pass after it is whole again)."""
        self.skipped = batches

    def _start(self) -> int:
        """The first row of this pass (and forget the skip)."""
        first, self.skipped = self.skipped * self.batch_size, 0
        return first

    def indices(self) -> torch.Tensor:
        if self.train and self.row_weights is not None:
            return balanced_order(self.row_weights, self.seed, self.epoch, self.rank, self.world)
        return shard(len(self.split), self.seed, self.epoch, self.train, self.rank, self.world)

    def __len__(self) -> int:
        n = len(self.split)
        rows = (
            math.ceil(n / self.world) if self.train else n * (self.rank + 1) // self.world - n * self.rank // self.world
        )
        return math.ceil(rows / self.batch_size)

    def _finish(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.transform(x, self.train) if self.transform is not None else x), y


class TensorBatches(_Batches):
    """Index tensors that already live on the training device."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.split.x, self.split.y
        first = self._start()
        if not self.train and self.world == 1:  # plain slices: no copy
            for lo in range(first, len(x), self.batch_size):
                yield self._finish(x[lo : lo + self.batch_size], y[lo : lo + self.batch_size])
            return
        order = self.indices().to(x.device)
        for lo in range(first, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            yield self._finish(x[idx], y[idx])


class _PermutationSampler(Sampler):
    def __init__(self, owner: LoaderBatches):
        self.owner = owner

    def __len__(self) -> int:
        return len(self.owner.indices())

    def __iter__(self):
        return iter(self.owner.indices()[self.owner._start() :].tolist())


class LoaderBatches(_Batches):
    """A torch DataLoader (workers, pinned memory, persistent workers) that decodes samples on the CPU."""

    def __init__(
        self,
        split,
        batch_size,
        train,
        seed,
        transform,
        device: torch.device,
        num_workers: int,
        rank: int = 0,
        world: int = 1,
    ):
        super().__init__(split, batch_size, train, seed, transform, rank, world)
        dataset = split.dataset if split.dataset is not None else TensorDataset(split.x, split.y)
        self.device = device
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=_PermutationSampler(self),
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            y = y.to(self.device, dtype=self.split.y.dtype, non_blocking=True)  # float labels for a binary task
            yield self._finish(x.to(self.device, non_blocking=True), y)
