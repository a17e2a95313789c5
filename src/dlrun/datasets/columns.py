"""Feature columns of a table: what each kind means, parsing its values, and the fitted transform.

Kinds (as in the books' feature columns):

- `numeric`: z-scored with the training rows' mean and standard deviation.
- `categorical`: one-hot, or an index into a learned embedding when it has many levels. A missing
  value is a level of its own; a level never seen in the training rows maps to the "unknown" slot
  (the all-zero one-hot vector, or embedding row 0).
- `bucketized`: the bucket index of `boundaries` (torch.bucketize semantics for `right`), kept as
  one numeric column or one-hot.
- `passthrough`: the number as it is.
- `date` / `datetime`: text in one date format (`format`, found from the training file when unset;
  `datasets/dates.py`), expanded into the year (z-scored) and the sin/cos of month, day of week, day of
  year and, for a datetime, hour. A value that does not parse is missing (the training median date).
- `text`: free text as a bag of words: one 0/1 column per word of the training rows' `num_words` most
  frequent (`datasets/vocabulary.py`); a missing value is the empty text.

Missing numbers take the training rows' median. The fitted state is plain data (lists, numbers,
strings), saved in every checkpoint, so evaluation and prediction apply exactly the same transform.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlrun.datasets.base import Preprocessor
from dlrun.datasets.dates import date_feature_names, date_features, fitted_year
from dlrun.datasets.vocabulary import TextPreprocessor
from dlrun.errors import ConfigError, DataError, did_you_mean

KINDS = ("numeric", "categorical", "bucketized", "passthrough", "date", "datetime", "text")
DATE_KINDS = ("date", "datetime")
OPTIONS = {  # per kind: option -> default
    "numeric": {},
    "passthrough": {},
    "categorical": {"encoding": "auto", "embedding_dim": None},
    "bucketized": {"boundaries": None, "right": False, "encoding": "index"},
    "date": {"format": None},
    "datetime": {"format": None},
    "text": {"num_words": 1000},
}
ENCODINGS = {"categorical": ("auto", "onehot", "embedding"), "bucketized": ("index", "onehot")}
MISSING_LEVEL = "<missing>"
FLOAT32_MAX = float(np.finfo(np.float32).max)


def column_spec(column: str, spec: Any) -> dict:
    """`numeric` or `{kind: bucketized, boundaries: [...]}` from the config -> a complete, checked mapping."""
    where = f"dataset.features.{column}"
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{where} must be one of {', '.join(KINDS)} or a mapping with a 'kind' key, got {spec!r}")
    kind = spec["kind"]
    if kind not in KINDS:
        raise ConfigError(f"unknown {where}.kind '{kind}'. Known: {', '.join(KINDS)}.{did_you_mean(kind, KINDS)}")
    options = OPTIONS[kind]
    for key in spec:
        if key != "kind" and key not in options:
            known = [f"{where}.{k}" for k in ("kind", *options)]
            hint = did_you_mean(f"{where}.{key}", known)
            raise ConfigError(f"unknown config key '{where}.{key}' for a {kind} column.{hint}")
    full = {"name": column, "kind": kind, **options, **{k: v for k, v in spec.items() if k != "kind"}}
    if kind in ENCODINGS and full["encoding"] not in ENCODINGS[kind]:
        raise ConfigError(f"{where}.encoding must be one of {', '.join(ENCODINGS[kind])}, got {full['encoding']!r}")
    if kind == "bucketized":
        bounds = full["boundaries"]
        if (
            not isinstance(bounds, (list, tuple))
            or not bounds
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
        ):
            raise ConfigError(f"{where}.boundaries must be a non-empty list of numbers, got {bounds!r}")
        if any(lo >= hi for lo, hi in zip(bounds, bounds[1:], strict=False)):
            raise ConfigError(f"{where}.boundaries must be strictly increasing, got {list(bounds)}")
        if not isinstance(full["right"], bool):
            raise ConfigError(f"{where}.right must be true or false, got {full['right']!r}")
        full["boundaries"] = [float(b) for b in bounds]
    if kind in DATE_KINDS and full["format"] is not None and not isinstance(full["format"], str):
        raise ConfigError(f"{where}.format must be a strftime format such as '%Y-%m-%d', got {full['format']!r}")
    if kind == "text" and (not isinstance(full["num_words"], int) or full["num_words"] < 1):
        raise ConfigError(f"{where}.num_words must be a positive integer, got {full['num_words']!r}")
    if kind == "categorical":
        dim = full["embedding_dim"]
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
            raise ConfigError(f"{where}.embedding_dim must be a positive integer or null, got {dim!r}")
    return full


# ---------------------------------------------------------------------------- parsing values
def parse_numbers(values, column: str, source: str) -> np.ndarray:
    """Strings (NaN for missing) -> float64, or a DataError naming the column and the (1-based) row."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    given = np.asarray(pd.notna(values))
    bad = np.flatnonzero(given & ~np.isfinite(numbers))
    if len(bad):
        row = int(bad[0])
        value = str(values.iloc[row])
        if pd.notna(pd.to_numeric(values.iloc[row], errors="coerce")):  # "inf", "1e400": a number, not finite
            raise DataError(
                f"{source}: column '{column}', row {row + 1}: {value.strip()!r} is infinite or overflows; "
                "fix or remove the value (or list it in dataset.na_values)"
            )
        raise DataError(f"{source}: column '{column}', row {row + 1}: cannot read {value!r} as a number")
    huge = np.flatnonzero(given & (np.abs(np.nan_to_num(numbers)) > FLOAT32_MAX))
    if len(huge):
        row = int(huge[0])
        raise DataError(
            f"{source}: column '{column}', row {row + 1}: {str(values.iloc[row]).strip()!r} overflows the model's "
            f"32-bit floats (|x| > {FLOAT32_MAX:.3g}); fix or remove the value"
        )
    return numbers


def is_numeric(values) -> bool:
    """Every value present reads as a finite number (and at least one is present)."""
    import pandas as pd

    present = values[pd.notna(values)]
    if len(present) == 0:
        return False
    numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype=np.float64)
    return bool((~np.isnan(numbers)).all())  # "inf" is a number: parse_numbers names its row


def parse_levels(values) -> np.ndarray:
    """Strings with missing values as their own level."""
    import pandas as pd

    return np.asarray([str(v).strip() if pd.notna(v) else MISSING_LEVEL for v in values], dtype=object)


def parse_text(values) -> np.ndarray:
    """Free text; a missing value is the empty text."""
    return np.asarray([v if isinstance(v, str) else "" if v is None or v != v else str(v) for v in values], object)


def sort_levels(levels) -> list[str]:
    """Numbers by value ("2" before "10"), anything else alphabetically."""
    levels = sorted(set(levels))
    try:
        return sorted(levels, key=float)
    except ValueError:
        return levels


def embedding_size(levels: int) -> int:
    """fast.ai's rule of thumb for an embedding's width: min(600, round(1.6 * levels ** 0.56))."""
    return int(min(600, round(1.6 * levels**0.56)))


# ---------------------------------------------------------------------------- the fitted transform
class TablePreprocessor(Preprocessor):
    """Fitted on the training rows of a table (a pandas DataFrame of parsed columns)."""

    def __init__(
        self,
        columns: list[dict],
        kind: str,
        target: str,
        target_scale: str | float = "none",
        onehot_max_levels: int = 10,
    ):
        super().__init__()
        self.columns, self.kind, self.target = columns, kind, target
        self.target_scale, self.onehot_max_levels = target_scale, onehot_max_levels
        self.schema: list[dict] | None = None  # the file's inferred schema (datasets/table_schema.py), when read

    def fit(self, x, y: np.ndarray) -> dict[str, Any]:
        fitted = [self._fit_column(spec, x[spec["name"]].to_numpy()) for spec in self.columns]
        state: dict[str, Any] = {"kind": self.kind, "target": self.target, "columns": fitted}
        state["feature_names"] = feature_names(fitted)
        state["embeddings"] = [[len(c["levels"]), c["dim"]] for c in fitted if c.get("encoding") == "embedding"]
        if self.schema is not None:
            state["schema"] = self.schema
        if self.kind == "regression":
            y = np.asarray(y, np.float64)
            if self.target_scale == "standard":
                state["target_shift"], state["target_scale"] = float(y.mean()), _scale(y.std())
            elif self.target_scale != "none":
                state["target_shift"], state["target_scale"] = 0.0, float(self.target_scale)
        return state

    def _fit_column(self, spec: dict, values: np.ndarray) -> dict:
        column = dict(spec)
        if spec["kind"] == "categorical":
            levels = sort_levels(values)
            column["levels"] = levels
            if spec["encoding"] == "auto":
                column["encoding"] = "embedding" if len(levels) > self.onehot_max_levels else "onehot"
            if column["encoding"] == "embedding":
                column["dim"] = spec["embedding_dim"] or embedding_size(len(levels) + 1)
            return column
        if spec["kind"] == "text":
            prep = TextPreprocessor("multi_hot", spec["num_words"])
            column.update(words=prep.fit(list(values), None)["words"], token_pattern=prep.token_pattern)
            return column
        values = np.asarray(values, np.float64)
        present = values[~np.isnan(values)]
        if len(present) == 0:
            raise DataError(f"column '{spec['name']}' has no values in the training rows; list it in dataset.drop")
        column["median"] = float(np.median(present))
        if spec["kind"] in DATE_KINDS:  # values: seconds since 1970; the year is z-scored like a number
            years = fitted_year(np.where(np.isnan(values), column["median"], values))
            column["mean"], column["scale"] = float(years.mean()), _scale(years.std())
        if spec["kind"] == "numeric":
            filled = np.where(np.isnan(values), column["median"], values)
            column["mean"], column["scale"] = float(filled.mean()), _scale(filled.std())
        return column

    def transform(self, x, state: dict[str, Any]) -> np.ndarray:
        dense, codes = [], []
        for column in state["columns"]:
            values = np.asarray(x[column["name"]])  # a DataFrame's column, or an array (dlrun.inference)
            if column["kind"] == "categorical":
                index = {level: i + 1 for i, level in enumerate(column["levels"])}  # 0: unknown level
                found = np.asarray([index.get(v, 0) for v in values], dtype=np.int64)
                if column["encoding"] == "embedding":
                    codes.append(found.astype(np.float32)[:, None])
                else:
                    dense.append(np.eye(len(index) + 1, dtype=np.float32)[found][:, 1:])
                continue
            if column["kind"] == "text":
                bag = {"encoding": "multi_hot", "words": column["words"], "token_pattern": column["token_pattern"]}
                dense.append(TextPreprocessor().transform(parse_text(values), {**bag, "tokenized": False}))
                continue
            values = np.asarray(values, np.float64)
            if column["kind"] in DATE_KINDS:
                dense.append(date_features(values, column))
                continue
            values = np.where(np.isnan(values), column["median"], values)
            if column["kind"] == "numeric":
                values = (values - column["mean"]) / column["scale"]
            elif column["kind"] == "bucketized":
                # torch.bucketize(right=True) is searchsorted(side="right"): boundaries[i-1] <= x < boundaries[i]
                side = "right" if column["right"] else "left"
                values = np.searchsorted(np.asarray(column["boundaries"]), values, side=side)
                if column["encoding"] == "onehot":
                    dense.append(np.eye(len(column["boundaries"]) + 1, dtype=np.float32)[values])
                    continue
            dense.append(np.asarray(values, np.float32)[:, None])
        blocks = dense + codes  # embedding codes last: the model's input layer splits them off
        return np.concatenate(blocks, axis=1).astype(np.float32) if blocks else np.zeros((len(x), 0), np.float32)

    def transform_target(self, y: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        shift, scale = state.get("target_shift", 0.0), state.get("target_scale", 1.0)
        return ((np.asarray(y, np.float64) - shift) / scale).astype(np.float32)


def feature_names(columns: list[dict]) -> list[str]:
    """Names of the model's input columns, in order (one-hot columns as `column=level`)."""
    dense, codes = [], []
    for c in columns:
        if c["kind"] == "categorical" and c["encoding"] == "embedding":
            codes.append(f"{c['name']} (embedding index)")
        elif c["kind"] == "categorical":
            dense += [f"{c['name']}={level}" for level in c["levels"]]
        elif c["kind"] == "text":
            dense += [f"{c['name']}:{word}" for word in c["words"]]
        elif c["kind"] in DATE_KINDS:
            dense += date_feature_names(c["name"], c["kind"] == "datetime")
        elif c["kind"] == "bucketized" and c["encoding"] == "onehot":
            dense += [f"{c['name']}[bucket {i}]" for i in range(len(c["boundaries"]) + 1)]
        else:
            dense.append(c["name"])
    return dense + codes


def _scale(std: float) -> float:
    return float(std) if std > 0 and math.isfinite(std) else 1.0
