"""Class balance of a training split: class counts, and class-balanced sampling (`dataset.sampler=balanced`).

The balanced draw is torch's WeightedRandomSampler (each row weighted by 1 / its class count, drawn with
replacement) with a generator seeded from the run seed and the epoch, so a run is reproducible and both
batch paths (in-memory and DataLoader) see the same rows for one seed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

IGNORE = -100  # padded steps of per-step targets (datasets.base.IGNORE_LABEL) do not count


def class_counts(y, num_classes: int) -> list[int]:
    """Rows of each class among the labels `y` (any shape; padded steps left out)."""
    labels = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).reshape(-1)
    labels = labels[labels != IGNORE].astype(np.int64)
    return np.bincount(labels, minlength=num_classes)[:num_classes].tolist()


def row_weights(y: torch.Tensor) -> torch.Tensor:
    """Each row's sampling weight: 1 / the number of training rows of its class (every class equally likely)."""
    labels = y.detach().cpu().reshape(len(y), -1)[:, 0].long()
    counts = torch.bincount(labels).double()
    return (1.0 / counts.clamp(min=1))[labels]


def balanced_order(weights: torch.Tensor, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """One epoch's row indices drawn class-balanced (as many rows as the split has), dealt out round-robin
    to `world` processes as the permutation is."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.as_tensor(list(WeightedRandomSampler(weights, len(weights), replacement=True, generator=gen)))
    if world > 1:
        order = torch.cat([order, order[: (-len(order)) % world]])[rank::world]
    return order
