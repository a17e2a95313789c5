"""What a model must beat: scikit-learn's dummy predictors, fitted on the training targets.

Classification: the majority class and stratified random guessing; regression: the training mean
(and the median, the best constant for MAE). A data set may add naive forecasts of its own
(`DataBundle.naive_forecasts`: a time series' last value and seasonal last value). They are scored on
the test split (the validation split when a run has none) with the task's own metrics, in the data's
original units.
"""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor

from dlrun import metrics as M
from dlrun.datasets.base import DataBundle
from dlrun.tasks.supervised import SupervisedTask

CLASSIFICATION = {"majority": "most_frequent", "stratified": "stratified"}
REGRESSION = {"mean": "mean", "median": "median"}
MEDIAN_METRICS = ("mae",)  # the median is the best constant for absolute error only


def baselines(task, data: DataBundle, seed: int) -> dict:
    """{"split": "test", "majority": {"accuracy": ...}, ...}; {} when there is nothing to score on."""
    name = "test" if data.test is not None else "val"
    split = data.test if data.test is not None else data.val
    if split is None or not isinstance(task, SupervisedTask) or not task.metric_names:
        return {}
    y_train, y_eval = _targets(task, data.train), _targets(task, split)
    result: dict = {"split": name}
    if data.info.kind == "classification":
        for label, strategy in CLASSIFICATION.items():
            dummy = DummyClassifier(strategy=strategy, random_state=seed).fit(np.zeros((len(y_train), 1)), y_train)
            scores = _class_scores(dummy, len(y_eval), data.info.num_classes)
            result[label] = M.compute(task.metric_names, y_eval, scores, task.metric_ctx)
    else:
        for label, strategy in REGRESSION.items():
            dummy = DummyRegressor(strategy=strategy).fit(np.zeros((len(y_train), 1)), y_train)
            names = task.metric_names if label == "mean" else [m for m in task.metric_names if m in MEDIAN_METRICS]
            if names:
                predicted = dummy.predict(np.zeros((len(y_eval), 1))).reshape(y_eval.shape)
                result[label] = M.compute(names, y_eval, predicted, task.metric_ctx)
        for label, predicted in data.naive_forecasts.get(name, {}).items():
            result[label] = M.compute(task.metric_names, y_eval, predicted.reshape(y_eval.shape), task.metric_ctx)
    return result


def _targets(task, split) -> np.ndarray:
    y = task.targets_of(split.y).detach().cpu().numpy()
    if task.info.kind == "classification":
        return y.astype(np.int64)
    return task.in_data_units(y, y)[0]


def _class_scores(dummy: DummyClassifier, n: int, num_classes: int) -> np.ndarray:
    """Probabilities in the shape the metrics expect: (n,) of class 1 when binary, else (n, classes)."""
    proba = dummy.predict_proba(np.zeros((n, 1)))
    full = np.zeros((n, num_classes))
    full[:, dummy.classes_.astype(np.int64)] = proba  # classes absent from the training rows get 0
    return full[:, 1] if num_classes == 2 else full


def not_beaten(model: dict, found: dict) -> list[tuple[str, str, float, float]]:
    """(baseline, metric, model value, baseline value) wherever the model is not strictly better."""
    misses = []
    for label, values in found.items():
        if label == "split":
            continue
        for metric, base in values.items():
            mine = model.get(metric)
            if mine is None or base is None or np.isnan(mine) or np.isnan(base):
                continue
            better = mine > base if M.resolve_mode("auto", metric, metric) == "max" else mine < base
            if not better:
                misses.append((label, metric, mine, base))
    return misses
