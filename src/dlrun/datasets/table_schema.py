"""The inferred schema of a table: per feature column its kind, missing count and levels or range, and the
target's class balance. Printed at the start of a `dataset=csv` run, written to the run directory
(`RunDir.write_table_schema`) and printed by `dlrun inspect` without training."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_LEVELS_SHOWN = 5


def schema_rows(frame, parsed, specs: list[dict], target: str, left_out: list[str]) -> list[dict[str, Any]]:
    """One row per column of the file: feature columns (as parsed), the target, and columns left out."""
    import pandas as pd

    rows = []
    for spec in specs:
        name, kind = spec["name"], spec["kind"]
        raw = frame[name]
        row: dict[str, Any] = {"column": name, "kind": kind, "missing": int(raw.isna().sum())}
        values = parsed[name]
        if kind == "categorical":
            levels = pd.Series(values[pd.notna(raw).to_numpy()]).value_counts()
            row["missing"] = int(raw.isna().sum())
            shown = ", ".join(str(v) for v in levels.index[:MAX_LEVELS_SHOWN])
            more = f", ... ({len(levels)} levels)" if len(levels) > MAX_LEVELS_SHOWN else ""
            row["levels_or_range"] = shown + more
        elif kind == "text":
            row["levels_or_range"] = f"{raw.nunique()} distinct texts"
        elif kind in ("date", "datetime"):
            seconds = np.asarray(values, np.float64)
            row["missing"] = int(np.isnan(seconds).sum())  # unparseable dates count as missing
            present = seconds[~np.isnan(seconds)]
            if len(present):
                first, last = (pd.to_datetime(v, unit="s") for v in (present.min(), present.max()))
                unit = "%Y-%m-%d %H:%M" if kind == "datetime" else "%Y-%m-%d"
                row["levels_or_range"] = f"{first.strftime(unit)} .. {last.strftime(unit)} ({spec['format']})"
        else:
            numbers = np.asarray(values, np.float64)
            present = numbers[~np.isnan(numbers)]
            if len(present):
                row["levels_or_range"] = f"{present.min():.6g} .. {present.max():.6g}"
        row.setdefault("levels_or_range", "")
        rows.append(row)
    rows.append({"column": target, "kind": "target", "missing": int(frame[target].isna().sum()), "levels_or_range": ""})
    rows += [{"column": name, "kind": "left out (ID-like)", "missing": 0, "levels_or_range": ""} for name in left_out]
    return rows


def render_schema(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table."""
    header = {"column": "column", "kind": "kind", "missing": "missing", "levels_or_range": "levels or range"}
    table = [header, *rows]
    keys = list(header)
    widths = {k: max(len(str(r[k])) for r in table) for k in keys}
    lines = ["  ".join(str(r[k]).ljust(widths[k]) for k in keys).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * widths[k] for k in keys))
    return "\n".join(lines)


def render_balance(class_names: list[str], y: np.ndarray) -> str:
    """Rows per class and their share, most frequent first."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=len(class_names))
    order = np.argsort(-counts, kind="stable")
    total = max(int(counts.sum()), 1)
    width = max(len(str(c)) for c in class_names)
    return "\n".join(f"{class_names[i]!s:<{width}}  {counts[i]:>7d}  {counts[i] / total:6.1%}" for i in order)
