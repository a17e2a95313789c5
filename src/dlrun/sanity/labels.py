"""The random-label experiment: the training split's targets permuted by a seeded permutation of its rows.

Validation and test keep their labels, so the run shows memorization (training accuracy rising) against
chance-level validation. The permutation uses its own NumPy generator: the global random state is untouched and
the same seed gives the same labels (a resumed run, or each fold of a K-fold run, sees the same permutation).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from dlrun.datasets.base import DataBundle, Split
from dlrun.errors import ConfigError
from dlrun.sanity.config import SanityConfig
from dlrun.tasks.base import resolve_task_name

SUPERVISED_TASKS = ("classification", "regression")


class RelabeledDataset(Dataset):
    """A file-based split whose i-th row keeps its input and takes `labels[i]` as its target."""

    def __init__(self, dataset, labels: torch.Tensor):
        self.dataset, self.labels = dataset, labels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i][0], self.labels[i]


def permuted_split(split: Split, seed: int) -> Split:
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(split)))
    labels = split.y[order.to(split.y.device)]
    if split.dataset is not None:
        return Split(split.x, labels, dataset=RelabeledDataset(split.dataset, labels))
    return Split(split.x, labels)


def apply_sanity(root: DictConfig, data: DataBundle) -> DataBundle:
    """The data with the sanity experiments of the run's config (`root.sanity`) applied; the same bundle when
    none is on."""
    cfg = SanityConfig(**OmegaConf.to_container(root.get("sanity") or OmegaConf.create({}), resolve=True))
    if not cfg.shuffle_labels:
        return data
    return shuffle_labels(cfg, data, resolve_task_name(root.task.name, data.info), root.seed)


def shuffle_labels(cfg: SanityConfig, data: DataBundle, task_name: str, seed: int) -> DataBundle:
    """`data` with its training targets permuted (sanity.shuffle_labels)."""
    if not cfg.shuffle_labels:
        return data
    if task_name not in SUPERVISED_TASKS or data.info.per_step:
        raise ConfigError(
            f"sanity.shuffle_labels needs a task with one label per row (classification or regression), "
            f"not task '{task_name}'"
        )
    return replace(data, train=permuted_split(data.train, cfg.seed if cfg.seed is not None else seed))
