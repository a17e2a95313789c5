"""Row indices of the train, validation and test splits (scikit-learn's splitter, seeded)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from dlrun.errors import ConfigError


def _take(idx: np.ndarray, y: np.ndarray | None, fraction: float, shuffle: bool, stratify: bool, seed: int, what: str):
    """Split `idx` into (rest, held_out) with `fraction` of it held out; rest keeps the original order."""
    if fraction == 0:
        return idx, idx[:0]
    count = int(round(len(idx) * fraction))
    if count < 1 or count >= len(idx):
        raise ConfigError(f"dataset.split.{what}={fraction} leaves an empty split for {len(idx)} rows")
    if not shuffle:
        return idx[: len(idx) - count], idx[len(idx) - count :]
    labels = y[idx] if (stratify and y is not None) else None
    try:
        rest, held = train_test_split(idx, test_size=count, random_state=seed, stratify=labels)
    except ValueError as exc:
        raise ConfigError(f"cannot split dataset (split.{what}={fraction}): {exc}") from None
    return np.sort(rest), np.sort(held)


def split_off_test(n: int, y: np.ndarray, split: dict, classification: bool, has_test: bool):
    """Return (rest, test) index arrays: the test rows and the others, in their original order.

    `test` is a fraction of all rows, empty when the data set has an official test set. K-fold cuts its
    folds out of `rest`; so does the hold-out split below, which uses the same test rows.
    """
    stratify = bool(split["stratify"]) and classification
    idx = np.arange(n)
    if has_test:
        return idx, idx[:0]
    return _take(idx, y, split["test"], split["shuffle"], stratify, split["seed"], "test")


def split_indices(n: int, y: np.ndarray, split: dict, classification: bool, has_test: bool):
    """Return (train, val, test) index arrays into the factory's rows.

    `test` is a fraction of all rows (ignored when the data set has an official test set); `val` is a
    fraction of the rows left, or the first `val_first_n` of them.
    """
    stratify = bool(split["stratify"]) and classification
    idx, test = split_off_test(n, y, split, classification, has_test)
    if split.get("val_first_n"):
        first = split["val_first_n"]
        if first >= len(idx):
            raise ConfigError(f"dataset.split.val_first_n={first} leaves no training rows (only {len(idx)})")
        return idx[first:], idx[:first], test
    train, val = _take(idx, y, split["val"], split["shuffle"], stratify, split["seed"] + 1, "val")
    return train, val, test
