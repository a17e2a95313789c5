"""From `cfg.dataset` to a DataBundle: factory, split, preprocessing fitted on the training split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.datasets.base import DATASETS, DataBundle, DataInfo, Preprocessor, RawData, Split
from dlrun.datasets.splits import check_split, split_indices, split_off_test
from dlrun.errors import ConfigError

GENERIC_KEYS = ("name", "split", "standardize")

# (non-test rows, all targets, classification?) -> (train rows, val rows); K-fold passes each fold's
RowSelector = Callable[[np.ndarray, np.ndarray, bool], "tuple[np.ndarray, np.ndarray]"]


def _factory_kwargs(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in GENERIC_KEYS}


def check_data_config(cfg: DictConfig) -> None:
    data = OmegaConf.to_container(cfg.dataset, resolve=True)
    DATASETS.check(data["name"], _factory_kwargs(data), "dataset")
    if not isinstance(data.get("standardize", False), bool):
        raise ConfigError(f"dataset.standardize must be true or false, got {data['standardize']!r}")
    check_split(data["split"])


def take(rows, idx: np.ndarray):
    """Rows `idx` of a NumPy array or of a pandas DataFrame."""
    return rows.iloc[idx] if hasattr(rows, "iloc") else rows[idx]


def build_data(cfg: DictConfig, preprocessing: dict | None = None, rows: RowSelector | None = None) -> DataBundle:
    """Build the data set. `preprocessing` (from a checkpoint) replaces fitting on the training split.

    `rows` picks the training and validation rows among the non-test rows instead of `dataset.split`
    (a K-fold fold); the test split then stays out of the bundle, and the preprocessing is fitted on the
    rows picked for training.
    """
    data = OmegaConf.to_container(cfg.dataset, resolve=True)
    raw: RawData = DATASETS.build(data["name"], where="dataset", **_factory_kwargs(data))
    prep = raw.preprocessor or Preprocessor(standardize=bool(data.get("standardize")))
    classification = raw.kind == "classification"
    has_test = raw.x_test is not None
    if rows is None:
        tr, va, te = split_indices(len(raw.x), raw.y, data["split"], classification, has_test)
        x_test, y_test = (raw.x_test, raw.y_test) if has_test else (take(raw.x, te), raw.y[te])
    else:
        tr, va = rows(split_off_test(len(raw.x), raw.y, data["split"], classification, has_test)[0], raw.y,
                      classification)
        x_test, y_test = None, None
    state = dict(preprocessing) if preprocessing is not None else prep.fit(take(raw.x, tr), raw.y[tr])

    if classification:
        classes = raw.class_names or [str(c) for c in range(int(raw.y.max()) + 1)]
        binary = len(classes) == 2
        targets = lambda y: torch.as_tensor(np.asarray(y), dtype=torch.float32 if binary else torch.long)  # noqa: E731
        info = DataInfo(raw.kind, (), 1 if binary else len(classes), len(classes), list(classes))
    else:
        targets = lambda y: torch.as_tensor(  # noqa: E731
            np.asarray(prep.transform_target(np.asarray(y, np.float32), state), np.float32).reshape(len(y), -1))
        width = int(np.prod(raw.y.shape[1:])) if raw.y.ndim > 1 else 1
        info = DataInfo(raw.kind, (), width, target_shift=float(state.get("target_shift", 0.0)),
                        target_scale=float(state.get("target_scale", 1.0)))

    def split(x, y) -> Split | None:
        if x is None or len(x) == 0:
            return None
        return Split(torch.from_numpy(np.ascontiguousarray(prep.transform(x, state))), targets(y))

    bundle = DataBundle(info, split(take(raw.x, tr), raw.y[tr]), split(take(raw.x, va), raw.y[va]),
                        split(x_test, y_test), preprocessing=state)
    info.input_shape = tuple(bundle.train.x.shape[1:])
    return bundle
