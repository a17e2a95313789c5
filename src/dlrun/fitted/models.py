"""Fitted classical baselines: what the user would have tried instead of a network, on the same rows.

Fitted on the run's own preprocessed training rows (the tensors the network trains on), at most
`baselines.max_rows` of them (a subsample drawn with the run's seed), and scored on the split the dummy
baselines use (`dlrun.baselines`) with the task's metrics, in the data's original units:

- tables (one feature vector per row): `logistic` (LogisticRegression) or `linear` (LinearRegression), on the
  features with the embedded columns' level codes one-hot encoded; and `hist_gradient_boosting`
  (HistGradientBoostingClassifier/Regressor), with those codes as categorical features;
- text: `logistic` or `linear` on the bag of words (multi-hot rows as they are; token ids counted per word);
- time series: `linear_ar`, a linear autoregression (LinearRegression) on the flattened windows;
- images, per-step tagging and data read by a DataLoader: none.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from dlrun import metrics as M
from dlrun.datasets.base import DataBundle
from dlrun.fitted.config import BaselinesConfig
from dlrun.tasks.supervised import SupervisedTask

LOGISTIC = {"max_iter": 1000}  # LogisticRegression's settings (plus random_state=seed)
HIST_GRADIENT_BOOSTING = {"max_iter": 100, "max_leaf_nodes": 15, "early_stopping": True}  # + random_state=seed
MAX_CATEGORIES = 255  # HistGradientBoosting takes at most this many levels in a categorical feature


def input_kind(data: DataBundle) -> str | None:
    """table, text or series: which fitted baselines the data gets; None (images, tagging, DataLoader data)."""
    info, state = data.info, data.preprocessing or {}
    if data.train.x is None or data.transform is not None or info.per_step:
        return None
    if state.get("kind") == "timeseries":
        return "series"
    if "words" in state:
        return "text"
    return "table" if len(info.input_shape) == 1 and not info.vocab_size else None


def fitted_baselines(task, data: DataBundle, seed: int, settings: BaselinesConfig) -> tuple[dict, dict]:
    """({label: {metric: value}}, {label: {"fit_time_s": s, "train_rows": n}}) on the dummy baselines' split."""
    kind = input_kind(data)
    name = "test" if data.test is not None else "val"
    split = data.split(name)
    if not settings.fitted or kind is None or split is None or not isinstance(task, SupervisedTask):
        return {}, {}
    if not task.metric_names:
        return {}, {}
    classify = data.info.kind == "classification"
    x_train, y_train = _numpy(data.train.x), _numpy(data.train.y)
    rows = fit_rows(len(x_train), settings.max_rows, seed)
    x_train, y_train = x_train[rows], y_train[rows]
    x_eval, y_eval = _numpy(split.x), _numpy(split.y)
    truth = y_eval.astype(np.int64) if classify else task.in_data_units(y_eval, y_eval)[0]
    scores, fits = {}, {}
    with threadpool_limits(1, user_api="openmp"):  # beside torch's OpenMP threads, more only spin: 20x slower
        for label, model, encode in candidates(kind, data, classify, seed):
            started = time.perf_counter()
            model.fit(encode(x_train), y_train.astype(np.int64) if classify else _flat(y_train))
            fits[label] = {"fit_time_s": round(time.perf_counter() - started, 4), "train_rows": len(rows)}
            if classify:
                predicted = class_scores(model.predict_proba(encode(x_eval)), model.classes_, data.info.num_classes)
            else:
                values = np.asarray(model.predict(encode(x_eval)), np.float64).reshape(y_eval.shape)
                predicted = task.in_data_units(values, values)[1]
            scores[label] = M.compute(task.metric_names, truth, predicted, task.metric_ctx)
    return scores, fits


def fit_rows(n: int, max_rows: int | None, seed: int) -> np.ndarray:
    """The training rows the baselines fit on: all of them, or a sorted seeded subsample of `max_rows`."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def candidates(kind: str, data: DataBundle, classify: bool, seed: int) -> list:
    """(label, unfitted estimator, features(x) -> its input) for each baseline the data gets."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    linear = ("logistic", LogisticRegression(**LOGISTIC, random_state=seed))
    linear = linear if classify else ("linear", LinearRegression())
    if kind == "series":
        return [("linear_ar", LinearRegression(), lambda x: x.reshape(len(x), -1))]
    if kind == "text":
        vocab = data.info.vocab_size
        return [(*linear, (lambda x: bag_of_words(x, vocab)) if vocab else sparse_rows)]
    levels = [n for n, _ in data.info.embeddings]
    width = data.info.input_shape[0]
    mask = np.zeros(width, dtype=bool)
    mask[width - len(levels) :] = [n + 1 <= MAX_CATEGORIES for n in levels]  # codes 1..n, 0 = unknown level
    boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    trees = boosting(**HIST_GRADIENT_BOOSTING, random_state=seed, categorical_features=mask if mask.any() else None)
    return [(*linear, lambda x: one_hot_codes(x, levels)), ("hist_gradient_boosting", trees, lambda x: x)]


def one_hot_codes(x: np.ndarray, levels: list[int]) -> np.ndarray:
    """A table's rows with the last len(levels) columns (embedding level codes 0..n) one-hot encoded."""
    if not levels:
        return x
    dense = x[:, : x.shape[1] - len(levels)]
    codes = x[:, x.shape[1] - len(levels) :].astype(np.int64)
    blocks = [np.eye(n + 1, dtype=np.float32)[np.clip(codes[:, i], 0, n)] for i, n in enumerate(levels)]
    return np.concatenate([dense, *blocks], axis=1)


def bag_of_words(ids: np.ndarray, vocab_size: int):
    """Token ids (rows, steps) -> a sparse (rows, vocab_size) count matrix; padding (id 0) not counted."""
    from scipy.sparse import csr_matrix

    ids = ids.astype(np.int64)
    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    flat = ids.ravel()
    keep = flat > 0
    ones = np.ones(int(keep.sum()), dtype=np.float32)
    return csr_matrix((ones, (rows[keep], flat[keep])), shape=(len(ids), vocab_size))


def sparse_rows(x: np.ndarray):
    """Multi-hot rows as a sparse matrix: mostly zeros, so the solver runs several times faster."""
    from scipy.sparse import csr_matrix

    return csr_matrix(x)


def class_scores(proba: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """Probabilities as the metrics take them: (n,) of class 1 when binary, else (n, classes)."""
    full = np.zeros((len(proba), num_classes))
    full[:, classes.astype(np.int64)] = proba  # classes absent from the fitted rows get 0
    return full[:, 1] if num_classes == 2 else full


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _flat(y: np.ndarray) -> np.ndarray:
    return y.reshape(len(y)) if y.ndim == 2 and y.shape[1] == 1 else y


def settings_of(cfg) -> BaselinesConfig:
    """The run's `baselines` group (defaults when a config has none, as an old run's config may not)."""
    given = cfg.get("baselines") if hasattr(cfg, "get") else None
    return BaselinesConfig(**dict(given)) if given else BaselinesConfig()


def fit_line(fits: dict) -> str:
    """One summary line: what each fitted baseline cost."""
    rows = next(iter(fits.values()))["train_rows"]
    costs = ", ".join(f"{label} {fit['fit_time_s']:.2f} s" for label, fit in fits.items())
    return f"fitted baselines on {rows} training rows: {costs}"
