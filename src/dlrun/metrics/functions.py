"""Metrics over a whole split (never averages of per-batch ratios), computed with scikit-learn.

A metric is `fn(y_true, y_score, ctx) -> float`: for classification `y_score` holds probabilities
((n,) for binary, (n, C) for multiclass), for regression the predictions.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

from dlrun.metrics.config import METRICS


def _labels(y_score: np.ndarray, ctx: dict) -> np.ndarray:
    """Class 1 from `ctx["threshold"]` (task.threshold, default 0.5) for one score per row, else the argmax."""
    threshold = ctx.get("threshold", 0.5)
    return (y_score >= threshold).astype(np.int64) if y_score.ndim == 1 else y_score.argmax(axis=1)


def accuracy(y, p, ctx) -> float:
    """Fraction of correct predictions."""
    return float(skm.accuracy_score(y, _labels(p, ctx)))


def top_k_accuracy(y, p, ctx) -> float:
    """Fraction of rows whose true class is among the k most probable (k = task.top_k)."""
    if p.ndim == 1:
        return accuracy(y, p, ctx)
    k = min(ctx.get("top_k", 5), p.shape[1])
    return float(skm.top_k_accuracy_score(y, p, k=k, labels=np.arange(p.shape[1])))


def _prf(y, p, ctx, which: int) -> float:
    labels = list(range(max(ctx.get("num_classes", 2), 2)))
    values = skm.precision_recall_fscore_support(y, _labels(p, ctx), labels=labels, average="macro", zero_division=0)
    return float(values[which])


def precision(y, p, ctx) -> float:
    """Precision, macro-averaged over classes."""
    return _prf(y, p, ctx, 0)


def recall(y, p, ctx) -> float:
    """Recall, macro-averaged over classes."""
    return _prf(y, p, ctx, 1)


def f1(y, p, ctx) -> float:
    """F1 score, macro-averaged over classes."""
    return _prf(y, p, ctx, 2)


def f1_positive(y, p, ctx) -> float:
    """F1 score of class 1 alone (two classes: the second class name in sorted order, e.g. spam of ham/spam)."""
    return float(skm.f1_score(y, _labels(p, ctx), pos_label=1, average="binary", zero_division=0))


def auc(y, p, ctx) -> float:
    """ROC AUC (binary; one-vs-rest macro for multiclass). NaN when a split has one class only."""
    if len(np.unique(y)) < 2:
        return math.nan
    if p.ndim == 1:
        return float(skm.roc_auc_score(y, p))
    return float(skm.roc_auc_score(y, p, multi_class="ovr", labels=np.arange(p.shape[1])))


def mae(y, p, ctx) -> float:
    """Mean absolute error."""
    return float(skm.mean_absolute_error(y, p))


def mse(y, p, ctx) -> float:
    """Mean squared error."""
    return float(skm.mean_squared_error(y, p))


def rmse(y, p, ctx) -> float:
    """Root mean squared error."""
    return math.sqrt(skm.mean_squared_error(y, p))


def r2(y, p, ctx) -> float:
    """Coefficient of determination R^2."""
    return float(skm.r2_score(y, p))


def balanced_accuracy(y, p, ctx) -> float:
    """Mean of the per-class recalls (accuracy that every class counts equally in)."""
    return float(skm.balanced_accuracy_score(y, _labels(p, ctx)))


def f1_macro(y, p, ctx) -> float:
    """F1 score, unweighted mean over classes (= f1)."""
    return _prf(y, p, ctx, 2)


def f1_weighted(y, p, ctx) -> float:
    """F1 score, mean over classes weighted by their support."""
    labels = list(range(max(ctx.get("num_classes", 2), 2)))
    return float(skm.f1_score(y, _labels(p, ctx), labels=labels, average="weighted", zero_division=0))


def compute(names: list[str], y_true: np.ndarray, y_score: np.ndarray, ctx: dict) -> dict[str, float]:
    return {name: METRICS.get(name)(y_true, y_score, ctx) for name in names}
