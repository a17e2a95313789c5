"""Small synthetic data sets from the books."""

from __future__ import annotations

import numpy as np

from dlrun.datasets.base import RawData


def xor(n_samples, seed) -> RawData:
    """Points uniform in [-1,1]^2, label 1 where x0*x1 >= 0 (the books' XOR)."""
    x = np.random.RandomState(seed).uniform(-1.0, 1.0, size=(n_samples, 2))  # the books' np.random.seed(1)
    y = (x[:, 0] * x[:, 1] >= 0).astype(np.int64)
    return RawData(x, y, "classification", class_names=["0", "1"])
