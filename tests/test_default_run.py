"""`dlrun train` with no arguments: the README's first example, end to end through the CLI."""

import json


def test_default_train_reaches_095_on_digits_and_writes_the_run_directory(cli, tmp_path):
    result = cli("train")
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "outputs" / "default").iterdir())
    assert len(runs) == 1
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.95
    assert set(metrics["test"]) >= {"loss", "accuracy", "f1"}
    first = metrics["history"][0]
    assert first["epoch"] == 1
    for key in ("train/loss", "val/loss", "val/accuracy", "lr", "train_time_s", "train_samples"):
        assert key in first, key
    assert first["train_samples"] == 1294  # 1797 rows - 20% test - 10% of the rest for validation
    best = metrics["best"]
    assert best["val/loss"] == min(row["val/loss"] for row in metrics["history"])
    assert best["epoch"] == min(metrics["history"], key=lambda r: r["val/loss"])["epoch"]
    assert (run / "checkpoints" / "last.pt").is_file()
    assert (run / "checkpoints" / "best.pt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "history.csv").read_text().count("\n") == len(metrics["history"]) + 1
    assert "dlrun summary" in result.stdout and "test accuracy" in result.stdout


def test_tensorboard_events_hold_scalars_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dlrun.config import compose
    from dlrun.train import train

    run = tmp_path / "run"
    train(compose(["trainer.max_epochs=3", "logger.tensorboard.histogram_every_n_epochs=1"]), run, progress=False)
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"train/loss", "val/loss", "val/accuracy", "lr", "hparam/test/accuracy"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("val/loss")] == [1, 2, 3]
    assert any(t.startswith("weights/") for t in tags["histograms"])
    assert any(t.startswith("gradients/") for t in tags["histograms"])
