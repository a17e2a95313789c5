"""`dlrun report`: one table (and one picture) comparing the runs of a sweep, or a single run.

A run is a folder holding metrics.json (finished), failed.json (a sweep job that failed) or .hydra/
(started). Each row: the overrides that differ between runs, metric M at each run's best epoch (chosen
by its checkpoint monitor; mean ± std over folds for K-fold runs), best epoch, epochs, test metrics,
baselines, wall time. Rows are sorted by M, the best is marked; the validation curves of M are drawn
on one PNG in the folder.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dlrun.errors import ConfigError, DlrunError
from dlrun.metrics import resolve_mode
from dlrun.rundir import RunDir

FORMATS = ("table", "markdown", "csv")
CURVES_FILE = "val_curves.png"


@dataclass
class Run:
    name: str
    path: Path
    overrides: dict[str, str]
    monitor: str | None = None
    metrics: dict | None = None
    error: str | None = None
    value: float | None = None
    std: float | None = None
    best: bool = False
    curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error:
            return f"failed: {self.error}"
        if self.metrics is not None and self.metrics.get("pruned"):
            pruned = self.metrics["pruned"]
            if "folds_done" in pruned:
                return f"pruned after fold {pruned['folds_done']}"
            return f"pruned at epoch {pruned['epoch']}"
        return "ok" if self.metrics is not None else "no metrics.json (running or killed)"


def find_runs(root: Path) -> list[Path]:
    """`root` itself when it is a run, else every run below it (not looking inside runs)."""
    if RunDir(root).is_run():
        return [root]
    found: list[Path] = []
    for child in sorted((c for c in root.iterdir() if c.is_dir() and not c.name.startswith(".")), key=_job_order):
        found += find_runs(child)
    return found


def _job_order(path: Path):
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def load_run(path: Path, root: Path) -> Run:
    name = str(path.relative_to(root)) if path != root else path.name
    files = RunDir(path)
    overrides = {}
    for item in files.read_overrides():
        key, _, value = item.partition("=")
        overrides[key.lstrip("+~")] = value
    config = files.read_config() or {}
    monitor = ((config.get("trainer") or {}).get("checkpoint") or {}).get("monitor")
    run = Run(name, path, overrides, monitor)
    run.metrics = files.read_metrics()
    if run.metrics is not None:
        run.monitor = (
            run.monitor
            or (run.metrics.get("cv") or {}).get("monitor")
            or next((k for k in run.metrics.get("best", {}) if k != "epoch"), None)
        )
    elif (failure := files.read_failure()) is not None:
        run.error = failure["error"]
    return run


def measure(run: Run, metric: str) -> None:
    """Fill run.value (and run.std, run.curve) for `metric`."""
    m = run.metrics
    if m is None:
        return
    if metric.startswith("test/"):
        value = (m.get("test") or {}).get(metric[5:])
        run.value = float(value) if value is not None else None
    elif "cv" in m:
        folds = [f.get(metric) for f in m["cv"]["per_fold"]]
        if folds and all(v is not None for v in folds):
            run.value = float(sum(folds) / len(folds))
            run.std = math.sqrt(sum((v - run.value) ** 2 for v in folds) / len(folds))
    else:
        epoch = (m.get("best") or {}).get("epoch")
        row = next((r for r in m.get("history", []) if r.get("epoch") == epoch), None)
        if row is not None and metric in row:
            run.value = float(row[metric])
    curve_key = metric if not metric.startswith("test/") else run.monitor
    run.curve = [(r["epoch"], r[curve_key]) for r in m.get("history", []) if curve_key in r]


def collect(root: Path, metric: str | None) -> tuple[list[Run], str, str]:
    if not root.is_dir():
        raise DlrunError(f"no such folder: {root}")
    runs = [load_run(p, root) for p in find_runs(root)]
    if not runs:
        raise DlrunError(f"no runs in {root} (no folder with metrics.json, failed.json or .hydra/)")
    monitors = [r.monitor for r in runs if r.metrics is not None and r.monitor]
    metric = metric or (monitors[0] if monitors else "val/loss")
    mode = resolve_mode("auto", metric, "--metric")
    for run in runs:
        measure(run, metric)
    finished = [r for r in runs if r.metrics is not None]
    if finished and all(r.value is None for r in finished):
        known = sorted(
            {
                k
                for r in finished
                for row in r.metrics.get("history", [])[:1]
                for k in row
                if k.startswith(("train/", "val/"))
            }
            | {f"test/{k}" for r in finished for k in r.metrics.get("test", {})}
        )
        raise ConfigError(f"metric '{metric}' is in none of the runs; known: {', '.join(known)}")
    sign = 1 if mode == "min" else -1
    runs.sort(
        key=lambda r: (
            r.metrics is None,
            r.value is None or math.isnan(r.value),
            sign * r.value if r.value is not None and not math.isnan(r.value) else 0.0,
        )
    )
    if runs[0].value is not None and not math.isnan(runs[0].value):
        runs[0].best = True
    return runs, metric, mode


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "e" not in value.lower() else f"{number:.4g}"


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _baseline(metrics: dict, metric: str) -> str:
    """The baselines entry of metrics.json in a few characters, for the metric the table sorts by."""
    base = metrics.get("baselines") or {}
    leaf = metric.rsplit("/", 1)[-1]
    parts = []
    for name, value in base.items():
        if isinstance(value, dict):
            pick = value.get(leaf, next((v for v in value.values() if isinstance(v, (int, float))), None))
            if isinstance(pick, (int, float)):
                parts.append(f"{name} {pick:.4g}")
        elif isinstance(value, (int, float)) and (leaf in name or len(base) <= 2):
            parts.append(f"{name} {value:.4g}")
    return ", ".join(parts) or "-"


def rows(runs: list[Run], metric: str) -> tuple[list[str], list[list[str]]]:
    keys = sorted({k for r in runs for k in r.overrides})
    differ = [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]
    test_keys = list(dict.fromkeys(k for r in runs if r.metrics for k in (r.metrics.get("test") or {})))
    has_baseline = any(r.metrics and r.metrics.get("baselines") for r in runs)
    header = [
        "best",
        "run",
        *differ,
        metric,
        "best epoch",
        "epochs",
        *[f"test/{k}" for k in test_keys],
        *(["baseline"] if has_baseline else []),
        "wall time (s)",
        "status",
    ]
    body = []
    for r in runs:
        m = r.metrics or {}
        cv = m.get("cv")
        value = _fmt(r.value) + (f" ± {r.std:.4f}" if r.std is not None else "")
        best_epoch = cv["best_epoch"] if cv else (m.get("best") or {}).get("epoch")
        epochs = len(cv["curve"]) if cv else (m["history"][-1]["epoch"] if m.get("history") else None)
        if cv:
            epochs = f"{epochs} x {cv['folds']} folds" + (f" + {m['refit']['epochs']} refit" if m.get("refit") else "")
        test = [_fmt((m.get("test") or {}).get(k)) for k in test_keys]
        body.append(
            [
                "*" if r.best else "",
                r.name,
                *[_short(r.overrides.get(k, "-")) for k in differ],
                value,
                "-" if best_epoch is None else str(best_epoch),
                "-" if epochs is None else str(epochs),
                *test,
                *([_baseline(m, metric)] if has_baseline else []),
                _fmt(m.get("wall_time_s"), 1),
                r.status,
            ]
        )
    return header, body


def plot_curves(
    runs: list[Run], metric: str, header: list[str], body: list[list[str]], path: Path, skip_first: int = 0
) -> Path | None:
    """All runs' validation curves of `metric` on one set of axes (the books' comparisons)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [(r, row) for r, row in zip(runs, body, strict=False) if r.curve[skip_first:]]
    if not drawn:
        return None
    differ = header[2 : header.index(metric)]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for run, row in drawn:
        label = ", ".join(f"{k}={v}" for k, v in zip(differ, row[2 : 2 + len(differ)], strict=False)) or run.name
        points = run.curve[skip_first:]
        ax.plot(
            [e for e, _ in points],
            [v for _, v in points],
            "-",
            label=f"{run.name}: {label}"[:70],
            linewidth=2.2 if run.best else 1.2,
            marker="o" if len(points) < 25 else None,
            markersize=3,
        )
    curve_key = metric if not metric.startswith("test/") else (drawn[0][0].monitor or metric)
    ax.set_xlabel("epoch")
    ax.set_ylabel(curve_key)
    ax.set_title(
        f"{curve_key} by epoch ({len(drawn)} runs" + (f", first {skip_first} epochs skipped)" if skip_first else ")")
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(root: Path, metric: str | None, fmt: str, skip_first: int = 0) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if skip_first < 0:
        raise ConfigError(f"--skip-first must be >= 0, got {skip_first}")
    runs, metric, mode = collect(root, metric)
    header, body = rows(runs, metric)
    picture = plot_curves(runs, metric, header, body, root / CURVES_FILE, skip_first)
    failed = [r for r in runs if r.error]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        sys.stdout.write(out.getvalue())
        return
    if fmt == "markdown":
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(" --- " for _ in header) + "|")
        for row in body:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        print()
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(runs)} run(s) in {root}, sorted by {metric} ({mode})", header_style="bold")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i < 2 or name == "status" else "right")
        for row in body:
            table.add_row(*row)
        Console(width=max(160, Console().width)).print(table)
    if failed:
        print(f"failed jobs ({len(failed)}):")
        for r in failed:
            print(f"  {r.name}: {r.error}")
    if picture:
        print(f"validation curves: {picture}")
    print_pareto_front(root, fmt)


def print_pareto_front(root: Path, fmt: str) -> None:
    """A multi-objective Optuna study in the folder: its Pareto front as a table and a PNG."""
    from dlrun.sweep_study import pareto_front, study_file

    if study_file(root) is None:
        return
    try:
        found = pareto_front(root)
    except ImportError:  # optuna not installed: the runs' table is all there is
        return
    if found is None:
        return
    header, body, picture = found
    if fmt == "csv":
        return
    print(f"Pareto front ({len(body)} trials):")
    if fmt == "markdown":
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(" --- " for _ in header) + "|")
        for row in body:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(c) for c in col) for col in zip(header, *body, strict=False)]
        for row in [header, *body]:
            print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=False)))
    if picture:
        print(f"Pareto front picture: {picture}")
