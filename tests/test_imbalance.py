"""Class imbalance: class weights in the loss, balanced sampling, per-class report, imbalance-aware metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification

from conftest import assert_one_line_error, train_in_process


def imbalanced_csv(path, n=1200, seed=0):
    """A 95/5 table the model can learn only partly: the minority class is easy to drown."""
    x, y = make_classification(
        n_samples=n, n_features=6, n_informative=3, weights=[0.95, 0.05], flip_y=0, class_sep=0.6, random_state=seed
    )
    lines = [",".join([*(f"f{i}" for i in range(x.shape[1])), "label"])]
    lines += [",".join([*(f"{v:.5f}" for v in row), "rare" if t else "common"]) for row, t in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


BASE = ["dataset=csv", "dataset.target=label", "trainer.max_epochs=6", "trainer.batch_size=64", "model.hidden=[16]"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return imbalanced_csv(tmp_path_factory.mktemp("imb") / "imbalanced.csv")


def minority_recall(metrics):
    return metrics["test_per_class"]["rare"]["recall"]


def test_balanced_class_weights_raise_minority_recall(tmp_path, table):
    common = [*BASE, f"dataset.path={table}"]
    _, plain = train_in_process(common, tmp_path / "plain")
    _, weighted = train_in_process([*common, "task.class_weights=balanced"], tmp_path / "weighted")
    assert minority_recall(weighted) > minority_recall(plain) + 0.2
    support = weighted["test_per_class"]["rare"]["support"]
    assert 0 < support < 0.1 * weighted["test_per_class"]["common"]["support"]


def test_per_class_table_is_sklearns_classification_report(tmp_path):
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.tasks import build_task

    cfg = compose(["logger=none", "dataset=iris", "task.metrics=[balanced_accuracy,f1_macro,f1_weighted]"])
    data = build_data(cfg)
    task = build_task(cfg, data.info)
    out, y = task.predict(data.batches("test", 64))
    report = task.per_class((out, y))
    labels = task.scores(out).argmax(dim=1).numpy()
    expected = skm.classification_report(
        y.numpy(), labels, target_names=data.info.class_names, output_dict=True, zero_division=0
    )
    assert report == expected
    found = task.evaluate(data.batches("test", 64))
    assert found["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y.numpy(), labels))
    assert found["f1_weighted"] == pytest.approx(skm.f1_score(y.numpy(), labels, average="weighted"))
    assert found["f1_macro"] == pytest.approx(skm.f1_score(y.numpy(), labels, average="macro"))


def test_balanced_sampler_draws_classes_evenly_and_reproducibly(table):
    from dlrun.config import compose
    from dlrun.datasets import build_data

    cfg = compose(["logger=none", *BASE, f"dataset.path={table}", "dataset.sampler=balanced"])
    data = build_data(cfg)
    assert data.info.class_counts[1] < 0.1 * sum(data.info.class_counts)

    def epoch(bundle, seed, number=0):
        batches = bundle.batches("train", 64, train=True, seed=seed)
        batches.set_epoch(number)
        return np.concatenate([y.numpy() for _, y in batches])

    first = epoch(data, 1)
    assert len(first) == len(data.train)
    assert 0.4 < first.mean() < 0.6  # the 5% class makes about half of every epoch
    assert np.array_equal(first, epoch(data, 1))
    assert not np.array_equal(first, epoch(data, 2)) and not np.array_equal(first, epoch(data, 1, number=1))
    loader = replace(data, loader="dataloader")  # torch's WeightedRandomSampler behind a DataLoader: the same rows
    assert np.array_equal(first, epoch(loader, 1))
    plain = build_data(compose(["logger=none", *BASE, f"dataset.path={table}"]))
    assert epoch(plain, 1).mean() < 0.1


@pytest.mark.parametrize(
    "override, message",
    [
        ("task.class_weights=[1,2,3]", "task.class_weights has 3 weights but the data has 2 classes (common, rare)"),
        ("task.class_weights={rar: 5}", "task.class_weights names unknown class 'rar'; the classes are common, rare"),
        ("task.class_weights=[1,-2]", "task.class_weights must be positive, got -2"),
        ("task.class_weights=heavy", "task.class_weights must be"),
        ("task.pos_weight=0", "task.pos_weight must be > 0, got 0"),
        ("dataset.sampler=even", "dataset.sampler must be one of 'shuffle', 'balanced'"),
    ],
)
def test_bad_class_weights_are_one_line_exit_2(tmp_path, cli, table, override, message):
    result = cli("train", *BASE, f"dataset.path={table}", override)
    assert_one_line_error(result, message, tmp_path)


def test_class_weights_on_a_regression_task_is_one_line(tmp_path, cli):
    result = cli("train", "dataset=diabetes", "task.class_weights=balanced")
    assert_one_line_error(result, "task.class_weights is for classification; this is a regression task", tmp_path)
    result = cli("train", "dataset=diabetes", "dataset.sampler=balanced")
    assert_one_line_error(result, "dataset.sampler=balanced draws class labels equally often", tmp_path)


def test_label_smoothing_reaches_the_loss():
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.tasks import build_task

    for dataset, kind in (("iris", "CrossEntropyLoss"), ("breast_cancer", "SmoothedBCE")):
        cfg = compose(["logger=none", f"dataset={dataset}", "task.label_smoothing=0.2"])
        task = build_task(cfg, build_data(cfg).info)
        assert type(task.loss_fn).__name__ == kind and task.loss_fn.label_smoothing == 0.2


def test_balanced_weights_are_computed_from_the_training_split(table):
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.tasks import build_task

    for override in ("task.pos_weight=balanced", "task.class_weights=balanced"):  # one logit: the same pos_weight
        cfg = compose(["logger=none", *BASE, f"dataset.path={table}", override])
        data = build_data(cfg)
        negatives, positives = (int((data.train.y == c).sum()) for c in (0, 1))
        assert float(build_task(cfg, data.info).loss_fn.pos_weight) == pytest.approx(negatives / positives)
    cfg = compose(["logger=none", "dataset=wine", "task.class_weights=balanced"])
    data = build_data(cfg)
    counts = np.bincount(data.train.y.numpy())
    weights = build_task(cfg, data.info).loss_fn.weight.numpy()
    assert np.allclose(weights, len(data.train) / (3 * counts))
    cfg = compose(["logger=none", "dataset=wine", "task.class_weights={class_2: 4}"])
    assert build_task(cfg, build_data(cfg).info).loss_fn.weight.tolist() == [1, 1, 4]


def test_auto_threshold_raises_validation_f1_and_eval_and_predict_use_it(tmp_path, table, cli):
    import csv

    run = tmp_path / "run"
    _, metrics = train_in_process([*BASE, f"dataset.path={table}", "task.threshold=auto"], run)
    chosen = metrics["threshold"]
    assert chosen["split"] == "val" and chosen["metric"] == "f1"
    assert chosen["chosen"] > chosen["at_0.5"] and chosen["value"] != 0.5
    evaluated = cli("eval", str(run), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    import json

    assert json.loads(evaluated.stdout.strip().splitlines()[-1])["f1"] == pytest.approx(metrics["test"]["f1"])
    out = tmp_path / "predicted.csv"
    assert cli("predict", str(run), str(table), "-o", str(out)).returncode == 0
    rows = list(csv.DictReader(out.open()))
    assert all((float(r["probability_rare"]) >= chosen["value"]) == (r["predicted_label"] == "rare") for r in rows)
    # the exported model decides with the same threshold (signature.json carries the run's DataInfo)
    pytest.importorskip("onnxruntime")
    assert cli("export", str(run), "--format", "onnx").returncode == 0
    onnx_out = tmp_path / "predicted_onnx.csv"
    assert cli("predict", str(run), str(table), "--backend", "onnx", "-o", str(onnx_out)).returncode == 0
    onnx_rows = list(csv.DictReader(onnx_out.open()))
    between = [r for r in rows if min(0.5, chosen["value"]) <= float(r["probability_rare"]) < max(0.5, chosen["value"])]
    assert between, "no row where the threshold changes the decision: the check below could not fail"
    assert [r["predicted_label"] for r in onnx_rows] == [r["predicted_label"] for r in rows]


def test_best_threshold_maximizes_the_metric():
    from dlrun.tasks.threshold import best_threshold, metric_for

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)
    p = np.clip(0.25 + 0.15 * y + 0.05 * rng.standard_normal(400), 0, 1)  # (nearly) every score below 0.5
    threshold, value = best_threshold(y, p, "f1", {"num_classes": 2})
    assert threshold < 0.5
    assert value == pytest.approx(skm.f1_score(y, p >= threshold, average="macro"))
    assert value > skm.f1_score(y, p >= 0.5, average="macro") + 0.2
    assert metric_for("val/loss") == "f1" and metric_for("val/balanced_accuracy") == "balanced_accuracy"


def test_threshold_on_a_multiclass_task_is_one_line(tmp_path, cli):
    result = cli("train", "dataset=iris", "task.threshold=auto")
    assert_one_line_error(result, "task.threshold is for two classes; this classification task has 3", tmp_path)
    result = cli("train", "dataset=moons", "task.threshold=1.5")
    assert_one_line_error(result, "task.threshold must be auto or in (0, 1), got 1.5", tmp_path)
