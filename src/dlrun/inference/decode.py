"""Predictions as named values: `predicted_<target>` and, for classes, `probability_<class>` (the columns of
`dlrun predict`'s table). Numbers are the float32 values of the model, in their shortest exact form."""

from __future__ import annotations

import numpy as np


def shortest(values) -> list[float]:
    """float32 values as the Python floats of their shortest exact text ("0.1", not 0.10000000149011612)."""
    return [float(str(v)) for v in np.asarray(values, np.float32).reshape(-1)]


def prediction_columns(values: np.ndarray, info, target: str) -> dict[str, list]:
    """Column name -> one value per row: the predicted class (name) and each class's probability, or the
    predicted value(s) in data units (`predicted_<target>`, or `predicted_<target>+k` for k = 1..horizon)."""
    values = np.asarray(values)
    if info.kind == "classification":
        proba = np.stack([1.0 - values, values], axis=1) if values.ndim == 1 else values
        threshold = getattr(info, "threshold", 0.5)  # task.threshold, as the run's metrics read them
        decided = (values >= threshold).astype(int) if values.ndim == 1 else values.argmax(axis=1)
        out: dict[str, list] = {f"predicted_{target}": [info.class_names[i] for i in decided]}
        for i, name in enumerate(info.class_names):
            out[f"probability_{name}"] = shortest(proba[:, i])
        return out
    values = values.reshape(len(values), -1)
    if values.shape[1] == 1:
        return {f"predicted_{target}": shortest(values[:, 0])}
    return {f"predicted_{target}+{k + 1}": shortest(values[:, k]) for k in range(values.shape[1])}


def per_step_predictions(values: np.ndarray, info, target: str, lengths: list[int]) -> list[dict]:
    """Tagging: per record, the predicted class of each word and each class's probability per word."""
    rows = []
    for probs, n in zip(values, lengths, strict=True):
        probs = np.asarray(probs)[:n]
        row: dict[str, list] = {f"predicted_{target}": [info.class_names[i] for i in probs.argmax(axis=-1)]}
        for c, name in enumerate(info.class_names):
            row[f"probability_{name}"] = shortest(probs[:, c])
        rows.append(row)
    return rows


def rows_of(columns: dict[str, list]) -> list[dict]:
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    return [{name: columns[name][i] for name in names} for i in range(count)]
