"""The data types every data set factory produces and every task consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from dlrun.registry import Registry

DATASETS = Registry("dataset")

Kind = Literal["classification", "regression"]


@dataclass
class RawData:
    """What a factory returns: all rows in their original order, plus an official test set if any."""

    x: np.ndarray
    y: np.ndarray
    kind: Kind
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    feature_names: list[str] | None = None


@dataclass
class DataInfo:
    """What a model factory may know about the data: shapes, kind and classes."""

    kind: Kind
    input_shape: tuple[int, ...]
    output_size: int
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def binary(self) -> bool:
        return self.kind == "classification" and self.num_classes == 2


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class DataBundle:
    info: DataInfo
    train: Split
    val: Split | None
    test: Split | None
    preprocessing: dict[str, Any] = field(default_factory=dict)  # plain data, saved in checkpoints

    def to(self, device: torch.device) -> DataBundle:
        move = lambda s: s.to(device) if s is not None else None  # noqa: E731
        return DataBundle(self.info, move(self.train), move(self.val), move(self.test), self.preprocessing)
