"""What the folds add up to: per-fold best values, their mean and std, the averaged per-epoch curve."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _curve_keys(history: list[dict]) -> list[str]:
    return [k for k in history[0] if k.startswith(("train/", "val/"))] if history else []


def best_row(metrics: dict, monitor: str) -> dict:
    """The history row of a run's best epoch (by its checkpoint monitor), or {} when it has none."""
    epoch = (metrics.get("best") or {}).get("epoch")
    return next((row for row in metrics["history"] if row["epoch"] == epoch), {})


def aggregate(folds: list[dict], monitor: str, mode: str) -> dict:
    """The `"cv"` entry of the parent's metrics.json from the folds' metrics.json contents.

    Per fold: the validation metrics at its best epoch. Mean and (population) std over folds, as
    scikit-learn's cross-validation reports them. The curve averages every train/ and val/ key per epoch
    over the epochs all folds reached; its best epoch is the refit's epoch count.
    """
    per_fold = []
    for k, metrics in enumerate(folds):
        row = best_row(metrics, monitor)
        per_fold.append(
            {
                "fold": k,
                "epoch": row.get("epoch"),
                **{key: value for key, value in row.items() if key.startswith("val/")},
            }
        )
    keys = [key for key in per_fold[0] if key.startswith("val/") and all(key in f for f in per_fold[1:])]
    if monitor not in keys:
        keys.append(monitor)
    values = {key: np.array([f.get(key, math.nan) for f in per_fold], dtype=np.float64) for key in keys}
    mean = {key: float(v.mean()) for key, v in values.items()}
    std = {key: float(v.std()) for key, v in values.items()}

    epochs = min(len(m["history"]) for m in folds)
    curve_keys = [k for k in _curve_keys(folds[0]["history"]) if all(k in m["history"][0] for m in folds[1:])]
    curve = [
        {"epoch": e + 1, **{k: float(np.mean([m["history"][e][k] for m in folds])) for k in curve_keys}}
        for e in range(epochs)
    ]
    best_epoch = None
    if curve and monitor in curve[0]:
        scores = np.array([row[monitor] for row in curve], dtype=np.float64)
        scores = np.where(np.isfinite(scores), scores, np.inf if mode == "min" else -np.inf)
        best_epoch = int(np.argmin(scores) if mode == "min" else np.argmax(scores)) + 1
    return {
        "folds": len(folds),
        "monitor": monitor,
        "mode": mode,
        "per_fold": per_fold,
        "mean": mean,
        "std": std,
        "curve": curve,
        "best_epoch": best_epoch,
        "best": {monitor: curve[best_epoch - 1][monitor]} if best_epoch else {},
    }


def plot_curve(cv: dict, path: Path, skip_first: int = 0) -> Path | None:
    """The averaged monitored curve (validation solid, training dashed) as a PNG, as the books draw it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monitor, curve = cv["monitor"], cv["curve"][skip_first:]
    if not curve or monitor not in curve[0]:
        return None
    epochs = [row["epoch"] for row in curve]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(epochs, [row[monitor] for row in curve], "-", label=f"{monitor} (mean of {cv['folds']} folds)")
    train_key = "train/" + monitor.split("/", 1)[-1]
    if train_key in curve[0]:
        ax.plot(epochs, [row[train_key] for row in curve], "--", label=f"{train_key} (mean)")
    if cv["best_epoch"] and cv["best_epoch"] > skip_first:
        ax.axvline(cv["best_epoch"], color="grey", linestyle=":", label=f"best epoch {cv['best_epoch']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(monitor)
    ax.set_title("K-fold averaged curve" + (f" (first {skip_first} epochs skipped)" if skip_first else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def log_tensorboard(cv: dict, test: dict, hparams: dict, log_dir: Path) -> None:
    """The averaged curve as `cv/<key>` scalars, and this run's HParams entry (mean, std, test)."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    writer = SummaryWriter(log_dir=str(log_dir))
    for row in cv["curve"]:
        for key, value in row.items():
            if key != "epoch" and math.isfinite(value):
                writer.add_scalar(f"cv/{key}", value, row["epoch"])
    metrics = {
        **{f"hparam/cv/mean/{k}": v for k, v in cv["mean"].items()},
        **{f"hparam/cv/std/{k}": v for k, v in cv["std"].items()},
        **{f"hparam/test/{k}": v for k, v in test.items()},
    }
    metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    for summary in hparams_summary(hparams, metrics)[1:]:  # no "experiment" summary: see loggers/tensorboard.py
        writer.file_writer.add_summary(summary)
    for key, value in metrics.items():
        writer.add_scalar(key, value)
    writer.close()
