"""What a record of each kind of data is, and how it becomes the model's input, as in training.

One class per kind (`input_for(preprocessing, info, dataset)` picks it): `encode(records)` returns the
model's input arrays, `schema()` describes a record. Bad records raise `DataError` naming the record
(`rows[i]`, 0-based as in the request) or the column, and the problem.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from dlrun.errors import DataError

# what pandas reads as a missing value in a CSV cell (read_csv's defaults)
NA_STRINGS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA"]
    + ["NULL", "NaN", "None", "n/a", "nan", "null"]
)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class TableInput:
    """Rows of a table: {column: value}, parsed and transformed by the run's fitted columns."""

    kind = "table"

    def __init__(self, prep: dict, dataset: dict):
        self.prep = prep
        self.columns = prep["columns"]
        self.target = prep["target"]
        self.na_values = NA_STRINGS | {str(v) for v in dataset.get("na_values") or []}

    def cells(self, records: list) -> dict[str, list]:
        """Column -> the records' values as a CSV file's cells would be read (strings, NaN where missing),
        numbers checked (a DataError names the record, `rows[i]`, 0-based, and the column)."""
        names = [c["name"] for c in self.columns]
        cells: dict[str, list] = {name: [] for name in names}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise DataError(f"rows[{i}]: a table row is an object of column -> value, got {_shown(record)}")
            missing = [name for name in names if name not in record]
            if missing:
                raise DataError(f"rows[{i}]: missing column '{missing[0]}' (the model reads: {', '.join(names)})")
            for column in self.columns:
                cells[column["name"]].append(self._cell(record[column["name"]], i, column))
        return cells

    def frame(self, records: list) -> Any:
        """The records as a DataFrame of strings (NaN where missing), as `read_table` reads a file."""
        import pandas as pd

        return pd.DataFrame(self.cells(records), dtype=object)

    def _cell(self, value, row: int, column: dict):
        """One value as a CSV cell would be read: a string, or NaN when missing; numbers checked here so that
        the message names the request's row (`rows[i]`, 0-based)."""
        if value is None or (_is_number(value) and not np.isfinite(value)):
            return np.nan
        if isinstance(value, bool) or not isinstance(value, (str, int, float, np.integer, np.floating)):
            raise DataError(
                f"rows[{row}]: column '{column['name']}': expected a number or a string, got {_shown(value)}"
            )
        if isinstance(value, str):
            if value.strip() in self.na_values:
                return np.nan
            if column["kind"] not in ("categorical", "date", "datetime", "text"):  # dates: unparseable text is missing
                try:
                    if "_" in value or not np.isfinite(float(value)):  # what pandas' to_numeric reads, too
                        raise ValueError
                except ValueError:
                    raise DataError(
                        f"rows[{row}]: column '{column['name']}': cannot read {value!r} as a number"
                    ) from None
            return value
        return str(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))

    def parse(self, frame, source: str):
        """The feature columns parsed by kind (floats with NaN, or level strings); DataError naming column and row."""
        from dlrun.datasets.csv_table import parse_columns

        return parse_columns(frame, self.columns, source)

    def transform(self, parsed) -> tuple[np.ndarray, ...]:
        from dlrun.datasets.columns import TablePreprocessor

        return (TablePreprocessor([], self.prep["kind"], self.target).transform(parsed, self.prep),)

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        """`transform(parse(frame(records)))`, the values parsed here: the cells are checked already, so each
        number is float() of its text and each level `parse_levels`' string, without pandas (a one-row request
        would spend most of its time building and parsing a DataFrame). tests/test_inference.py compares the two."""
        from dlrun.datasets.columns import parse_levels, parse_text
        from dlrun.datasets.dates import parse_dates

        parsed = {
            column["name"]: (
                parse_levels(values)
                if column["kind"] == "categorical"
                else parse_dates(values, column["format"])
                if column["kind"] in ("date", "datetime")
                else parse_text(values)
                if column["kind"] == "text"
                else np.asarray([float(v) if isinstance(v, str) else v for v in values], np.float64)
            )
            for column, values in zip(self.columns, self.cells(records).values(), strict=True)
        }
        return self.transform(parsed)  # TablePreprocessor.transform reads a mapping of column -> values

    def schema(self) -> dict:
        columns = []
        for c in self.columns:
            text = c["kind"] in ("categorical", "date", "datetime", "text")
            entry = {"name": c["name"], "kind": c["kind"], "type": "string" if text else "number"}
            if c["kind"] == "categorical":
                entry["levels"] = list(c["levels"])
            elif c["kind"] in ("date", "datetime"):
                entry["format"] = c["format"]
            elif c["kind"] == "text":
                entry["words"] = len(c["words"])
            else:
                entry["missing_becomes"] = c["median"]
            columns.append(entry)
        return {
            "kind": self.kind,
            "record": "object: column -> value (null or missing-value strings allowed)",
            "columns": columns,
        }


class TextInput:
    """Strings, tokenized and encoded with the run's vocabulary (multi-hot rows or padded word ids)."""

    kind = "text"

    def __init__(self, prep: dict):
        self.prep = prep
        self.tokenized = bool(prep.get("tokenized"))

    def texts(self, records: list) -> list:
        out = []
        for i, record in enumerate(records):
            if self.tokenized and isinstance(record, list) and all(isinstance(w, str) for w in record):
                out.append(record)
            elif isinstance(record, str):
                out.append(record.split() if self.tokenized else record)
            else:
                raise DataError(f"rows[{i}]: expected a text string, got {_shown(record)}")
        return out

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        from dlrun.datasets.vocabulary import TextPreprocessor

        return (TextPreprocessor().transform(self.texts(records), self.prep),)

    def tokens(self, records: list) -> list[list[str]]:
        """The words each record is read as (tagging: one prediction per word, up to max_len)."""
        from dlrun.datasets.vocabulary import tokenize

        words = tokenize(self.texts(records), self.prep["token_pattern"], self.tokenized)
        return [w[: self.prep.get("max_len", len(w))] for w in words]

    def schema(self) -> dict:
        out = {
            "kind": self.kind,
            "record": "a list of words" if self.tokenized else "a text string",
            "encoding": self.prep["encoding"],
            "vocabulary_size": len(self.prep["words"]),
        }
        if "max_len" in self.prep:
            out["max_len"] = self.prep["max_len"]
        return out


class SeriesInput:
    """Windows of `window` steps, scaled with the training steps' mean and scale."""

    kind = "series"

    def __init__(self, prep: dict):
        self.prep = prep
        self.columns = list(prep["columns"])
        self.window = int(prep["window"])

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        width = len(self.columns)
        out = np.empty((len(records), self.window, width), np.float64)
        for i, record in enumerate(records):
            if not isinstance(record, (list, tuple, np.ndarray)):
                raise DataError(f"rows[{i}]: a window is a list of {self.window} steps, got {_shown(record)}")
            if len(record) != self.window:
                raise DataError(f"rows[{i}]: the window has {len(record)} steps, the model takes {self.window}")
            for t, step in enumerate(record):
                values = step if isinstance(step, (list, tuple, np.ndarray)) else [step]
                if len(values) != width:
                    raise DataError(
                        f"rows[{i}][{t}]: a step has {width} value(s) ({', '.join(self.columns)}), got {len(values)}"
                    )
                for c, v in enumerate(values):
                    if not _is_number(v) or not np.isfinite(v):
                        raise DataError(f"rows[{i}][{t}]: column '{self.columns[c]}': {_shown(v)} is not a number")
                    out[i, t, c] = v
        scaled = (out - np.asarray(self.prep["mean"])) / np.asarray(self.prep["scale"])
        return (scaled.astype(np.float32),)

    def schema(self) -> dict:
        return {
            "kind": self.kind,
            "record": f"a list of {self.window} steps (one number, or one per column)",
            "window": self.window,
            "horizon": int(self.prep["horizon"]),
            "columns": self.columns,
        }


class ImageInput:
    """Images: encoded files decoded with PIL (converted to the run's channels) or arrays; checked size;
    scaled to [0, 1], made what the model asked for (3 channels, resize, centre crop: `model=torchvision`) and
    normalized with the run's per-channel mean and std."""

    kind = "image"

    def __init__(self, prep: dict, shape: tuple[int, ...]):
        self.prep = prep
        self.channels, self.height, self.width = (int(s) for s in shape)

    def image(self, record, i: int) -> np.ndarray:
        """(C, H, W) uint8-range float array of one record."""
        if isinstance(record, (bytes, bytearray)):
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(record)) as img:
                    array = np.asarray(img.convert("L" if self.channels == 1 else "RGB"))
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise DataError(f"rows[{i}]: not an image file PIL can read ({str(exc).splitlines()[0]})") from None
            array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        else:
            try:
                array = np.asarray(record, dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"rows[{i}]: an image is a file or a nested list of 0-255 numbers") from None
            if array.ndim == 2:
                array = array[None]
            elif array.ndim == 3 and array.shape[0] not in (1, 3) and array.shape[2] in (1, 3):
                array = array.transpose(2, 0, 1)
            if array.ndim != 3 or not np.isfinite(array).all():
                raise DataError(
                    f"rows[{i}]: an image array is (H, W), (H, W, C) or (C, H, W) of finite numbers, "
                    f"got shape {array.shape}"
                )
            if array.shape[0] != self.channels:
                raise DataError(
                    f"rows[{i}]: the image has {array.shape[0]} channel(s), the model takes {self.channels}"
                )
        if array.shape[1:] != (self.height, self.width):
            h, w = array.shape[1:]
            raise DataError(
                f"rows[{i}]: wrong image size {w}x{h} (width x height), the model takes {self.width}x{self.height}"
            )
        return array

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        x = (
            np.stack([self.image(r, i) for i, r in enumerate(records)])
            if records
            else np.zeros((0, self.channels, self.height, self.width))
        )
        x = x.astype(np.float32) / np.float32(255.0)
        if any(self.prep.get(k) for k in ("channels", "resize", "crop")):
            import torch

            from dlrun.datasets.images import fit_to_model

            x = fit_to_model(torch.from_numpy(x), self.prep).numpy()
        mean = np.asarray(self.prep["mean"], np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(self.prep["std"], np.float32).reshape(1, -1, 1, 1)
        return (((x - mean) / std).astype(np.float32),)

    def schema(self) -> dict:
        return {
            "kind": self.kind,
            "record": "an image file (multipart upload) or an array of 0-255 values",
            "channels": self.channels,
            "height": self.height,
            "width": self.width,
            "normalize": self.prep.get("normalize"),
            "mean": self.prep["mean"],
            "std": self.prep["std"],
            **{k: self.prep[k] for k in ("resize", "crop", "interpolation") if self.prep.get(k)},
        }


class ArrayInput:
    """Plain numeric rows (scikit-learn's sets): `in_features` numbers, standardized when the run did."""

    kind = "array"

    def __init__(self, prep: dict, shape: tuple[int, ...]):
        self.prep, self.shape = prep, tuple(int(s) for s in shape)

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        size = int(np.prod(self.shape))
        rows = []
        for i, record in enumerate(records):
            values = record if isinstance(record, (list, tuple, np.ndarray)) else None
            if values is None:
                raise DataError(f"rows[{i}]: a row is a list of {size} numbers, got {_shown(record)}")
            flat = np.asarray(values, dtype=object).reshape(-1)
            if len(flat) != size:
                raise DataError(f"rows[{i}]: the row has {len(flat)} values, the model takes {size}")
            bad = [j for j, v in enumerate(flat) if not _is_number(v) or not np.isfinite(v)]
            if bad:
                raise DataError(f"rows[{i}][{bad[0]}]: {_shown(flat[bad[0]])} is not a number")
            rows.append(flat.astype(np.float64))
        from dlrun.datasets.base import Preprocessor

        x = np.asarray(rows, np.float32).reshape(len(rows), *self.shape)
        return (Preprocessor().transform(x, self.prep),)

    def schema(self) -> dict:
        return {
            "kind": self.kind,
            "record": f"a list of {int(np.prod(self.shape))} numbers",
            "shape": list(self.shape),
            "standardized": "mean" in self.prep,
        }


def input_for(prep: dict, info, dataset: dict):
    """The input kind of a run, from its fitted preprocessing."""
    if prep.get("kind") == "timeseries":
        return SeriesInput(prep)
    if "columns" in prep:
        return TableInput(prep, dataset)
    if "words" in prep:
        return TextInput(prep)
    if "normalize" in prep or ("std" in prep and len(info.input_shape) == 3):
        return ImageInput(prep, info.input_shape)
    return ArrayInput(prep, info.input_shape)


def _shown(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
