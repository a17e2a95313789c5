"""scikit-learn's embedded data sets and generators (offline, no download)."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as skd

from dlrun.datasets.base import DATASETS, RawData


def _bunch(loader, kind) -> RawData:
    b = loader()
    names = [str(n) for n in b.target_names] if kind == "classification" else None
    return RawData(np.asarray(b.data), np.asarray(b.target), kind, class_names=names,
                   feature_names=[str(f) for f in getattr(b, "feature_names", [])] or None)


@DATASETS.register("digits")
def digits() -> RawData:
    """8x8 handwritten digits, 1,797 images, 10 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_digits, "classification")


@DATASETS.register("iris")
def iris() -> RawData:
    """Iris flowers, 150 rows, 4 features, 3 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_iris, "classification")


@DATASETS.register("wine")
def wine() -> RawData:
    """Wine recognition, 178 rows, 13 features, 3 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_wine, "classification")


@DATASETS.register("breast_cancer")
def breast_cancer() -> RawData:
    """Wisconsin breast cancer, 569 rows, 30 features, binary (embedded in scikit-learn)."""
    return _bunch(skd.load_breast_cancer, "classification")


@DATASETS.register("diabetes")
def diabetes() -> RawData:
    """Diabetes progression, 442 rows, 10 features, regression (embedded in scikit-learn)."""
    return _bunch(skd.load_diabetes, "regression")


@DATASETS.register("moons")
def moons(n_samples: int = 1000, noise: float = 0.2, seed: int = 0) -> RawData:
    """Two interleaving half circles (make_moons), binary."""
    x, y = skd.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return RawData(x, y, "classification")


@DATASETS.register("classification")
def classification(n_samples: int = 1000, n_features: int = 20, n_informative: int = 5, n_classes: int = 2,
                   flip_y: float = 0.01, class_sep: float = 1.0, seed: int = 0) -> RawData:
    """Random n-class problem (make_classification)."""
    x, y = skd.make_classification(n_samples=n_samples, n_features=n_features, n_informative=n_informative,
                                   n_redundant=0, n_classes=n_classes, flip_y=flip_y, class_sep=class_sep,
                                   random_state=seed)
    return RawData(x, y, "classification")
