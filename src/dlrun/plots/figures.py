"""The figures, drawn as the books draw them. Each function returns a matplotlib Figure."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

TRAIN_STYLE = {"linestyle": "--", "color": "tab:blue", "label": "training"}
VAL_STYLE = {"linestyle": "-", "color": "tab:orange", "label": "validation"}


def learning_curves(history: list[dict], keys: list[str], skip_first: int = 0) -> Figure:
    """One panel per metric: training dashed, validation solid, per epoch (first `skip_first` epochs left out)."""
    rows = history[min(skip_first, max(len(history) - 1, 0)) :]
    keys = [k for k in keys if any(f"train/{k}" in r or f"val/{k}" in r for r in rows)] or ["loss"]
    cols = min(3, len(keys))
    fig = Figure(figsize=(4.2 * cols, 3.2 * math.ceil(len(keys) / cols)), layout="constrained")
    for i, key in enumerate(keys):
        ax = fig.add_subplot(math.ceil(len(keys) / cols), cols, i + 1)
        for split, style in (("train", TRAIN_STYLE), ("val", VAL_STYLE)):
            points = [(r["epoch"], r[f"{split}/{key}"]) for r in rows if f"{split}/{key}" in r]
            if points:
                epochs, values = zip(*points, strict=False)
                ax.plot(epochs, values, marker="." if len(points) < 30 else None, **style)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if skip_first:
        fig.suptitle(f"learning curves (from epoch {rows[0]['epoch'] if rows else '-'})")
    return fig


def confusion_matrix(y_true: np.ndarray, scores: np.ndarray, class_names: list[str], split: str) -> Figure:
    from sklearn.metrics import confusion_matrix as counts_of

    n = len(class_names)
    predicted = (scores >= 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
    counts = counts_of(y_true, predicted, labels=list(range(n)))
    size = min(2.5 + 0.45 * n, 14)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(n), class_names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix ({split} split, {int(counts.trace())}/{int(counts.sum())} correct)")
    if n <= 20:
        top = counts.max() if counts.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    color="white" if counts[i, j] > top / 2 else "black",
                )
    return fig


def predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, split: str) -> Figure:
    y_true, y_pred = np.ravel(y_true[:, 0] if y_true.ndim > 1 else y_true), _first(y_pred)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(y_true, y_pred, s=14, alpha=0.7)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="predicted = true")
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    ax.set_title(f"predicted vs true ({split} split)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def residuals(y_true: np.ndarray, y_pred: np.ndarray, split: str) -> Figure:
    y_true, y_pred = np.ravel(y_true[:, 0] if y_true.ndim > 1 else y_true), _first(y_pred)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(y_pred, y_true - y_pred, s=14, alpha=0.7)
    ax.axhline(0.0, color="black", linewidth=1)
    ax.set_xlabel("predicted value")
    ax.set_ylabel("residual (true - predicted)")
    ax.set_title(f"residuals ({split} split)")
    ax.grid(alpha=0.3)
    return fig


def _first(values: np.ndarray) -> np.ndarray:
    return np.ravel(values[:, 0] if values.ndim > 1 else values)
