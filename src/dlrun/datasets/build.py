"""From `cfg.dataset` to a DataBundle: factory, split, preprocessing fitted on the training split."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from sklearn.preprocessing import StandardScaler

from dlrun.datasets.base import DATASETS, DataBundle, DataInfo, RawData, Split
from dlrun.datasets.splits import check_split, split_indices
from dlrun.errors import ConfigError

GENERIC_KEYS = ("name", "split", "standardize")


def _factory_kwargs(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in GENERIC_KEYS}


def check_data_config(cfg: DictConfig) -> None:
    data = OmegaConf.to_container(cfg.dataset, resolve=True)
    DATASETS.check(data["name"], _factory_kwargs(data), "dataset")
    if not isinstance(data.get("standardize", False), bool):
        raise ConfigError(f"dataset.standardize must be true or false, got {data['standardize']!r}")
    check_split(data["split"])


def build_data(cfg: DictConfig, preprocessing: dict | None = None) -> DataBundle:
    """Build the data set. `preprocessing` (from a checkpoint) replaces the fitted statistics."""
    data = OmegaConf.to_container(cfg.dataset, resolve=True)
    raw: RawData = DATASETS.build(data["name"], where="dataset", **_factory_kwargs(data))
    classification = raw.kind == "classification"
    has_test = raw.x_test is not None
    tr, va, te = split_indices(len(raw.x), raw.y, data["split"], classification, has_test)
    x_test, y_test = (raw.x_test, raw.y_test) if has_test else (raw.x[te], raw.y[te])

    prep = dict(preprocessing or {})
    x_train = raw.x[tr].astype(np.float32)
    if data.get("standardize") and "mean" not in prep:
        scaler = StandardScaler().fit(x_train.reshape(len(x_train), -1))
        prep.update(mean=scaler.mean_.tolist(), scale=scaler.scale_.tolist())

    def features(x: np.ndarray) -> torch.Tensor:
        x = x.astype(np.float32)
        if "mean" in prep:
            shape = x.shape
            x = ((x.reshape(len(x), -1) - np.asarray(prep["mean"], np.float32)) / np.asarray(prep["scale"], np.float32))
            x = x.reshape(shape).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x))

    if classification:
        classes = raw.class_names or [str(c) for c in range(int(raw.y.max()) + 1)]
        num_classes = len(classes)
        binary = num_classes == 2
        targets = lambda y: torch.as_tensor(y, dtype=torch.float32 if binary else torch.long)  # noqa: E731
        output_size = 1 if binary else num_classes
    else:
        classes, num_classes = [], 0
        targets = lambda y: torch.as_tensor(np.asarray(y, np.float32).reshape(len(y), -1))  # noqa: E731
        output_size = int(np.prod(raw.y.shape[1:])) if raw.y.ndim > 1 else 1

    def split(x, y) -> Split | None:
        return Split(features(x), targets(y)) if len(x) else None

    info = DataInfo(raw.kind, tuple(raw.x.shape[1:]), output_size, num_classes, list(classes))
    return DataBundle(
        info=info,
        train=split(raw.x[tr], raw.y[tr]),
        val=split(raw.x[va], raw.y[va]),
        test=split(x_test, y_test) if x_test is not None and len(x_test) else None,
        preprocessing=prep,
    )
