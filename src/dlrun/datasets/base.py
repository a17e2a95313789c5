"""The data types every data set factory produces and every task consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported by what builds tensors, so that the CSV checks of `dlrun train` stay light
    import torch


Kind = Literal["classification", "regression"]
IGNORE_LABEL = -100  # the label of padded steps in per-step targets (torch's cross-entropy ignore_index)


class Preprocessor:
    """Turns a factory's rows into float32 features (and targets), fitted on the training rows only.

    `fit` returns plain data (lists, numbers, strings) that is saved in every checkpoint, so evaluation
    and prediction apply exactly the same transform. The default standardizes numeric features.
    State keys `target_shift` and `target_scale` mean targets were scaled as (y - shift) / scale;
    regression metrics are then reported in the original units.
    """

    def __init__(self, standardize: bool = False):
        self.standardize = standardize

    def fit(self, x: Any, y: np.ndarray) -> dict[str, Any]:
        if not self.standardize:
            return {}
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
        return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}

    def transform(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if "mean" not in state:
            return x
        flat = (x.reshape(len(x), -1) - np.asarray(state["mean"], np.float32)) / np.asarray(state["scale"], np.float32)
        return flat.reshape(x.shape).astype(np.float32)

    def transform_target(self, y: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        return y


@dataclass
class RawData:
    """What a factory returns: all rows in their original order, plus an official test set if any.

    `x` is anything a `Preprocessor` understands and that can be indexed by an integer array (a NumPy
    array by default; a factory that brings its own `preprocessor` may use other row containers).
    """

    x: Any
    y: np.ndarray
    kind: Kind
    x_test: Any | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    preprocessor: Preprocessor | None = None


@dataclass
class DataInfo:
    """What a model factory may know about the data: shapes, kind and classes."""

    kind: Kind
    input_shape: tuple[int, ...]
    output_size: int
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    target_shift: float = 0.0  # regression targets were scaled as (y - shift) / scale
    target_scale: float = 1.0
    # [levels, width] of each embedded table column; their level codes are the last input columns
    embeddings: list[list[int]] = field(default_factory=list)
    vocab_size: int = 0  # > 0: inputs are token ids in [0, vocab_size), 0 = padding (datasets/vocabulary.py)
    per_step: bool = False  # one class label per sequence step (tagging); padded steps hold IGNORE_LABEL
    class_counts: list[int] = field(default_factory=list)  # training rows of each class (datasets/balance.py)
    threshold: float = 0.5  # two classes: probability of class 1 from which rows are predicted 1 (task.threshold)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def binary(self) -> bool:
        return self.kind == "classification" and self.num_classes == 2


def resized_size(height: int, width: int, size: list[int]) -> tuple[int, int]:
    """torchvision's Resize: [h, w] exactly, or [n] for the shorter side (the longer one keeps the aspect ratio)."""
    if len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = int(size[0]), int(int(size[0]) * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def model_input_shape(input_shape: tuple[int, ...], prep: dict) -> tuple[int, ...]:
    """The shape a model takes: the data's (C, H, W) images after what the model asked of them (3 channels,
    resize, centre crop; `model=torchvision`), kept in the fitted preprocessing. Other inputs: unchanged."""
    if len(input_shape) != 3 or not isinstance(prep, dict):
        return tuple(input_shape)
    channels, height, width = input_shape
    if prep.get("resize"):
        height, width = resized_size(height, width, prep["resize"])
    if prep.get("crop"):
        crop = prep["crop"]
        height, width = (crop[0], crop[0]) if len(crop) == 1 else (crop[0], crop[1])
    return (int(prep.get("channels") or channels), int(height), int(width))


@dataclass
class Split:
    """One split: tensors in memory (the fast path) or a torch Dataset read by a DataLoader."""

    x: torch.Tensor | None
    y: torch.Tensor | None
    dataset: Any = None  # a torch.utils.data.Dataset yielding (x, y) when the data is file-based

    def __len__(self) -> int:
        return len(self.x) if self.x is not None else len(self.dataset)

    def to(self, device: torch.device) -> Split:
        if self.x is None:
            return self
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class DataBundle:
    info: DataInfo
    train: Split
    val: Split | None
    test: Split | None
    preprocessing: dict[str, Any] = field(default_factory=dict)  # plain data, saved in checkpoints
    transform: Any = None  # a BatchTransform applied on the device to every batch (see datasets/images.py)
    loader: str = "memory"  # memory: index tensors on the device; dataloader: torch DataLoader with workers
    num_workers: int = 0
    device: torch.device = field(default_factory=lambda: _cpu())
    # split -> naive forecaster -> its predictions of the split's targets, in data units (datasets/timeseries.py)
    naive_forecasts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sampler: str = "shuffle"  # shuffle: a seeded permutation per epoch | balanced: class-balanced draw (balance.py)

    def to(self, device: torch.device) -> DataBundle:
        if self.loader == "dataloader":  # the DataLoader moves each batch; the data stays on the CPU
            return replace(self, device=device)
        move = lambda s: s.to(device) if s is not None else None  # noqa: E731
        return replace(self, train=move(self.train), val=move(self.val), test=move(self.test), device=device)

    def split(self, name: str) -> Split | None:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def batches(self, name: str, batch_size: int, train: bool = False, seed: int = 0):
        """An iterable of (x, y) batches on the device; shuffled by a seeded per-epoch permutation if `train`."""
        from dlrun.datasets.batches import LoaderBatches, TensorBatches
        from dlrun.device import distributed

        split = self.split(name)
        if split is None:
            return None
        shard = (distributed.rank(), distributed.world())  # each process sees its own share of the split
        if self.loader == "dataloader":
            found = LoaderBatches(split, batch_size, train, seed, self.transform, self.device, self.num_workers, *shard)
        else:
            found = TensorBatches(split, batch_size, train, seed, self.transform, *shard)
        if train and self.sampler == "balanced":
            from dlrun.datasets.balance import row_weights

            found.row_weights = row_weights(split.y)
        return found


def _cpu() -> torch.device:
    import torch

    return torch.device("cpu")
