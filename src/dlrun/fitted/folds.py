"""K-fold: every fold scores its baselines (dummy and fitted) in its own metrics.json; the parent's `cv.baselines`
holds their mean and std over the folds beside the model's, on the same split. Plain numpy: no torch."""

from __future__ import annotations

import numpy as np


def fold_figures(metrics: dict) -> dict:
    """A fold's model metrics on its baselines' split (the last epoch's validation metrics for `val`)."""
    if (metrics.get("baselines") or {}).get("split") == "test":
        return dict(metrics.get("test") or {})
    last = metrics["history"][-1] if metrics.get("history") else {}
    return {k.removeprefix("val/"): v for k, v in last.items() if k.startswith("val/")}


def fold_baselines(folds: list[dict]) -> dict:
    """{"split", "model": {metric: mean}, "mean": {label: {metric: mean}}, "std": {...}}; {} when the
    folds have none. Only (label, metric) pairs every fold has are averaged; each fold's fit times are in its own
    metrics.json (`baseline_fits`), so that the aggregate is the same for the same seed."""
    found = [f.get("baselines") or {} for f in folds]
    if not found or not all(found):
        return {}
    labels = [k for k in found[0] if k != "split" and all(k in f for f in found[1:])]
    mean: dict = {}
    std: dict = {}
    for label in labels:
        metrics = [m for m in found[0][label] if all(m in f[label] for f in found[1:])]
        values = {m: np.array([f[label][m] for f in found], dtype=np.float64) for m in metrics}
        mean[label] = {m: float(v.mean()) for m, v in values.items()}
        std[label] = {m: float(v.std()) for m, v in values.items()}
    figures = [fold_figures(f) for f in folds]
    model = {m: float(np.mean([f[m] for f in figures])) for m in figures[0] if all(m in f for f in figures[1:])}
    return {"split": found[0]["split"], "model": model, "mean": mean, "std": std}
