"""From `cfg.dataset` to a DataBundle: factory, split, preprocessing fitted on the training split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Subset

from dlrun.datasets.balance import class_counts
from dlrun.datasets.base import DataBundle, DataInfo, Preprocessor, RawData, Split
from dlrun.datasets.config import DATASETS
from dlrun.datasets.images import BatchTransform, ImageData, channel_stats
from dlrun.datasets.splits import split_indices, split_off_test
from dlrun.datasets.timeseries import SeriesData
from dlrun.errors import ConfigError

MODEL_INPUT_KEYS = ("channels", "resize", "crop", "interpolation")  # what fit_to_model reads

# (non-test rows, all targets, classification?) -> (train rows, val rows); K-fold passes each fold's
RowSelector = Callable[[np.ndarray, np.ndarray, bool], "tuple[np.ndarray, np.ndarray]"]


def take(rows, idx: np.ndarray):
    """Rows `idx` of a NumPy array or of a pandas DataFrame."""
    return rows.iloc[idx] if hasattr(rows, "iloc") else rows[idx]


def build_data(
    cfg: DictConfig,
    preprocessing: dict | None = None,
    rows: RowSelector | None = None,
    model_input: dict | None = None,
) -> DataBundle:
    """Build the data set. `preprocessing` (from a checkpoint) replaces fitting on the training split.

    `rows` picks the training and validation rows among the non-test rows instead of `dataset.split`
    (a K-fold fold); the test split then stays out of the bundle, and the preprocessing is fitted on the
    rows picked for training.

    `model_input` is what the model asks of images (`dlrun.models.build.image_input_of`: channels, resize, crop,
    normalization of pretrained weights); it is kept in the preprocessing, so a checkpoint's brings it back.
    """
    data = OmegaConf.to_container(cfg.dataset, resolve=True)
    bundle = _build(data, preprocessing, rows, model_input)
    return with_balance(bundle, data.get("sampler", "shuffle"), data["name"])


def with_balance(bundle: DataBundle, sampler: str, name: str) -> DataBundle:
    """The training split's class counts in the info, and the sampler of training batches."""
    info = bundle.info
    if info.kind == "classification":
        info.class_counts = class_counts(bundle.train.y, info.num_classes)
    if sampler == "balanced" and (info.kind != "classification" or info.per_step):
        raise ConfigError(
            f"dataset.sampler=balanced draws class labels equally often; data set '{name}' has "
            + ("one label per step" if info.per_step else "no class labels")
        )
    bundle.sampler = sampler
    return bundle


def _build(data: dict, preprocessing: dict | None, rows: RowSelector | None, model_input: dict | None) -> DataBundle:
    raw: RawData = DATASETS.build(data["name"], where="dataset", **{k: v for k, v in data.items() if k != "name"})
    if isinstance(raw, ImageData):
        if rows is not None:
            raise ConfigError(
                f"K-fold (cv.folds > 1) works on table data sets; '{data['name']}' is an image data set: "
                "use dataset.split.val instead"
            )
        return build_image_data(raw, data, preprocessing, model_input)
    if isinstance(raw, SeriesData):
        if rows is not None:
            raise ConfigError(
                f"K-fold (cv.folds > 1) would train on the future of its validation steps; "
                f"'{data['name']}' is a time series: use dataset.split.val instead"
            )
        return raw.bundle(data["split"], preprocessing)
    prep = raw.preprocessor or Preprocessor(standardize=bool(data.get("standardize")))
    classification = raw.kind == "classification"
    has_test = raw.x_test is not None
    if rows is None:
        tr, va, te = split_indices(len(raw.x), raw.y, data["split"], classification, has_test)
        x_test, y_test = (raw.x_test, raw.y_test) if has_test else (take(raw.x, te), raw.y[te])
    else:
        tr, va = rows(
            split_off_test(len(raw.x), raw.y, data["split"], classification, has_test)[0], raw.y, classification
        )
        x_test, y_test = None, None
    state = dict(preprocessing) if preprocessing is not None else prep.fit(take(raw.x, tr), raw.y[tr])

    if classification:
        classes = raw.class_names or [str(c) for c in range(int(raw.y.max()) + 1)]
        binary = len(classes) == 2
        targets = lambda y: torch.as_tensor(np.asarray(y), dtype=torch.float32 if binary else torch.long)  # noqa: E731
        info = DataInfo(
            raw.kind, (), 1 if binary else len(classes), len(classes), list(classes), per_step=raw.y.ndim > 1
        )
    else:
        targets = lambda y: torch.as_tensor(  # noqa: E731
            np.asarray(prep.transform_target(np.asarray(y, np.float32), state), np.float32).reshape(len(y), -1)
        )
        width = int(np.prod(raw.y.shape[1:])) if raw.y.ndim > 1 else 1
        info = DataInfo(
            raw.kind,
            (),
            width,
            target_shift=float(state.get("target_shift", 0.0)),
            target_scale=float(state.get("target_scale", 1.0)),
        )

    def split(x, y) -> Split | None:
        if x is None or len(x) == 0:
            return None
        return Split(torch.from_numpy(np.ascontiguousarray(prep.transform(x, state))), targets(y))

    info.embeddings = [list(e) for e in state.get("embeddings", [])]
    info.vocab_size = int(state.get("vocab_size", 0))
    bundle = DataBundle(
        info,
        split(take(raw.x, tr), raw.y[tr]),
        split(take(raw.x, va), raw.y[va]),
        split(x_test, y_test),
        preprocessing=state,
    )
    info.input_shape = tuple(bundle.train.x.shape[1:])
    return bundle


def build_image_data(
    raw: ImageData, data: dict, preprocessing: dict | None, model_input: dict | None = None
) -> DataBundle:
    """Images: official test set kept apart, validation from the training images, uint8 until the batch."""
    has_test = raw.x_test is not None
    tr, va, te = split_indices(len(raw.y), raw.y.numpy(), data["split"], True, has_test)
    mode = data["loader"]
    if raw.x is None:  # file-based: decode once into memory when it fits, else stream with a DataLoader
        fits = len(raw.y) * int(np.prod(raw.shape)) <= data.get("memory_limit_mb", 1024) * 2**20
        if mode == "memory" or (mode == "auto" and fits):
            raw.x = decode_all(raw.dataset, data.get("num_workers", 0))
    if mode == "auto":
        mode = "memory" if raw.x is not None else "dataloader"

    def split(idx: np.ndarray, x=None, y=None) -> Split | None:
        if x is not None:
            return Split(x, y)
        if len(idx) == 0:
            return None
        idx_t = torch.as_tensor(idx)
        if raw.x is not None:
            return Split(raw.x[idx_t], raw.y[idx_t])
        return Split(None, raw.y[idx_t], dataset=Subset(raw.dataset, idx.tolist()))

    train, val = split(tr), split(va)
    test = split(te, raw.x_test, raw.y_test) if has_test else split(te)
    state = dict(preprocessing) if preprocessing is not None else dict(model_input or {})
    if "mean" not in state:
        mean, std = channel_stats(train.x if train.x is not None else train.dataset, data["normalize"])
        state.update(mean=mean, std=std, normalize=data["normalize"])
    augment = data.get("augment") or {}
    fit = {k: state[k] for k in MODEL_INPUT_KEYS if state.get(k)}
    transform = BatchTransform(
        state["mean"], state["std"], augment.get("crop_padding", 0), augment.get("hflip", False), model_input=fit
    )

    classes = raw.class_names
    if len(classes) == 2:  # one logit: float targets for BCE
        for s in (train, val, test):
            if s is not None:
                s.y = s.y.float()
    shape = tuple(train.x.shape[1:]) if train.x is not None else tuple(raw.shape)
    info = DataInfo("classification", shape, 1 if len(classes) == 2 else len(classes), len(classes), list(classes))
    return DataBundle(
        info,
        train,
        val,
        test,
        preprocessing=state,
        transform=transform,
        loader=mode,
        num_workers=data.get("num_workers", 0),
    )


def decode_all(dataset, num_workers: int) -> torch.Tensor:
    """Decode every image of a Dataset once into one uint8 tensor."""
    loader = DataLoader(dataset, batch_size=256, num_workers=num_workers)
    return torch.cat([x for x, _ in loader]).contiguous()
