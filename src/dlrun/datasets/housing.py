"""House-price regression sets of the books' K-fold chapter: Boston (a CSV file shipped inside the
package, in `datasets/packaged/boston_housing/`) and California (scikit-learn's copy, downloaded once
into its data home)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from dlrun.datasets.base import RawData
from dlrun.errors import DataError
from dlrun.packaged_data import PACKAGED_DIR, PACKAGED_FILES

BOSTON_FILE = str(PACKAGED_DIR / PACKAGED_FILES["boston_housing"])  # the copy shipped with dlrun


def boston_housing(path, target) -> RawData:
    """Boston housing, 506 rows, 13 features, median value in $1000s (CSV with a header)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"Boston housing file not found: {file} (set dataset.path)")
    with open(file, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    if target not in header:
        raise DataError(f"{file} has no column '{target}' (set dataset.target); columns: {', '.join(header)}")
    try:
        table = np.asarray(body, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{file}: a value is not a number ({exc})") from None
    col = header.index(target)
    features = [name for i, name in enumerate(header) if i != col]
    return RawData(np.delete(table, col, axis=1), table[:, col], "regression", feature_names=features)


def california_housing(n_rows, features, data_home, download) -> RawData:
    """California housing (scikit-learn's fetch): 20,640 districts, 8 features, value in $100,000s."""
    from sklearn.datasets import fetch_california_housing

    try:
        bunch = fetch_california_housing(data_home=data_home, download_if_missing=download)
    except OSError as exc:
        if not download:
            raise DataError(
                "California housing is not in scikit-learn's data home "
                f"({data_home or '~/scikit_learn_data'}): run once with dataset.download=true "
                "where the internet is reachable, or point dataset.data_home at a copy"
            ) from None
        raise DataError(f"could not download California housing: {str(exc).strip().splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - urllib's errors when offline are not all OSErrors
        raise DataError(f"could not download California housing: {type(exc).__name__}: {exc}") from None
    x, y = np.asarray(bunch.data), np.asarray(bunch.target)
    names = [str(f) for f in bunch.feature_names]
    if features == "raw":  # Keras' copy: the census totals, not scikit-learn's per-household averages
        income, age, rooms, bedrooms, population, occupancy, latitude, longitude = x.T
        households = population / occupancy
        x = np.column_stack(
            [longitude, latitude, age, rooms * households, bedrooms * households, population, households, income]
        )
        names = [
            "longitude",
            "latitude",
            "housing_median_age",
            "total_rooms",
            "total_bedrooms",
            "population",
            "households",
            "median_income",
        ]
    if n_rows is not None:
        x, y = x[:n_rows], y[:n_rows]
    return RawData(x, y, "regression", feature_names=names)
