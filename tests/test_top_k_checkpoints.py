"""trainer.checkpoint.save_top_k and every_n_epochs: file names with the monitor's value, the k best kept (the rest
deleted), a listing in metrics.json, the state carried through a resume, and `dlrun eval --checkpoint FILE`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import train_in_process
from dlrun.callbacks.checkpoint import ModelCheckpoint
from dlrun.rundir import RunDir

VALUES = [0.5, 0.4, 0.6, 0.3, 0.45, 0.35, 0.35]  # the monitor goes down, up, down... (epoch 7 ties epoch 6)


class FakeTrainer:
    """What ModelCheckpoint uses of the trainer: run_dir, log_keys and checkpoint_state()."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.log_keys, self.epoch = run_dir, ["val/loss"], 0

    def checkpoint_state(self):
        return {"task": {"epoch": torch.tensor(self.epoch)}, "config": {}}


def run_epochs(callback: ModelCheckpoint, trainer: FakeTrainer, epochs, mode_values=VALUES) -> None:
    callback.on_fit_start(trainer)
    for epoch in epochs:
        trainer.epoch = epoch
        callback.on_epoch_end(trainer, epoch, {"val/loss": mode_values[epoch - 1]})


def names(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


def test_top_k_keeps_the_k_best_epochs_and_deletes_the_rest(tmp_path):
    callback = ModelCheckpoint("val/loss", "auto", save_top_k=2, every_n_epochs=3)
    run_epochs(callback, FakeTrainer(tmp_path), range(1, 8))
    assert names(tmp_path) == [
        "best.pt",
        "epoch=003.pt",
        "epoch=004-val_loss=0.3000.pt",
        "epoch=006-val_loss=0.3500.pt",
        "epoch=006.pt",
        "last.pt",
    ]
    assert callback.listing() == [
        {"path": "checkpoints/epoch=004-val_loss=0.3000.pt", "epoch": 4, "val/loss": 0.3, "rank": 1},
        {"path": "checkpoints/epoch=006-val_loss=0.3500.pt", "epoch": 6, "val/loss": 0.35, "rank": 2},
        {"path": "checkpoints/epoch=003.pt", "epoch": 3, "val/loss": 0.6, "rank": None},
        {"path": "checkpoints/epoch=006.pt", "epoch": 6, "val/loss": 0.35, "rank": None},
    ]
    from dlrun.rundir.checkpoints import load_checkpoint

    assert int(load_checkpoint(tmp_path / "checkpoints" / "epoch=004-val_loss=0.3000.pt")["task"]["epoch"]) == 4


def test_top_k_all_none_and_max_mode(tmp_path):
    keep_all = ModelCheckpoint("val/loss", "auto", save_top_k=-1)
    run_epochs(keep_all, FakeTrainer(tmp_path / "all"), range(1, 5))
    assert [e["epoch"] for e in keep_all.listing()] == [4, 2, 1, 3]
    assert len(RunDir(tmp_path / "all").epoch_checkpoints()) == 4
    none = ModelCheckpoint("val/loss", "auto", save_top_k=0)
    run_epochs(none, FakeTrainer(tmp_path / "none"), range(1, 5))
    assert names(tmp_path / "none") == ["best.pt", "last.pt"] and none.listing() == []
    highest = ModelCheckpoint("val/loss", "max", save_top_k=1)
    run_epochs(highest, FakeTrainer(tmp_path / "max"), range(1, 8))
    assert names(tmp_path / "max") == ["best.pt", "epoch=003-val_loss=0.6000.pt", "last.pt"]


def test_top_k_state_survives_a_resume_without_forgetting_or_duplicating(tmp_path):
    straight = ModelCheckpoint("val/loss", "auto", save_top_k=2, every_n_epochs=2)
    run_epochs(straight, FakeTrainer(tmp_path / "a"), range(1, 8))
    first = ModelCheckpoint("val/loss", "auto", save_top_k=2, every_n_epochs=2)
    run_epochs(first, FakeTrainer(tmp_path / "b"), range(1, 4))
    state = first.state_dict()
    # a run killed after writing epoch 4's file (and last.pt) but before deleting the file epoch 4 pushed out
    stale = tmp_path / "b" / "checkpoints" / "epoch=009-val_loss=0.9000.pt"
    stale.write_bytes(b"")
    resumed = ModelCheckpoint("val/loss", "auto", save_top_k=2, every_n_epochs=2)
    resumed.load_state_dict(state)
    run_epochs(resumed, FakeTrainer(tmp_path / "b"), range(4, 8))
    assert names(tmp_path / "b") == names(tmp_path / "a")
    assert resumed.listing() == straight.listing()
    assert not stale.exists()


def test_a_run_lists_its_kept_checkpoints_and_eval_reads_one(tmp_path, cli):
    _, metrics = train_in_process(
        [
            "dataset=iris",
            "trainer.max_epochs=5",
            "trainer.checkpoint.save_top_k=2",
            "trainer.checkpoint.every_n_epochs=4",
            "plots.enabled=false",
        ],
        tmp_path / "run",
    )
    listing = metrics["checkpoints"]
    assert [e["rank"] for e in listing] == [1, 2, None]
    best, second, periodic = listing
    assert best["epoch"] == metrics["best"]["epoch"] and best["val/loss"] == metrics["best"]["val/loss"]
    assert best["path"] == f"checkpoints/epoch={best['epoch']:03d}-val_loss={best['val/loss']:.4f}.pt"
    assert periodic["path"] == "checkpoints/epoch=004.pt"
    losses = sorted(row["val/loss"] for row in metrics["history"])
    assert [best["val/loss"], second["val/loss"]] == losses[:2]
    kept = sorted(p.relative_to(tmp_path / "run").as_posix() for p in RunDir(tmp_path / "run").epoch_checkpoints())
    assert kept == sorted(e["path"] for e in listing)
    result = cli("eval", str(tmp_path / "run"), "--split", "val", "--checkpoint", second["path"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epoch"] == second["epoch"]
    assert json.loads(result.stdout)["loss"] == pytest.approx(second["val/loss"], rel=1e-6)
    missing = cli("eval", str(tmp_path / "run"), "--checkpoint", "checkpoints/epoch=999.pt")
    assert missing.returncode == 2
    assert "--checkpoint must be final, best or last (or a checkpoint file), got" in missing.stderr


def test_top_k_needs_a_monitor(cli, tmp_path):
    from conftest import assert_one_line_error

    result = cli("train", "dataset=iris", "trainer.checkpoint.monitor=null", "trainer.checkpoint.save_top_k=3")
    assert_one_line_error(result, "trainer.checkpoint.save_top_k ranks epochs by trainer.checkpoint.monitor", tmp_path)


def test_each_fold_keeps_its_own_checkpoints(tmp_path):
    _, metrics = train_in_process(
        [
            "dataset=iris",
            "trainer.max_epochs=3",
            "cv.folds=2",
            "trainer.checkpoint.save_top_k=1",
            "trainer.ema=true",
            "plots.enabled=false",
        ],
        tmp_path,
    )
    for k in (0, 1):
        fold = RunDir(tmp_path).fold(k)
        listing = fold.read_metrics()["checkpoints"]
        assert len(listing) == 1 and (fold.path / listing[0]["path"]).is_file()
        assert len(fold.epoch_checkpoints()) == 1
