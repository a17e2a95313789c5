"""dlrun.rundir (the files of a run directory) and dlrun.saved_run (a task rebuilt from a checkpoint)."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import train_in_process
from dlrun.errors import CheckpointError, ConfigError
from dlrun.rundir import RunDir, atomic_open, write_json
from dlrun.rundir.checkpoints import final_choice, open_checkpoint, resolve_checkpoint, save_checkpoint


def test_a_write_that_raises_midway_leaves_the_old_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json(path, {"v": 2, "bad": object()})  # json.dump has written '{"v": 2, ' when it fails
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_open_replaces_only_on_a_clean_exit(tmp_path):
    path = tmp_path / "history.csv"
    with atomic_open(path) as f:
        f.write("old\n")
        assert path.exists() is False  # nothing at the target until the file is complete
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(path) as f:
            f.write("new, half")
            raise KeyboardInterrupt
    assert path.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(path, "a"):
            pass


def test_run_dir_files_round_trip(tmp_path):
    run = RunDir(tmp_path / "run")
    assert not run.is_run() and run.read_metrics() is None and run.read_history() == []
    run.path.mkdir()
    run.write_history([{"epoch": 1, "train/loss": 0.5}, {"epoch": 2, "train/loss": 0.25, "val/loss": 0.3}])
    assert run.history.read_text().splitlines()[0] == "epoch,train/loss,val/loss"
    assert run.read_history() == [
        {"epoch": 1.0, "train/loss": 0.5},
        {"epoch": 2.0, "train/loss": 0.25, "val/loss": 0.3},
    ]
    run.write_metrics({"best": {"epoch": 2}, "nan": float("nan")})
    assert run.is_run() and run.read_metrics()["best"] == {"epoch": 2}
    failed = RunDir(tmp_path / "sweep" / "3")
    failed.write_failure({"job": "3", "error": "boom"})
    assert failed.read_failure() == {"job": "3", "error": "boom"} and failed.is_run()
    assert run.fold(2).path == run.path / "fold_2" and run.refit.path == run.path / "refit"
    assert run.checkpoint("best") == run.path / "checkpoints" / "best.pt"


def _trainer(patience, restore_best=True, stop_monitor="val/loss", monitor="val/loss"):
    return {
        "early_stopping": {"patience": patience, "restore_best": restore_best, "monitor": stop_monitor},
        "checkpoint": {"monitor": monitor},
    }


@pytest.mark.parametrize(
    "trainer,final",
    [
        (_trainer(None), "last"),  # no early stopping: the last epoch's weights
        (_trainer(3), "best"),  # early stopping restored the best weights
        (_trainer(3, restore_best=False), "last"),
        (_trainer(3, stop_monitor="val/accuracy"), "last"),  # best.pt follows another metric
    ],
)
def test_final_checkpoint_choice(trainer, final):
    assert final_choice(trainer) == final


def test_checkpoint_resolution_and_its_errors(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(CheckpointError, match=r"no checkpoint in run directory .* \(expected checkpoints/best.pt\)"):
        resolve_checkpoint(tmp_path, prefer="best")
    state = {"task": {}, "config": {"trainer": _trainer(2)}, "trainer": {"epoch": 1}}
    save_checkpoint(state, run.checkpoint("last"))
    assert resolve_checkpoint(tmp_path, prefer="best") == run.checkpoint("last")  # falls back to last.pt
    save_checkpoint(state, run.checkpoint("best"))
    assert open_checkpoint(tmp_path, "final")[0] == run.checkpoint("best")
    assert open_checkpoint(run.checkpoint("last"), "final")[0] == run.checkpoint("last")  # a file is itself
    with pytest.raises(
        ConfigError, match=r"--checkpoint must be final, best or last \(or a checkpoint file\), got 'first'"
    ):
        open_checkpoint(tmp_path, "first")
    torch.save({"task": {}, "config": {}, "code": object()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match="unsafe to load"):  # weights_only=True refuses pickled objects
        open_checkpoint(tmp_path / "unsafe.pt", "last")


def test_importing_the_run_directory_layer_does_not_import_torch():
    code = (
        "import sys, dlrun.rundir; assert 'torch' not in sys.modules; dlrun.rundir.load_checkpoint; "
        "assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_rebuilt_run_predicts_as_the_run_measured(tmp_path):
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.evaluate import evaluate_run
    from dlrun.saved_run import load_run, open_run

    run = tmp_path / "run"
    overrides = ["dataset=iris", "trainer.max_epochs=2", "plots.enabled=false", "device.threads=1"]
    _, metrics = train_in_process(overrides, run)
    loaded = load_run(run)
    assert loaded.checkpoint == run / "checkpoints" / "last.pt" and loaded.epoch == 2
    assert loaded.task_name == "classification" and loaded.info.class_names == ["setosa", "versicolor", "virginica"]
    data = build_data(compose(["logger=none", *overrides]), preprocessing=loaded.preprocessing)
    assert loaded.task.evaluate(data.batches("test", 512)) == pytest.approx(metrics["test"])
    rebuilt = open_run(run, "final", [], command="eval").load(data.info)  # eval's path: DataInfo of the rebuilt data
    assert (rebuilt.task.predictions(data.test.x) == loaded.task.predictions(data.test.x)).all()
    measured = evaluate_run(run, [], "test")
    assert {k: measured[k] for k in metrics["test"]} == pytest.approx(metrics["test"])
    with pytest.raises(ConfigError, match="bad override for eval: "):
        open_run(run, "final", ["model.no_such_key=1"], command="eval")


def test_atomic_writes_get_the_mode_open_would_give(tmp_path):
    """mkstemp makes 0600 files; a run's files (metrics, exports) must be as readable as open() makes them."""
    import os

    from dlrun.rundir import write_text

    write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == os.stat(tmp_path / "b.txt").st_mode & 0o777
