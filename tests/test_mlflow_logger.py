"""logger=mlflow: each run read back with MLflow's own client from a SQLite store under tmp_path; several loggers
at once; K-fold folds and sweep jobs as child runs; failed and resumed runs; the one-line error without MLflow."""

import json

import pytest

from conftest import assert_one_line_error
from dlrun.config import compose
from dlrun.errors import Preempted
from dlrun.loggers.config import MLFLOW_MISSING

IRIS = ["dataset=iris", "trainer.max_epochs=3", "trainer.batch_size=16"]


def client(store):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store)


def runs(store, experiment="default"):
    c = client(store)
    found = c.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} in {store}"
    return c.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def artifacts(store, run_id, folder=None):
    return sorted(a.path for a in client(store).list_artifacts(run_id, folder))


def history(store, run_id, key):
    return [(m.step, m.value) for m in client(store).get_metric_history(run_id, key)]


@pytest.mark.slow
def test_mlflow_beside_tensorboard_logs_params_epochs_test_metrics_and_artifacts(cli, tmp_path):
    pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path}/tracking/mlflow.db"
    result = cli(
        "train", *IRIS, "logger=[tensorboard,mlflow]", f"logger.mlflow.tracking_uri={store}", "hydra.run.dir=run"
    )
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))  # TensorBoard too

    (run,) = runs(store)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "run"
    assert run.data.tags["dlrun.run_dir"] == str(run_dir.resolve())
    assert "dlrun.version" in run.data.tags and "mlflow.parentRunId" not in run.data.tags
    params = run.data.params
    assert (params["dataset.name"], params["trainer.max_epochs"], params["seed"]) == ("iris", "3", "42")
    assert params["logger.mlflow.log_checkpoint"] == "True"
    val_loss = history(store, run.info.run_id, "val/loss")
    assert val_loss == [(row["epoch"], row["val/loss"]) for row in metrics["history"]]
    assert len(val_loss) == 3
    assert [v for _, v in history(store, run.info.run_id, "lr")] == [row["lr"] for row in metrics["history"]]
    for key, value in metrics["test"].items():
        assert run.data.metrics[f"test/{key}"] == pytest.approx(value)
    assert run.data.metrics["best/val/loss"] == pytest.approx(metrics["best"]["val/loss"])
    assert run.data.metrics["best/epoch"] == metrics["best"]["epoch"]
    listed = artifacts(store, run.info.run_id)
    assert {"metrics.json", "history.csv", "config.yaml", "plots", "checkpoints"} <= set(listed)
    assert "plots/learning_curves.png" in artifacts(store, run.info.run_id, "plots")
    assert artifacts(store, run.info.run_id, "checkpoints") == ["checkpoints/best.pt"]
    assert (tmp_path / "tracking" / "mlartifacts").is_dir()  # a SQLite store's artifacts sit beside it


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [1, 2])  # folds in this process, or in two spawned processes
def test_kfold_folds_are_child_runs_of_the_kfold_run(tmp_path, monkeypatch, parallel):
    pytest.importorskip("mlflow")
    from dlrun.train import train

    store = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    run_dir = tmp_path / "kfold"
    overrides = [*IRIS, "trainer.max_epochs=2", "cv.folds=2", f"cv.parallel={parallel}", "logger=mlflow", "name=cv"]
    train(compose(overrides), run_dir, progress=False)
    found = runs(store, "cv")
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    (parent,) = parents
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.tags["dlrun.run_dir"] for c in children) == [str(run_dir / f"fold_{k}") for k in (0, 1)]
    assert sorted(c.data.params["cv.fold"] for c in children) == ["0", "1"]
    assert all(r.info.status == "FINISHED" for r in found)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert parent.data.metrics["cv/mean/val/loss"] == pytest.approx(metrics["cv"]["mean"]["val/loss"])
    assert len(history(store, parent.info.run_id, "cv/val/loss")) == 2  # the averaged curve, one point per epoch
    assert {"metrics.json", "config.yaml", "plots"} <= set(artifacts(store, parent.info.run_id))


@pytest.mark.slow
def test_sweep_jobs_are_child_runs_of_one_parent_run(cli, tmp_path):
    pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    result = cli(
        "train",
        "-m",
        *IRIS,
        "trainer.max_epochs=2",
        "optimizer.lr=0.001,0.01",
        "logger=mlflow",
        "hydra.sweep.dir=sweep",
        env={"MLFLOW_TRACKING_URI": store},
    )
    assert result.returncode == 0, result.stderr
    found = runs(store)
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(found) == 3
    (parent,) = parents
    assert parent.data.tags["dlrun.sweep_dir"] == str((tmp_path / "sweep").resolve())
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["dlrun.jobs"] == "2 of 2 succeeded"
    children = [r for r in found if r is not parent]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.params["optimizer.lr"] for c in children) == ["0.001", "0.01"]
    assert sorted(c.data.tags["dlrun.run_dir"] for c in children) == [str(tmp_path / "sweep" / k) for k in "01"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("error", "status", "tag"),
    [
        (RuntimeError("disk gone"), "FAILED", "RuntimeError: disk gone"),
        (KeyboardInterrupt(), "KILLED", "KeyboardInterrupt"),
        (Preempted("stopped by SIGTERM"), "KILLED", "Preempted: stopped by SIGTERM"),  # resumes into the same run
    ],
)
def test_a_run_that_raises_ends_its_mlflow_run_failed_or_killed(tmp_path, monkeypatch, error, status, tag):
    pytest.importorskip("mlflow")
    from dlrun.callbacks.csv_logger import CSVLogger
    from dlrun.loggers.mlflow_logger import OPEN_RUNS
    from dlrun.train import train

    def broken(self, trainer, epoch, logs):
        if epoch == 2:
            raise error

    monkeypatch.setattr(CSVLogger, "on_epoch_end", broken)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose([*IRIS, "logger=mlflow", f"logger.mlflow.tracking_uri={store}"])
    with pytest.raises(type(error)):
        train(cfg, tmp_path / "run", progress=False)
    (run,) = runs(store)
    assert run.info.status == status
    assert run.data.tags["dlrun.error"] == tag
    assert len(history(store, run.info.run_id, "val/loss")) == 2
    assert not OPEN_RUNS


@pytest.mark.slow
def test_a_resumed_run_continues_its_mlflow_run(tmp_path):
    pytest.importorskip("mlflow")
    from dlrun.train import train

    store = f"sqlite:///{tmp_path}/mlflow.db"
    common = [*IRIS, "logger=mlflow", f"logger.mlflow.tracking_uri={store}", "logger.mlflow.log_checkpoint=false"]
    train(compose([*common, "trainer.max_epochs=2"]), tmp_path / "run", progress=False)
    train(compose([*common, "trainer.max_epochs=3", "trainer.resume=auto"]), tmp_path / "run", progress=False)
    (run,) = runs(store)
    assert run.info.status == "FINISHED"
    assert [step for step, _ in history(store, run.info.run_id, "val/loss")] == [1, 2, 3]
    assert "checkpoints" not in artifacts(store, run.info.run_id)
    # from another run's checkpoint (trainer.resume=PATH): a new MLflow run, not the first one continued
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    train(compose([*common, "trainer.max_epochs=4", f"trainer.resume={last}"]), tmp_path / "other", progress=False)
    first, second = runs(store)
    assert first.info.run_id == run.info.run_id and second.info.run_name.endswith("other")
    assert [step for step, _ in history(store, second.info.run_id, "val/loss")] == [4]


def test_logger_mlflow_without_mlflow_installed_is_one_line_with_the_install_command(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("dlrun.loggers.config.find_spec", lambda name: None)
    result = cli("train", "logger=[tensorboard,mlflow]")
    line = assert_one_line_error(result, MLFLOW_MISSING, tmp_path)
    assert line == "dlrun: error: logger=mlflow needs MLflow, which is not installed: pip install 'dlrun[mlflow]'"


def test_loggers_compose_one_several_or_none():
    from dlrun.validate import validate

    assert validate(compose([]), files=False).logger.names == ["tensorboard"]
    assert validate(compose(["logger=none"]), files=False).logger.names == []
    both = validate(compose(["logger=[tensorboard,mlflow]", "logger.mlflow.experiment=exp"]), files=False).logger
    assert both.names == ["tensorboard", "mlflow"] and both.mlflow.experiment == "exp"


def test_dlrun_show_prints_both_loggers_keys_under_their_names(cli):
    result = cli("show", "logger=[tensorboard,mlflow]", "logger.mlflow.log_checkpoint=false")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    block = text[text.index("\nlogger:") :].split("\nplots:")[0]
    assert "  tensorboard:\n    histogram_every_n_epochs: 0\n    log_graph: false\n" in block
    assert "  mlflow:\n    tracking_uri: null\n    experiment: null\n    log_checkpoint: false\n" in block


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "logger.mlflow.experiment=x",
            "unknown config key 'logger.mlflow.experiment'. logger=mlflow is not chosen: add it with logger=mlflow "
            "or logger=[tensorboard,mlflow]",
        ),
        (
            "logger.log_graph=true",
            "unknown config key 'logger.log_graph'. Did you mean 'logger.tensorboard.log_graph'?",
        ),
    ],
)
def test_a_key_of_a_logger_not_chosen_or_not_under_its_logger_says_so(cli, tmp_path, override, message):
    line = assert_one_line_error(cli("train", override), message, tmp_path)
    assert line == f"dlrun: error: {message}"


@pytest.mark.slow  # MLflow's import and a new SQLite store take seconds
def test_params_are_logged_in_batches_and_cut_at_mlflows_length_limit(tmp_path):
    pytest.importorskip("mlflow")
    from dlrun.loggers.mlflow_logger import MAX_PARAM_LENGTH, TrackedRun

    store = f"sqlite:///{tmp_path}/mlflow.db"
    run = TrackedRun(store, "limits", "run", {"dlrun.run_dir": str(tmp_path)})
    params = {f"key.{i}": i for i in range(250)}  # more than MLflow's 100 params per call
    params["model.long"] = "x" * (MAX_PARAM_LENGTH + 1000)
    params["odd:key"] = 1
    run.log_params(params)
    run.end()
    logged = client(store).get_run(run.run_id).data.params
    assert len(logged) == 252
    assert logged["key.249"] == "249" and logged["odd_key"] == "1"
    assert logged["model.long"] == "x" * MAX_PARAM_LENGTH
