"""Per-class precision, recall, F1 and support of a split (scikit-learn's classification_report, as a dict)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def predicted_labels(y_score: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class labels from probabilities: (n,) of class 1 against `threshold`, else the most probable class."""
    return (y_score >= threshold).astype(np.int64) if y_score.ndim == 1 else y_score.argmax(axis=1)


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """{class name: {precision, recall, f1-score, support}, accuracy, macro avg, weighted avg}."""
    labels = list(range(len(class_names)))
    return skm.classification_report(
        np.asarray(y_true).astype(np.int64),
        y_pred,
        labels=labels,
        target_names=[str(c) for c in class_names],
        output_dict=True,
        zero_division=0,
    )
