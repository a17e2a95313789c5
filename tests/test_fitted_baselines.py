"""Fitted classical baselines: the numbers equal scikit-learn fitted by hand on the run's own arrays, the
config turns them off and bounds their rows, series get a linear autoregression, K-fold averages them."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from conftest import train_in_process
from dlrun.config import compose
from dlrun.datasets import build_data
from dlrun.fitted.models import HIST_GRADIENT_BOOSTING, LOGISTIC, fit_rows

FAST = ["trainer.max_epochs=2", "plots.enabled=false", "model.hidden=[8]"]


def _table(tmp_path, n=160, regression=False):
    """A table with a numeric and an embedded categorical column (12 levels > onehot_max_levels)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    city = rng.integers(0, 12, size=n)
    signal = a + (city % 3) - 1
    noise = rng.normal(scale=0.3, size=n)
    target = signal * 10 + 50 + noise if regression else np.where(signal + noise > 0, "yes", "no")
    frame = pd.DataFrame({"a": a, "city": [f"c{c}" for c in city], "target": target})
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return ["dataset=csv", f"dataset.path={path}", "dataset.target=target"]


def _arrays(overrides):
    cfg = compose(overrides)
    data = build_data(cfg)
    numpy = lambda t: t.numpy()  # noqa: E731
    return cfg, data, numpy(data.train.x), numpy(data.train.y), numpy(data.test.x), numpy(data.test.y)


def _one_hot_last(x, levels):
    """What a linear model sees: the embedded column's codes (0 = unknown, 1..levels) one-hot encoded."""
    return np.concatenate([x[:, :-1], np.eye(levels + 1)[x[:, -1].astype(int)]], axis=1)


def test_classification_baselines_equal_sklearn_fitted_by_hand(tmp_path):
    overrides = _table(tmp_path)
    _, metrics = train_in_process([*overrides, *FAST], tmp_path / "run")
    cfg, data, x, y, xt, yt = _arrays(overrides)
    levels = data.info.embeddings[0][0]
    assert levels == 12 and data.info.binary
    logistic = LogisticRegression(**LOGISTIC, random_state=cfg.seed).fit(_one_hot_last(x, levels), y.astype(int))
    p = logistic.predict_proba(_one_hot_last(xt, levels))[:, 1]
    found = metrics["baselines"]
    assert found["split"] == "test"
    assert found["logistic"]["accuracy"] == pytest.approx(skm.accuracy_score(yt, p > 0.5))
    assert found["logistic"]["auc"] == pytest.approx(skm.roc_auc_score(yt, p))
    mask = np.zeros(x.shape[1], bool)
    mask[-1] = True
    trees = HistGradientBoostingClassifier(**HIST_GRADIENT_BOOSTING, random_state=cfg.seed, categorical_features=mask)
    p = trees.fit(x, y.astype(int)).predict_proba(xt)[:, 1]
    assert found["hist_gradient_boosting"]["auc"] == pytest.approx(skm.roc_auc_score(yt, p))
    assert found["logistic"]["accuracy"] > found["majority"]["accuracy"]  # it learns: a real comparison
    assert metrics["baseline_fits"]["logistic"]["train_rows"] == len(x)
    assert metrics["baseline_fits"]["hist_gradient_boosting"]["fit_time_s"] >= 0


def test_regression_baselines_are_in_target_units(tmp_path):
    overrides = [*_table(tmp_path, regression=True), "dataset.target_scale=standard"]
    _, metrics = train_in_process([*overrides, *FAST], tmp_path / "run")
    cfg, data, x, y, xt, yt = _arrays(overrides)
    shift, scale = data.info.target_shift, data.info.target_scale
    assert scale != 1.0  # the network's targets are standardized; the metrics are in the data's units
    levels = data.info.embeddings[0][0]
    linear = LinearRegression().fit(_one_hot_last(x, levels), y.ravel())
    predicted = linear.predict(_one_hot_last(xt, levels)) * scale + shift
    truth = yt.ravel() * scale + shift
    found = metrics["baselines"]
    assert found["linear"]["mae"] == pytest.approx(skm.mean_absolute_error(truth, predicted), rel=1e-5)
    assert found["linear"]["mae"] < 0.5 < 5 < found["mean"]["mae"]  # the target is linear in the features
    mask = np.zeros(x.shape[1], bool)
    mask[-1] = True
    trees = HistGradientBoostingRegressor(**HIST_GRADIENT_BOOSTING, random_state=cfg.seed, categorical_features=mask)
    predicted = trees.fit(x, y.ravel()).predict(xt) * scale + shift
    assert found["hist_gradient_boosting"]["r2"] == pytest.approx(skm.r2_score(truth, predicted), rel=1e-5)


def test_series_gets_a_linear_autoregression(tmp_path):
    steps = 120
    t = np.arange(steps)
    path = tmp_path / "series.csv"
    noise = np.random.default_rng(0).normal(scale=0.05, size=steps)
    pd.DataFrame({"v": np.sin(t / 5.0) * 3 + 10 + noise}).to_csv(path, index=False)
    overrides = ["dataset=timeseries_csv", f"dataset.path={path}", "dataset.value=v", "dataset.window=6"]
    overrides += ["task=regression", "model=mlp", "dataset.split.test=0.25"]
    _, metrics = train_in_process([*overrides, *FAST], tmp_path / "run")
    found = metrics["baselines"]
    assert set(found) >= {"linear_ar", "last_value", "mean"} and "hist_gradient_boosting" not in found
    _, data, x, y, xt, yt = _arrays(overrides)
    ar = LinearRegression().fit(x.reshape(len(x), -1), y)
    scale, shift = data.info.target_scale, data.info.target_shift
    expected = skm.mean_absolute_error(yt * scale + shift, ar.predict(xt.reshape(len(xt), -1)) * scale + shift)
    assert found["linear_ar"]["mae"] == pytest.approx(expected, rel=1e-5)
    assert found["linear_ar"]["mae"] < found["last_value"]["mae"]  # a sine is linear-predictable


def test_fitted_false_leaves_only_the_dummies_and_max_rows_bounds_the_fit(tmp_path):
    overrides = [*_table(tmp_path), *FAST]
    _, off = train_in_process([*overrides, "baselines.fitted=false"], tmp_path / "off")
    assert set(off["baselines"]) == {"split", "majority", "stratified"} and "baseline_fits" not in off
    _, bounded = train_in_process([*overrides, "baselines.max_rows=40"], tmp_path / "bounded")
    assert {fit["train_rows"] for fit in bounded["baseline_fits"].values()} == {40}
    cfg, data, x, y, xt, yt = _arrays(_table(tmp_path))
    rows = fit_rows(len(x), 40, cfg.seed)  # the seeded subsample the baselines fit on
    levels = data.info.embeddings[0][0]
    logistic = LogisticRegression(**LOGISTIC, random_state=cfg.seed)
    p = logistic.fit(_one_hot_last(x[rows], levels), y[rows].astype(int)).predict_proba(_one_hot_last(xt, levels))
    assert bounded["baselines"]["logistic"]["auc"] == pytest.approx(skm.roc_auc_score(yt, p[:, 1]))


def test_kfold_scores_them_per_fold_and_in_the_aggregate(tmp_path):
    _, metrics = train_in_process(["dataset=iris", "cv.folds=2", *FAST], tmp_path / "cv")
    folds = [json.loads((tmp_path / "cv" / f"fold_{k}" / "metrics.json").read_text()) for k in range(2)]
    assert all({"logistic", "hist_gradient_boosting"} <= set(f["baselines"]) for f in folds)
    summary = metrics["cv"]["baselines"]
    assert summary["split"] == folds[0]["baselines"]["split"]
    mean = np.mean([f["baselines"]["logistic"]["accuracy"] for f in folds])
    assert summary["mean"]["logistic"]["accuracy"] == pytest.approx(mean)
    assert summary["std"]["logistic"]["accuracy"] >= 0 and "accuracy" in summary["model"]


def test_diagnose_below_baseline_flags_a_network_that_loses_to_logistic(tmp_path):
    from dlrun.diagnose import baseline_rules
    from dlrun.diagnose.run_record import read_run

    overrides = [*_table(tmp_path), "trainer.max_epochs=1", "optimizer.lr=1e-6", "plots.enabled=false"]
    _, metrics = train_in_process(overrides, tmp_path / "run")
    assert metrics["test"]["auc"] < metrics["baselines"]["logistic"]["auc"]
    findings = baseline_rules.below_baseline(read_run(tmp_path / "run"))
    assert findings and "logistic" in {m["baseline"] for m in findings[0].evidence["not_beaten"]}


def test_text_ids_get_logistic_on_their_bag_of_words(tmp_path):
    from scipy.sparse import csr_matrix

    from dlrun.fitted.models import fitted_baselines, settings_of
    from dlrun.tasks import build_task

    rng = np.random.default_rng(0)
    words = ["good", "great", "fine", "bad", "awful", "poor", "the", "a", "movie", "plot"]
    lines = []
    for i in range(120):
        label = i % 2
        mood = words[:3] if label else words[3:6]
        text = " ".join(rng.choice([*mood, *words[6:]], size=8))
        lines.append(f"{'pos' if label else 'neg'}\t{text}")
    path = tmp_path / "texts.tsv"
    path.write_text("\n".join(lines) + "\n")
    cfg = compose(["dataset=text_csv", f"dataset.path={path}", "dataset.encoding=sequence", "model=lstm"])
    data = build_data(cfg)
    assert data.info.vocab_size > 0
    found, fits = fitted_baselines(build_task(cfg, data.info), data, cfg.seed, settings_of(cfg))
    assert set(found) == {"logistic"} and fits["logistic"]["train_rows"] == len(data.train)
    x, y, xt, yt = (t.numpy() for t in (data.train.x, data.train.y, data.test.x, data.test.y))

    def counts(ids):  # word id -> how often it occurs in the text; padding (0) not counted
        return csr_matrix(np.stack([np.bincount(row[row > 0], minlength=data.info.vocab_size) for row in ids]))

    logistic = LogisticRegression(**LOGISTIC, random_state=cfg.seed).fit(counts(x), y)
    p = logistic.predict_proba(counts(xt))[:, 1]
    assert found["logistic"]["accuracy"] == pytest.approx(skm.accuracy_score(yt, p > 0.5)) and p.size > 0
    assert found["logistic"]["accuracy"] >= 0.8  # the mood words give the label away
