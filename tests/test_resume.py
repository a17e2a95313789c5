"""A run killed mid-epoch and resumed with trainer.resume=auto ends with the same metrics.json."""

import json

import pytest

from conftest import KILLER, without_times

# dropout consumes the RNG, plateau scheduler and early stopping carry state across epochs
COMMON = [
    "dataset=wine",
    "model.hidden=[32]",
    "model.dropout=0.3",
    "trainer.max_epochs=8",
    "trainer.batch_size=16",
    "scheduler=reduce_on_plateau",
    "scheduler.patience=1",
    "trainer.early_stopping.patience=20",
    "seed=7",
]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted_run(cli, cli_subprocess, tmp_path):
    (tmp_path / "killer.py").write_text(KILLER)
    full = cli("train", *COMMON, "hydra.run.dir=full")
    assert full.returncode == 0, full.stderr

    killed = cli_subprocess(
        "train", *COMMON, "hydra.run.dir=resumed", "plugins=[killer]", "callbacks=[{name: kill_at, epoch: 5}]"
    )
    assert killed.returncode != 0
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    from dlrun.rundir.checkpoints import load_checkpoint

    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["trainer"]["epoch"] == 4

    resumed = cli("train", *COMMON, "hydra.run.dir=resumed", "trainer.resume=auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert len(a["history"]) == 8
    assert without_times(a) == without_times(b)


def test_resume_from_a_path_extends_a_finished_run(tmp_path):
    """The books' "resume and extend max_epochs 10 -> 15" as a new run directory."""
    from conftest import train_in_process

    _, first = train_in_process(["dataset=iris", "trainer.max_epochs=3"], tmp_path / "a")
    _, second = train_in_process(
        ["dataset=iris", "trainer.max_epochs=5", f"trainer.resume={tmp_path / 'a'}"], tmp_path / "b"
    )
    assert [r["epoch"] for r in second["history"]] == [1, 2, 3, 4, 5]
    assert without_times(second)["history"][:3] == without_times(first)["history"]
