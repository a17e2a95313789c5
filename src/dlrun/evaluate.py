"""`dlrun eval`: rebuild a saved run's data and model from its checkpoint and measure a split."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.errors import ConfigError


def evaluate_run(path: str | Path, overrides: list[str], split: str = "test", prefer: str = "final") -> dict:
    """Metrics of a saved run on `split`, its data rebuilt from the config with the saved preprocessing."""
    run, data, batches = rebuild_split(path, overrides, split, prefer, command="eval")
    metrics = run.task.evaluate(batches)
    return {"checkpoint": str(run.checkpoint), "epoch": run.epoch, **metrics}


def rebuild_split(path: str | Path, overrides: list[str], split: str, prefer: str = "final", command: str = "eval"):
    """(LoadedRun, DataBundle on the run's device, the split's batches): a saved run with one split of its data
    rebuilt from the config and the saved preprocessing (`dlrun eval`, `dlrun explain`)."""
    from dlrun.cv import CVConfig, fold_rows
    from dlrun.datasets import build_data
    from dlrun.saved_run import open_run

    if split not in ("test", "val", "train"):
        raise ConfigError(f"--split must be test, val or train, got '{split}'")
    saved = open_run(path, prefer, overrides, command=command)
    cfg, device = saved.config, saved.device
    rows = fold_rows(CVConfig.from_dict(OmegaConf.to_container(cfg.cv, resolve=True))) if "cv" in cfg else None
    data = build_data(cfg, preprocessing=saved.preprocessing, rows=rows).to(device)
    batches = data.batches(split, max(int(cfg.trainer.batch_size), 512))
    if batches is None:
        if rows is not None and split == "test":
            raise ConfigError(
                f"this run is fold {cfg.cv.fold} of a K-fold run: folds never see the test split "
                "(the parent's refit/ run measures it)"
            )
        raise ConfigError(f"this run has no {split} split")
    return saved.load(data.info), data, batches


def print_metrics(metrics: dict, split: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(metrics))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{split} metrics", caption=f"{metrics['checkpoint']} (epoch {metrics['epoch']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key not in ("checkpoint", "epoch"):
            table.add_row(key, f"{value:.4f}")
    Console().print(table)
