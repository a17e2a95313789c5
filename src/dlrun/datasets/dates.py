"""Date and datetime columns: recognizing the format a column is written in, parsing it, and the features
a date becomes (year as a number; month, day of week, day of year and hour as points on a circle).

The format found in the training file is saved with the column's fitted state, so `dlrun eval`,
`predict`, `serve` and `export` parse new rows exactly as training did. A value that does not parse
with that format is a missing value (it takes the training rows' median date).
"""

from __future__ import annotations

import numpy as np

# Candidate formats, tried in order; the first that reads (nearly) every value of a column wins.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%Y%m%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y.%m.%d",
    "%d %b %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%B %d %Y",
)
TIME_FORMATS = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")
DATETIME_FORMATS = tuple(f"{d}{sep}{t}" for d in DATE_FORMATS[:7] for sep in ("T", " ") for t in TIME_FORMATS) + tuple(
    f"{d}T{t}Z" for d in DATE_FORMATS[:1] for t in TIME_FORMATS
)
MIN_PARSED = 0.95  # share of a column's present values that must parse for it to be a date column
SECONDS_PER_DAY = 86400.0
# (feature, period) of the cyclic parts: each becomes a sin and a cos column
CYCLES = (("month", 12), ("weekday", 7), ("dayofyear", 366))
HOUR_CYCLE = ("hour", 24)


def is_datetime_format(fmt: str) -> bool:
    return "%H" in fmt


def detect_format(values) -> str | None:
    """The first candidate format that parses at least MIN_PARSED of the present values (all of a small
    sample first), or None. Digits only ("20120131") are read as dates only when they hold 8 digits."""
    import pandas as pd

    present = pd.Series(values)[pd.notna(values)].astype(str).str.strip()
    present = present[present != ""]
    if len(present) == 0 or present.iloc[:50].str.contains(r"\d").mean() < MIN_PARSED:
        return None
    if present.str.fullmatch(r"[+-]?\d+(\.\d*)?").any() and not present.str.fullmatch(r"\d{8}").all():
        return None  # plain numbers are numbers
    sample = present.iloc[:50]
    for fmt in (*DATETIME_FORMATS, *DATE_FORMATS):
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean() < MIN_PARSED:
            continue
        if pd.to_datetime(present, format=fmt, errors="coerce").notna().mean() >= MIN_PARSED:
            return fmt
    return None


def parse_dates(values, fmt: str) -> np.ndarray:
    """Strings (NaN for missing) -> seconds since 1970-01-01 as float64; NaN where missing or unparseable."""
    import pandas as pd

    text = pd.Series(np.asarray(values, dtype=object)).map(lambda v: v.strip() if isinstance(v, str) else v)
    stamps = pd.to_datetime(text, format=fmt, errors="coerce")
    seconds = np.full(len(text), np.nan)
    ok = stamps.notna().to_numpy()
    if ok.any():
        seconds[ok] = (stamps[ok] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy()
    return seconds


def date_parts(seconds: np.ndarray, with_hour: bool) -> dict[str, np.ndarray]:
    """Year (with its fraction), month, weekday (Monday 0), day of year and hour of each timestamp (no NaN)."""
    import pandas as pd

    stamps = pd.to_datetime(np.asarray(seconds, np.float64), unit="s")
    parts = {
        "year": np.asarray(stamps.year, np.float64),
        "month": np.asarray(stamps.month - 1, np.float64),
        "weekday": np.asarray(stamps.dayofweek, np.float64),
        "dayofyear": np.asarray(stamps.dayofyear - 1, np.float64),
    }
    if with_hour:
        parts["hour"] = np.asarray(stamps.hour, np.float64) + np.asarray(stamps.minute, np.float64) / 60.0
    return parts


def cycles(with_hour: bool) -> tuple[tuple[str, int], ...]:
    return (*CYCLES, HOUR_CYCLE) if with_hour else CYCLES


def date_feature_names(column: str, with_hour: bool) -> list[str]:
    names = [f"{column}.year"]
    for part, _ in cycles(with_hour):
        names += [f"{column}.{part}_sin", f"{column}.{part}_cos"]
    return names


def date_features(seconds: np.ndarray, column: dict) -> np.ndarray:
    """The fitted column's features: z-scored year, then sin/cos of each cycle (missing -> training median)."""
    seconds = np.asarray(seconds, np.float64)
    seconds = np.where(np.isnan(seconds), column["median"], seconds)
    with_hour = column["kind"] == "datetime"
    parts = date_parts(seconds, with_hour)
    blocks = [(parts["year"] - column["mean"]) / column["scale"]]
    for part, period in cycles(with_hour):
        angle = 2 * np.pi * parts[part] / period
        blocks += [np.sin(angle), np.cos(angle)]
    return np.stack(blocks, axis=1).astype(np.float32)


def fitted_year(seconds: np.ndarray) -> np.ndarray:
    return date_parts(seconds, False)["year"]
