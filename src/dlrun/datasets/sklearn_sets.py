"""scikit-learn's embedded data sets and generators (offline, no download)."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as skd

from dlrun.datasets.base import RawData


def _bunch(loader, kind) -> RawData:
    b = loader()
    names = [str(n) for n in b.target_names] if kind == "classification" else None
    return RawData(
        np.asarray(b.data),
        np.asarray(b.target),
        kind,
        class_names=names,
        feature_names=[str(f) for f in getattr(b, "feature_names", [])] or None,
    )


def digits() -> RawData:
    """8x8 handwritten digits, 1,797 images, 10 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_digits, "classification")


def iris() -> RawData:
    """Iris flowers, 150 rows, 4 features, 3 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_iris, "classification")


def wine() -> RawData:
    """Wine recognition, 178 rows, 13 features, 3 classes (embedded in scikit-learn)."""
    return _bunch(skd.load_wine, "classification")


def breast_cancer() -> RawData:
    """Wisconsin breast cancer, 569 rows, 30 features, binary (embedded in scikit-learn)."""
    return _bunch(skd.load_breast_cancer, "classification")


def diabetes() -> RawData:
    """Diabetes progression, 442 rows, 10 features, regression (embedded in scikit-learn)."""
    return _bunch(skd.load_diabetes, "regression")


def moons(n_samples, noise, seed) -> RawData:
    """Two interleaving half circles (make_moons), binary."""
    x, y = skd.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return RawData(x, y, "classification")


def classification(n_samples, n_features, n_informative, n_classes, flip_y, class_sep, seed) -> RawData:
    """Random n-class problem (make_classification)."""
    x, y = skd.make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=n_classes,
        flip_y=flip_y,
        class_sep=class_sep,
        random_state=seed,
    )
    return RawData(x, y, "classification")
