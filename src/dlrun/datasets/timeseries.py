"""`timeseries_csv`: one series (plus optional feature columns) in time order, cut into sliding windows.

The steps are split in time order first (train, then validation, then test: `dataset.split.val` and
`dataset.split.test` are fractions of the steps), and each split is windowed on its own, so no
window crosses a split boundary. Every column is z-scored with the training steps' mean and standard
deviation only. A sample is `window` steps of all columns -> the next `horizon` values of the value
column; consecutive windows start `stride` steps apart. Metrics are reported in the series' units.

Forecasting runs are also scored against naive forecasts (`DataBundle.naive_forecasts`): the last
value of the window ("tomorrow = today"), and with `period` the value one period earlier.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass

import numpy as np
import torch

from dlrun.datasets.base import DataBundle, DataInfo, Split
from dlrun.datasets.columns import parse_numbers
from dlrun.datasets.csv_table import TableFormat, parse_separator, read_table, require_columns, require_file
from dlrun.errors import ConfigError, DataError

log = logging.getLogger("dlrun")


@dataclass
class SeriesData:
    """What `timeseries_csv` returns: the steps in time order, value column first. `build_data` windows it."""

    values: np.ndarray  # (steps, columns) float64
    columns: list[str]
    window: int
    horizon: int
    stride: int
    period: int | None

    def bundle(self, split: dict, preprocessing: dict | None) -> DataBundle:
        bounds = self.boundaries(split)
        segments = [np.arange(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=False)]
        if preprocessing is None:
            train = self.values[segments[0]]
            std = train.std(axis=0)
            preprocessing = {
                "kind": "timeseries",
                "columns": list(self.columns),
                "mean": train.mean(axis=0).tolist(),
                "scale": np.where(std > 0, std, 1.0).tolist(),
                "window": self.window,
                "horizon": self.horizon,
                "stride": self.stride,
                "period": self.period,
            }
        state = dict(preprocessing)
        state["target_shift"], state["target_scale"] = float(state["mean"][0]), float(state["scale"][0])
        scaled = ((self.values - np.asarray(state["mean"])) / np.asarray(state["scale"])).astype(np.float32)

        splits, naive = [], {}
        for name, steps in zip(("train", "val", "test"), segments, strict=False):
            if len(steps) == 0:
                splits.append(None)
                continue
            starts = self.window_starts(steps[0], steps[-1] + 1)
            x, y = self.windows(scaled, starts)
            splits.append(Split(torch.from_numpy(x), torch.from_numpy(y)))
            if name != "train":
                naive[name] = self.naive_forecasts(starts)
        info = DataInfo(
            "regression",
            tuple(splits[0].x.shape[1:]),
            self.horizon,
            target_shift=state["target_shift"],
            target_scale=state["target_scale"],
        )
        return DataBundle(info, *splits, preprocessing=state, naive_forecasts=naive)

    def boundaries(self, split: dict) -> list[int]:
        """[0, end of train, end of val, end of test]: step indices, in time order."""
        if split.get("shuffle", False):
            raise ConfigError("a time series is split in time order: set dataset.split.shuffle=false")
        if split.get("val_first_n"):
            raise ConfigError("dataset.split.val_first_n does not apply to a time series; use dataset.split.val")
        steps = len(self.values)
        test = int(round(steps * float(split["test"])))
        val = int(round((steps - test) * float(split["val"])))
        bounds = [0, steps - test - val, steps - test, steps]
        need = self.window + self.horizon
        for name, lo, hi in zip(("train", "val", "test"), bounds[:-1], bounds[1:], strict=False):
            if hi > lo and hi - lo < need:
                raise ConfigError(
                    f"the {name} split has {hi - lo} steps, fewer than window + horizon = {need}; "
                    f"lower dataset.window or change dataset.split"
                )
        if bounds[1] < need:
            raise ConfigError(f"the train split has {bounds[1]} steps, fewer than window + horizon = {need}")
        return bounds

    def window_starts(self, lo: int, hi: int) -> np.ndarray:
        """First steps of the windows that fit, inputs and targets, inside steps [lo, hi)."""
        return np.arange(lo, hi - self.window - self.horizon + 1, self.stride)

    def windows(self, scaled: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x: (windows, window, columns); y: (windows, horizon) of the value column."""
        from numpy.lib.stride_tricks import sliding_window_view

        spans = sliding_window_view(scaled, self.window + self.horizon, axis=0)[starts]  # (n, columns, w + h)
        spans = spans.transpose(0, 2, 1)
        return (np.ascontiguousarray(spans[:, : self.window]), np.ascontiguousarray(spans[:, self.window :, 0]))

    def naive_forecasts(self, starts: np.ndarray) -> dict[str, np.ndarray]:
        """Naive predictions of each window's targets, in the series' units: (windows, horizon) each."""
        series = self.values[:, 0]
        first = starts + self.window  # the step of the first target
        steps = first[:, None] + np.arange(self.horizon)[None, :]
        found = {"last_value": np.repeat(series[first - 1][:, None], self.horizon, axis=1)}
        if self.period:
            back = steps - self.period * np.ceil((np.arange(self.horizon) + 1) / self.period).astype(int)[None, :]
            if back.min() >= 0:  # the value one period before (the last full period before the first target)
                found["seasonal_last_value"] = series[back]
            else:
                log.warning("dataset.period=%d reaches before the first step: no seasonal baseline", self.period)
        return found


def timeseries_csv(path, value, date, features, window, horizon, stride, period, sep, header, names) -> SeriesData:
    """A series in a CSV file (a value column, optional feature columns, ordered by a date column), in windows."""
    fmt = _check(path, value, date, features, window, horizon, stride, period, sep, header, names)
    frame = read_table(path, fmt)
    _check_columns(path, list(frame.columns), value, date, features)
    if date is not None:
        import pandas as pd

        when = pd.to_datetime(frame[date], errors="coerce")
        bad = np.flatnonzero(when.isna().to_numpy())
        if len(bad):
            raise DataError(
                f"{path}: column '{date}', row {bad[0] + 1}: cannot read {frame[date].iloc[bad[0]]!r} as a date"
            )
        frame = frame.iloc[np.argsort(when.to_numpy(), kind="stable")]
    columns = [value, *features]
    values = np.column_stack([parse_numbers(frame[c].reset_index(drop=True), c, str(path)) for c in columns])
    missing = np.argwhere(np.isnan(values))
    if len(missing):
        row, col = missing[0]
        raise DataError(
            f"{path}: column '{columns[col]}' has a missing value (row {row + 1} in time order); "
            "a series needs every step"
        )
    return SeriesData(values, columns, window, horizon, stride, period)


def _check(path, value, date, features, window, horizon, stride, period, sep, header, names) -> TableFormat:
    if not path:
        raise ConfigError(
            "dataset.path must be set: the series file (dataset=timeseries_csv dataset.path=FILE dataset.value=COLUMN)"
        )
    if not value:
        raise ConfigError("dataset.value must be set: the column to forecast")
    if value in features or (date is not None and date in [value, *features]):
        raise ConfigError("dataset.value, dataset.date and dataset.features must name different columns")
    if not header and not names:
        raise ConfigError("dataset.header is false, so dataset.names must list the column names in file order")
    require_file(path)
    return TableFormat(parse_separator(sep), header, list(names) if names else None, [], None)


def _check_columns(path, columns: list[str], value: str, date: str | None, features) -> None:
    require_columns(path, columns, [("value", value), ("date", date), *(("features", f) for f in features)])


def check_timeseries(**kwargs) -> None:
    """The checks of `dlrun train`, before a run directory exists (reads only the first rows)."""
    bound = inspect.signature(timeseries_csv).bind(**kwargs)
    bound.apply_defaults()
    args = bound.arguments
    fmt = _check(**args)
    _check_columns(
        args["path"],
        list(read_table(args["path"], fmt, nrows=5).columns),
        args["value"],
        args["date"],
        args["features"],
    )
