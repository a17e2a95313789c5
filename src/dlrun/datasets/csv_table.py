"""`dataset=csv`: the user's own table (CSV, TSV or whitespace-separated), one column of it the target.

Reading is the same for training, `dlrun eval` and `dlrun predict` (`read_table` + `parse_columns`),
so a value that cannot be read fails the same way everywhere: one line naming the column and the row.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.datasets.base import RawData
from dlrun.datasets.columns import (
    DATE_KINDS,
    TablePreprocessor,
    column_spec,
    is_numeric,
    parse_levels,
    parse_numbers,
    parse_text,
    sort_levels,
)
from dlrun.datasets.dates import detect_format, is_datetime_format, parse_dates
from dlrun.datasets.table_schema import render_schema, schema_rows
from dlrun.errors import ConfigError, DataError, did_you_mean

log = logging.getLogger("dlrun")

SEPARATORS = {"comma": ",", "tab": "\t", "semicolon": ";", "whitespace": "whitespace"}
MAX_CLASSES_INFERRED = 10  # kind=auto: a target written as integers with at most this many values holds class labels


def csv(
    path,
    target,
    kind,
    sep,
    header,
    names,
    na_values,
    comment,
    drop,
    dropna,
    features,
    infer,
    onehot_max_levels,
    target_scale,
    encoding,
) -> RawData:
    """Your own table: a CSV, TSV or whitespace-separated file; one column is the target."""
    return CsvTable(**locals()).load()


def check_csv(**kwargs) -> None:
    """The config checks of `dlrun train`, before a run directory exists (reads only the first rows)."""
    bound = inspect.signature(csv).bind(**kwargs)
    bound.apply_defaults()
    CsvTable(**bound.arguments).check(read_columns=True)


@dataclass
class TableFormat:
    """How a file is written: what training, evaluation and prediction need to read it."""

    sep: str
    header: bool
    names: list[str] | None
    na_values: list[str]
    comment: str | None
    quotes: bool = True  # false: a double quote is an ordinary character (tab-separated texts such as the SMS file)
    encoding: str = "utf-8"  # dataset.encoding of dataset=csv; utf-8 also reads a byte-order mark

    @classmethod
    def of(cls, dataset: dict) -> TableFormat:
        return cls(
            parse_separator(dataset.get("sep", ",")),
            dataset.get("header", True),
            dataset.get("names"),
            list(dataset.get("na_values") or []),
            dataset.get("comment"),
            dataset.get("quotes", True),
            # dataset=csv's file encoding (text_csv's `encoding` is its vocabulary's, not the file's)
            (dataset.get("encoding") if dataset.get("name", "csv") == "csv" else None) or "utf-8",
        )


def require_file(path) -> None:
    """`dataset.path` names an existing file (one line and exit 2 otherwise)."""
    if not Path(path).is_file():
        raise DataError(f"dataset.path: no such file: {path} (a relative path starts from {os.getcwd()})")


def require_columns(path, columns, wanted) -> None:
    """Every (config key, column name) of `wanted` names one of the file's `columns` (a None name is unset)."""
    columns = list(columns)
    for key, name in wanted:
        if name is not None and name not in columns:
            raise DataError(
                f"dataset.{key}: {path} has no column '{name}'.{did_you_mean(name, columns)} "
                f"Columns: {', '.join(columns)}"
            )


def read_table(path: str | Path, fmt: TableFormat, nrows: int | None = None, optional: str | None = None):
    """All cells as strings (NaN where missing), columns named. `optional`: a column of `names` that a
    header-less file may leave out (the target, in files of new rows to predict)."""
    import csv as csv_module

    import pandas as pd

    kwargs: dict[str, Any] = dict(
        dtype=str,
        keep_default_na=True,
        na_values=fmt.na_values,
        comment=fmt.comment,
        index_col=False,
        header=0 if fmt.header else None,
        nrows=nrows,
        quoting=csv_module.QUOTE_MINIMAL if fmt.quotes else csv_module.QUOTE_NONE,
        encoding=file_encoding(fmt.encoding),
    )
    if fmt.sep == "whitespace" and fmt.comment is not None and fmt.comment.isspace():
        kwargs.update(sep=" ", skipinitialspace=True)  # a tab that starts a comment cannot also separate fields
    elif fmt.sep == "whitespace":
        kwargs.update(sep=r"\s+")
    else:
        kwargs.update(sep=fmt.sep, skipinitialspace=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # pandas would drop extra fields silently
            frame = pd.read_csv(path, **kwargs)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not a {fmt.encoding} text file (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "set dataset.encoding to the file's encoding (spreadsheet exports: cp1252 or latin-1)"
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0].replace("Error tokenizing data. C error: ", "")
        raise DataError(f"{path}: cannot split the rows into columns ({detail}); check dataset.sep") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    names = list(fmt.names or [])
    if names:
        if len(frame.columns) == len(names) - 1 and optional in names and not fmt.header:
            names.remove(optional)
        if len(frame.columns) != len(names):
            also = f" ({len(names) - 1} without the target '{optional}')" if optional in names else ""
            raise DataError(
                f"{path} has {len(frame.columns)} column(s) but dataset.names lists {len(names)}{also}: "
                f"{', '.join(names)}"
            )
        frame.columns = names
    return frame


def file_encoding(name: str) -> str:
    """dataset.encoding as Python reads it (utf-8 accepts a byte-order mark), or a ConfigError."""
    import codecs

    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ConfigError(f"dataset.encoding: unknown encoding {name!r} (utf-8, cp1252, latin-1...)") from None
    return "utf-8-sig" if codec == "utf-8" else codec


def parse_column(values, column: dict, source: str):
    """One column parsed by its kind: level strings, seconds since 1970 for dates, else floats (NaN missing)."""
    if column["kind"] == "categorical":
        return parse_levels(values)
    if column["kind"] in DATE_KINDS:
        return parse_dates(values, column["format"])
    if column["kind"] == "text":
        return parse_text(values)
    return parse_numbers(values, column["name"], source)


def parse_columns(frame, columns: list[dict], source: str):
    """The feature columns of `frame` parsed by kind: floats (NaN where missing) or category strings."""
    import pandas as pd

    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column '{missing[0]}' (the model reads: {', '.join(c['name'] for c in columns)})"
        )
    parsed = {c["name"]: parse_column(frame[c["name"]], c, source) for c in columns}
    return pd.DataFrame(parsed, index=frame.index)


@dataclass
class CsvTable:
    path: str | None
    target: str | None
    kind: str
    sep: str
    header: bool
    names: list[str] | None
    na_values: list[str]
    comment: str | None
    drop: list[str]
    dropna: bool
    features: dict[str, Any] | None
    infer: bool
    onehot_max_levels: int
    target_scale: str | float
    encoding: str = "utf-8"

    # ------------------------------------------------------------------ checks
    def check(self, read_columns: bool = False) -> list[dict]:
        """Check the config; with `read_columns`, also that the file has the columns it names."""
        if not self.path:
            raise ConfigError(
                "dataset.path must be set: the file to read (dataset=csv dataset.path=FILE dataset.target=COLUMN)"
            )
        if not self.target:
            raise ConfigError("dataset.target must be set: the column to predict")
        parse_separator(self.sep)
        if self.comment is not None and len(self.comment) != 1:
            raise ConfigError(f"dataset.comment must be one character or null, got {self.comment!r}")
        if not self.header and not self.names:
            raise ConfigError("dataset.header is false, so dataset.names must list the column names in file order")
        specs = [column_spec(name, spec) for name, spec in (self.features or {}).items()]
        if self.target in (self.features or {}):
            raise ConfigError(f"dataset.features names the target column '{self.target}'")
        if self.target in self.drop:
            raise ConfigError(f"dataset.drop names the target column '{self.target}'")
        both = [name for name in self.drop if name in (self.features or {})]
        if both:
            raise ConfigError(f"dataset.drop and dataset.features both name column '{both[0]}'")
        require_file(self.path)
        if read_columns:
            self._check_names(list(read_table(self.path, self.format, nrows=5).columns))
        return specs

    def _check_names(self, columns: list[str]) -> None:
        require_columns(
            self.path,
            columns,
            [
                ("target", self.target),
                *(("drop", name) for name in self.drop),
                *(("features", name) for name in self.features or {}),
            ],
        )

    @property
    def format(self) -> TableFormat:
        return TableFormat(
            parse_separator(self.sep), self.header, self.names, list(self.na_values), self.comment, True, self.encoding
        )

    # ------------------------------------------------------------------ loading
    def load(self) -> RawData:
        declared = {spec["name"]: spec for spec in self.check()}
        frame = read_table(self.path, self.format)
        self._check_names(list(frame.columns))
        frame = frame.drop(columns=list(self.drop))
        specs = [
            self._date_format(declared[name], frame[name]) if name in declared else infer_column(name, frame[name])
            for name in frame.columns
            if name != self.target and (name in declared or self.infer)
        ]
        ids = [s["name"] for s in specs if s["name"] not in declared and is_id_like(frame[s["name"]], s["kind"])]
        if ids:
            log.warning(
                "%s: left out ID-like column(s) %s (a distinct value on nearly every row); name them in "
                "dataset.features to keep them",
                self.path,
                ", ".join(ids),
            )
            specs = [s for s in specs if s["name"] not in ids]
        self.left_out = ids
        if not specs:
            raise DataError(f"{self.path}: no feature columns left besides the target '{self.target}'")
        inferred = [f"{s['name']} {s['kind']}" for s in specs if s["name"] not in declared]
        if inferred:
            log.info("%s: inferred column kinds: %s", self.path, ", ".join(inferred))

        used = [s["name"] for s in specs] + [self.target]
        keep = np.array(frame[self.target].notna(), dtype=bool)
        if self.dropna:
            keep &= frame[used].notna().all(axis=1).to_numpy()
        x = parse_columns(frame, specs, str(self.path))  # parsed before dropping rows: row numbers are the file's
        self.schema = schema_rows(frame, x, specs, self.target, ids)
        log.info("%s: columns\n%s", self.path, render_schema(self.schema))
        if not keep.all():
            log.info(
                "%s: dropped %d of %d rows with a missing %s",
                self.path,
                int((~keep).sum()),
                len(frame),
                "value" if self.dropna else f"target '{self.target}'",
            )
        x, targets = x[keep].reset_index(drop=True), frame[self.target][keep]
        if len(x) == 0:
            raise DataError(f"{self.path}: no rows left to train on")

        kind = self._target_kind(targets)
        if kind == "regression":
            y = parse_numbers(frame[self.target], self.target, str(self.path))[keep]
            return RawData(x, y, "regression", preprocessor=self._preprocessor(specs, kind))
        if self.target_scale != "none":
            raise ConfigError(f"dataset.target_scale applies to regression targets; '{self.target}' holds class labels")
        labels = parse_levels(targets)
        classes = sort_levels(labels)
        codes = {name: i for i, name in enumerate(classes)}
        y = np.asarray([codes[v] for v in labels], dtype=np.int64)
        return RawData(x, y, "classification", class_names=classes, preprocessor=self._preprocessor(specs, kind))

    def _date_format(self, spec: dict, values) -> dict:
        """A declared date column without `format`: the format its values are written in."""
        if spec["kind"] not in DATE_KINDS or spec["format"]:
            return spec
        fmt = detect_format(values)
        if fmt is None:
            first = values.dropna().iloc[0] if values.notna().any() else None
            raise DataError(
                f"{self.path}: column '{spec['name']}' is declared {spec['kind']} but no known date format reads "
                f"its values (first: {first!r}); set dataset.features.{spec['name']}.format"
            )
        return {**spec, "format": fmt}

    def _target_kind(self, targets) -> str:
        if self.kind != "auto":
            return self.kind
        written = targets.astype(str).str.strip()
        integers = bool(written.str.fullmatch(r"[+-]?\d+").all())  # "3" is a label, "3.0" a measurement
        labels = not is_numeric(targets) or (integers and written.nunique() <= MAX_CLASSES_INFERRED)
        kind = "classification" if labels else "regression"
        log.info("%s: target '%s' -> %s (dataset.kind=auto; set dataset.kind to choose)", self.path, self.target, kind)
        return kind

    def _preprocessor(self, specs: list[dict], kind: str) -> TablePreprocessor:
        prep = TablePreprocessor(specs, kind, self.target, self.target_scale, self.onehot_max_levels)
        prep.schema = self.schema  # the inferred schema, kept with the fitted state (RunDir.write_table_schema)
        return prep


ID_MIN_ROWS = 50  # fewer rows: too few to tell an ID from a measurement
ID_DISTINCT = 0.95  # share of the rows with a value of their own


def infer_column(name: str, values) -> dict:
    """kind=auto for a column not named in `features`: numeric, date/datetime (with the format found), or
    categorical."""
    if is_numeric(values):
        return column_spec(name, "numeric")
    fmt = detect_format(values)
    if fmt is not None:
        return column_spec(name, {"kind": "datetime" if is_datetime_format(fmt) else "date", "format": fmt})
    if is_free_text(values):
        return column_spec(name, "text")
    return column_spec(name, "categorical")


TEXT_MIN_WORDS = 3  # free text: at least this many words per value on average...
TEXT_DISTINCT = 0.5  # ...and at least this share of the values distinct


def is_free_text(values) -> bool:
    """Long strings with many distinct values: sentences, descriptions, comments (not category names)."""
    import pandas as pd

    present = values[pd.notna(values)].astype(str).str.strip()
    if len(present) < 2:
        return False
    words = present.str.split().str.len().mean()
    return bool(words >= TEXT_MIN_WORDS and present.nunique() >= TEXT_DISTINCT * len(present))


def is_id_like(values, kind: str) -> bool:
    """A text or integer column with a distinct value on nearly every row (a key, not a feature)."""
    import pandas as pd

    present = values[pd.notna(values)].astype(str).str.strip()
    if len(values) < ID_MIN_ROWS or len(present) < ID_DISTINCT * len(values):
        return False
    if kind == "numeric":  # measurements are often all distinct; only integer keys (dense, as 1..n) count
        if not present.str.fullmatch(r"[+-]?\d+").all():
            return False
        numbers = present.astype(float)
        if numbers.max() - numbers.min() + 1 > 2 * len(values):
            return False
    if kind not in ("numeric", "categorical"):
        return False
    return present.nunique() >= ID_DISTINCT * len(values)


def parse_separator(sep: str) -> str:
    """dataset.sep as pandas takes it: one character (names such as tab and comma allowed) or "whitespace"."""
    sep = SEPARATORS.get(sep, sep)
    if sep != "whitespace" and len(sep) != 1:
        raise ConfigError(
            f"dataset.sep must be one character (',' ';' '\\t'), tab, comma, semicolon or whitespace, got {sep!r}"
        )
    return sep
