"""K-fold cross-validation, sweeps with failing jobs, the Optuna search and `dlrun report`."""

import csv
import io
import json
import sqlite3
import textwrap

import numpy as np
import pytest

from conftest import train_in_process, without_times
from dlrun.config import compose
from dlrun.cv import CVConfig, KFoldSplitter
from dlrun.datasets import build_data
from dlrun.datasets.sklearn_sets import iris
from dlrun.datasets.splits import split_off_test
from dlrun.errors import ConfigError
from dlrun.validate import validate

KFOLD = ["dataset=iris", "cv.folds=4", "trainer.max_epochs=3", "trainer.batch_size=16"]


def _split(overrides):
    cfg = compose(overrides)
    return cfg, CVConfig.from_dict(dict(cfg.cv))


def test_folds_partition_the_non_test_rows_stratified_and_preprocess_on_their_training_rows():
    cfg, cv = _split(KFOLD)
    raw = iris()
    rest, test = split_off_test(len(raw.y), raw.y, dict(cfg.dataset.split), True, False)
    folds = KFoldSplitter(cv).splits(rest, raw.y, True)
    assert len(folds) == 4 and len(rest) == 120 and len(test) == 30
    vals = [set(va) for _, va in folds]
    assert [len(v) for v in vals] == [30] * 4
    assert set().union(*vals) == set(rest) and sum(map(len, vals)) == 120  # disjoint, complete
    for train, val in folds:
        assert len(train) == 90 and not set(train) & set(val) and not set(train) & set(test)
        assert np.bincount(raw.y[val]).tolist() == [10, 10, 10]  # stratified
    train0, _ = folds[0]
    bundle = build_data(cfg, rows=KFoldSplitter(cv).fold(0))
    assert (len(bundle.train), len(bundle.val), bundle.test) == (90, 30, None)
    assert np.allclose(bundle.preprocessing["mean"], raw.x[train0].mean(axis=0))


def test_unshuffled_folds_are_contiguous_and_repeats_multiply_the_folds():
    cfg, cv = _split(["dataset=diabetes", "cv.folds=4", "cv.shuffle=false", "dataset.split.test=0"])
    folds = KFoldSplitter(cv).splits(np.arange(442), np.zeros(442), False)
    assert [(va[0], va[-1]) for _, va in folds] == [(0, 110), (111, 221), (222, 331), (332, 441)]
    _, cv = _split(["dataset=diabetes", "cv.folds=3", "cv.repeats=2"])
    folds = KFoldSplitter(cv).splits(np.arange(442), np.zeros(442), False)
    assert len(folds) == 6 and not np.array_equal(folds[0][1], folds[3][1])


def test_kfold_run_writes_one_run_per_fold_the_aggregate_and_a_refit_on_all_training_rows(tmp_path):
    best, parent = train_in_process([*KFOLD, "cv.refit=true"], tmp_path / "run")
    run = tmp_path / "run"
    folds = [json.loads((run / f"fold_{k}" / "metrics.json").read_text()) for k in range(4)]
    for k in range(4):
        assert (run / f"fold_{k}" / "checkpoints" / "best.pt").is_file()
        assert folds[k]["test"] == {}  # the test split never takes part in a fold
        assert folds[k]["history"][0]["train_samples"] == 90
    cv = parent["cv"]
    fold_best = [f["best"]["val/loss"] for f in folds]
    assert [f["val/loss"] for f in cv["per_fold"]] == fold_best
    assert cv["mean"]["val/loss"] == pytest.approx(np.mean(fold_best), abs=1e-12)
    assert cv["std"]["val/loss"] == pytest.approx(np.std(fold_best), abs=1e-12)
    assert best == cv["mean"]["val/loss"] == parent["best"]["val/loss"]
    for e, row in enumerate(cv["curve"]):
        assert row["val/accuracy"] == pytest.approx(np.mean([f["history"][e]["val/accuracy"] for f in folds]))
    curve = [row["val/loss"] for row in cv["curve"]]
    assert cv["best_epoch"] == int(np.argmin(curve)) + 1
    refit = json.loads((run / "refit" / "metrics.json").read_text())
    assert parent["refit"] == {"epochs": cv["best_epoch"], "dir": "refit", "train_rows": 120}
    assert [r["train_samples"] for r in refit["history"]] == [120] * cv["best_epoch"]
    assert "val/loss" not in refit["history"][0]
    assert parent["test"] == refit["test"] and set(parent["test"]) == {"loss", "accuracy", "f1"}
    assert (run / "cv_curve.png").stat().st_size > 1000


@pytest.mark.slow
def test_parallel_folds_give_the_same_results_as_sequential_folds(tmp_path):
    _, sequential = train_in_process(KFOLD, tmp_path / "seq")
    _, parallel = train_in_process([*KFOLD, "cv.parallel=2"], tmp_path / "par")
    for k in range(4):
        one, two = (json.loads((tmp_path / d / f"fold_{k}" / "metrics.json").read_text()) for d in ("seq", "par"))
        assert without_times(one) == without_times(two)
    assert sequential["cv"] == parallel["cv"]
    assert "epoch   3" in (tmp_path / "par" / "fold_2" / "train.log").read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["cv.folds=0"], "cv.folds must be >= 1, got 0"),
        (["cv.parallel=two"], "cv.parallel must be an integer, got 'two' (str)"),
        (["cv.refit=true"], "cv.refit needs cv.folds >= 2, got cv.folds=1"),
        (
            ["cv.folds=3", "cv.repeats=2", "cv.shuffle=false"],
            "cv.repeats > 1 needs cv.shuffle=true (unshuffled repeats would be identical)",
        ),
        (["cv.folds=3", "cv.fold=3"], "cv.fold must be in [0, 2] for 3 folds x 1 repeats, got 3"),
        (["cv.flods=3"], "unknown config key 'cv.flods'. Did you mean 'cv.folds'?"),
    ],
)
def test_bad_cv_values_fail_before_training(args, message):
    with pytest.raises(ConfigError) as err:
        validate(compose(args))
    assert str(err.value) == message


def test_bad_cv_value_on_the_command_line_is_one_line_and_exit_2(cli, tmp_path):
    result = cli("train", "cv.folds=4", "cv.refit=true", "scheduler=reduce_on_plateau")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dlrun: error: cv.refit trains without a validation split, so "
        "scheduler.monitor=val/loss has nothing to watch; use a train/ key or another "
        "scheduler"
    )
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").glob("**/metrics.json"))


def _csv(text):
    return list(csv.reader(io.StringIO(text)))


def test_grid_sweep_makes_four_runs_and_a_four_row_report(cli, tmp_path):
    result = cli(
        "train",
        "-m",
        "dataset=iris",
        "trainer.max_epochs=2",
        "optimizer.lr=0.001,0.01",
        "model.hidden=[8],[8,8]",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    assert "sweep: 4 of 4 jobs succeeded in sweep; compare them with: dlrun report sweep" in result.stdout
    report = cli("report", "sweep", "--format", "csv")
    assert report.returncode == 0, report.stderr
    header, *rows = _csv(report.stdout)
    assert header[:5] == ["best", "run", "model.hidden", "optimizer.lr", "val/loss"]
    assert len(rows) == 4 and {r[1] for r in rows} == {"0", "1", "2", "3"}
    losses = [float(r[4]) for r in rows]
    assert losses == sorted(losses) and [r[0] for r in rows] == ["*", "", "", ""]
    recorded = {r[1]: json.loads((tmp_path / "sweep" / r[1] / "metrics.json").read_text()) for r in rows}
    for r in rows:
        assert float(r[4]) == pytest.approx(recorded[r[1]]["best"]["val/loss"], abs=1e-4)
        assert float(r[header.index("test/accuracy")]) == pytest.approx(recorded[r[1]]["test"]["accuracy"], abs=1e-4)
    assert (tmp_path / "sweep" / "val_curves.png").stat().st_size > 1000
    by_acc = _csv(cli("report", "sweep", "--format", "csv", "--metric", "val/accuracy").stdout)
    accs = [float(r[4]) for r in by_acc[1:]]
    assert by_acc[0][4] == "val/accuracy" and accs == sorted(accs, reverse=True)
    markdown = cli("report", "sweep", "--format", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| best | run | model.hidden | optimizer.lr | val/loss |") and len(markdown) >= 6
    bad = cli("report", "sweep", "--metric", "val/acc")
    assert bad.returncode == 2 and bad.stderr.startswith(
        "dlrun: error: metric 'val/acc' is in none of the runs; known:"
    )


BOOM = textwrap.dedent("""
    import torch
    from dlrun.callbacks import CALLBACKS, Callback


    @CALLBACKS.register("boom")
    class Boom(Callback):
        def on_epoch_start(self, trainer, epoch):
            raise RuntimeError("boom at epoch %d" % epoch)


    @CALLBACKS.register("poison")
    class Poison(Callback):
        def on_epoch_start(self, trainer, epoch):
            with torch.no_grad():
                for p in trainer.task.models.parameters():
                    p.fill_(float("nan"))
""")


def test_failing_jobs_do_not_stop_the_sweep_and_are_listed(cli, tmp_path):
    (tmp_path / "boom.py").write_text(BOOM)
    result = cli(
        "train",
        "-m",
        "dataset=iris",
        "trainer.max_epochs=2",
        "plugins=[boom]",
        "optimizer.lr=0.01,-1",
        "callbacks=[],[boom],[poison]",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    assert "sweep: 1 of 6 jobs succeeded in sweep" in result.stdout
    failed = result.stderr[result.stderr.index("failed jobs (5):") :].strip().splitlines()
    assert failed == [
        "failed jobs (5):",
        "  job 1 (dataset=iris trainer.max_epochs=2 plugins=[boom] optimizer.lr=0.01 callbacks=[boom]): "
        "RuntimeError: boom at epoch 1",
        "  job 2 (dataset=iris trainer.max_epochs=2 plugins=[boom] optimizer.lr=0.01 callbacks=[poison]): "
        "loss is not finite at epoch 1, step 1",
        *[
            f"  job {j} (dataset=iris trainer.max_epochs=2 plugins=[boom] optimizer.lr=-1 callbacks={c}): "
            "optimizer.lr must be > 0, got -1"
            for j, c in ((3, "[]"), (4, "[boom]"), (5, "[poison]"))
        ],
    ]
    assert json.loads((tmp_path / "sweep" / "2" / "failed.json").read_text())["exit_code"] == 3
    assert (tmp_path / "sweep" / "0" / "metrics.json").is_file()
    header, *rows = _csv(cli("report", "sweep", "--format", "csv").stdout)
    assert len(rows) == 6 and rows[0][:2] == ["*", "0"] and rows[0][-1] == "ok"
    assert rows[1][-1] == "failed: RuntimeError: boom at epoch 1"
    table = cli("report", "sweep")
    assert table.returncode == 0 and "failed jobs (5):\n  1: RuntimeError: boom at epoch 1\n" in table.stdout

    all_bad = cli("train", "-m", "dataset=iris", "optimizer.lr=-1,-2", "hydra.sweep.dir=bad")
    assert all_bad.returncode == 2
    assert "sweep: 0 of 2 jobs succeeded in bad" in all_bad.stdout
    assert "  job 1 (dataset=iris optimizer.lr=-2): optimizer.lr must be > 0, got -2" in all_bad.stderr


def test_optuna_search_stores_its_study_in_the_sweep_dir_and_a_second_run_continues_it(cli, tmp_path):
    args = [
        "train",
        "-m",
        "hparams_search=optuna",
        "dataset=iris",
        "trainer.max_epochs=2",
        "trainer.checkpoint.monitor=val/accuracy",
        "hydra.sweep.dir=search",
    ]
    first = cli(*args, "hydra.sweeper.n_trials=2")
    assert first.returncode == 0, first.stderr
    db = tmp_path / "search" / "optuna.db"

    def trials():
        with sqlite3.connect(db) as con:
            (direction,) = con.execute("select direction from study_directions").fetchone()
            return direction, con.execute("select number, state from trials order by number").fetchall()

    assert trials() == ("MAXIMIZE", [(0, "COMPLETE"), (1, "COMPLETE")])
    second = cli(*args, "hydra.sweeper.n_trials=3")
    assert second.returncode == 0, second.stderr
    assert trials()[1] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    assert sorted(p.name for p in (tmp_path / "search").glob("[0-9]*")) == ["0", "1", "2"]
    params = [
        json.dumps(
            sorted(
                line
                for line in (tmp_path / "search" / j / ".hydra" / "overrides.yaml").read_text().splitlines()
                if "optimizer.lr" in line
            )
        )
        for j in "012"
    ]
    assert len(set(params)) == 3  # the resumed search did not propose the first trials again
    again = cli(*args, "hydra.sweeper.n_trials=3")
    assert again.returncode == 0 and len(trials()[1]) == 3  # complete: nothing more to run


def test_boston_file_is_read_and_a_missing_file_is_one_line():
    from dlrun.datasets.housing import BOSTON_FILE, boston_housing
    from dlrun.errors import DataError

    raw = boston_housing(BOSTON_FILE, "medv")  # the copy shipped inside the package
    assert raw.x.shape == (506, 13) and raw.y[:2].tolist() == [24.0, 21.6] and "medv" not in raw.feature_names
    with pytest.raises(DataError, match=r"^Boston housing file not found: nowhere.csv \(set dataset.path\)$"):
        boston_housing("nowhere.csv", "medv")


@pytest.mark.slow
def test_california_recipe_without_the_data_fails_fast_and_with_it_cuts_480_rows_into_contiguous_folds(cli, tmp_path):
    import joblib

    missing = cli("train", "+experiment=california_housing_kfold", f"dataset.data_home={tmp_path}")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"dlrun: error: California housing is not in scikit-learn's data home ({tmp_path}): "
        "run once with dataset.download=true where the internet is reachable, or point "
        "dataset.data_home at a copy"
    )
    rng = np.random.RandomState(
        0
    )  # scikit-learn's cached layout: value, income, age, rooms, bedrooms, pop, households, lat, lon
    households = rng.uniform(100, 1000, 700)
    cached = np.column_stack(
        [
            rng.uniform(1e5, 5e5, 700),
            rng.uniform(1, 10, 700),
            rng.uniform(1, 50, 700),
            households * 5,
            households * 1.1,
            households * 3,
            households,
            rng.uniform(32, 42, 700),
            rng.uniform(-124, -114, 700),
        ]
    )
    joblib.dump(cached, tmp_path / "cal_housing_py3.pkz")  # where scikit-learn caches its download
    from dlrun.datasets.housing import california_housing

    raw = california_housing(n_rows=600, features="raw", data_home=str(tmp_path), download=False)
    assert raw.x.shape == (600, 8) and np.allclose(raw.x[:, [0, 1, 3, 6]], cached[:600][:, [8, 7, 3, 6]])
    assert np.allclose(raw.y, cached[:600, 0] / 1e5)
    run = cli(
        "train",
        "+experiment=california_housing_kfold",
        f"dataset.data_home={tmp_path}",
        "trainer.max_epochs=2",
        "logger=none",
        "hydra.run.dir=cal",
    )
    assert run.returncode == 0, run.stderr
    parent = json.loads((tmp_path / "cal" / "metrics.json").read_text())
    assert parent["refit"]["train_rows"] == 480 and set(parent["test"]) >= {"mae", "mse"}
    for k in range(4):
        assert (
            json.loads((tmp_path / "cal" / f"fold_{k}" / "metrics.json").read_text())["history"][0]["train_samples"]
            == 360
        )
    cfg = compose(["+experiment=california_housing_kfold", f"dataset.data_home={tmp_path}"])
    rest, _ = split_off_test(600, np.zeros(600), dict(cfg.dataset.split), False, False)
    vals = [va for _, va in KFoldSplitter(CVConfig.from_dict(dict(cfg.cv))).splits(rest, np.zeros(600), False)]
    assert [v.tolist() for v in vals] == [rest[i * 120 : (i + 1) * 120].tolist() for i in range(4)]  # unshuffled
