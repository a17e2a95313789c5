"""Metrics by name (`task.metrics`): declared here without torch or scikit-learn, computed by
`dlrun.metrics.functions` over whole splits."""

from __future__ import annotations

from dlrun.errors import ConfigError
from dlrun.registry import Registry

METRICS = Registry("metric")

MAXIMIZED = (
    "accuracy",
    "f1",
    "f1_positive",
    "precision",
    "recall",
    "auc",
    "r2",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
)


def resolve_mode(mode: str, monitor: str, where: str) -> str:
    """`auto` -> max for accuracy-like metrics, min for losses and errors."""
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{where} must be auto, min or max, got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.rsplit("/", 1)[-1]
    return "max" if any(name.endswith(m) for m in MAXIMIZED) else "min"


METRICS.add_lazy("accuracy", "dlrun.metrics.functions:accuracy", "Fraction of correct predictions.")
METRICS.add_lazy(
    "top_k_accuracy",
    "dlrun.metrics.functions:top_k_accuracy",
    "Fraction of rows whose true class is among the k most probable (k = task.top_k).",
)
METRICS.add_lazy("precision", "dlrun.metrics.functions:precision", "Precision, macro-averaged over classes.")
METRICS.add_lazy("recall", "dlrun.metrics.functions:recall", "Recall, macro-averaged over classes.")
METRICS.add_lazy("f1", "dlrun.metrics.functions:f1", "F1 score, macro-averaged over classes.")
METRICS.add_lazy(
    "f1_positive",
    "dlrun.metrics.functions:f1_positive",
    "F1 score of class 1 alone (two classes: the second class name in sorted order, e.g. spam of ham/spam).",
)
METRICS.add_lazy(
    "auc",
    "dlrun.metrics.functions:auc",
    "ROC AUC (binary; one-vs-rest macro for multiclass). NaN when a split has one class only.",
)
METRICS.add_lazy("mae", "dlrun.metrics.functions:mae", "Mean absolute error.")
METRICS.add_lazy("mse", "dlrun.metrics.functions:mse", "Mean squared error.")
METRICS.add_lazy("rmse", "dlrun.metrics.functions:rmse", "Root mean squared error.")
METRICS.add_lazy("r2", "dlrun.metrics.functions:r2", "Coefficient of determination R^2.")
METRICS.add_lazy(
    "balanced_accuracy",
    "dlrun.metrics.functions:balanced_accuracy",
    "Mean of the per-class recalls (accuracy that every class counts equally in).",
)
METRICS.add_lazy("f1_macro", "dlrun.metrics.functions:f1_macro", "F1 score, unweighted mean over classes (= f1).")
METRICS.add_lazy(
    "f1_weighted", "dlrun.metrics.functions:f1_weighted", "F1 score, mean over classes weighted by their support."
)
