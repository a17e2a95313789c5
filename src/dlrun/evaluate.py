"""`dlrun eval`: rebuild a saved run's data and model from its checkpoint and measure a split."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.errors import ConfigError


def final_checkpoint(run_dir: Path) -> str:
    """Which checkpoint holds the weights a run ended with: best.pt when early stopping restored them."""
    from dlrun.trainer.checkpoint_io import load_checkpoint, resolve_checkpoint

    trainer = load_checkpoint(resolve_checkpoint(run_dir, prefer="last"))["config"]["trainer"]
    stop = trainer["early_stopping"]
    restored = stop["patience"] is not None and stop["restore_best"]
    return "best" if restored and stop["monitor"] == trainer["checkpoint"]["monitor"] else "last"


def open_checkpoint(path: str | Path, prefer: str) -> tuple[Path, dict]:
    """The checkpoint file of a run directory (final, best or last) or a file, and its loaded state."""
    from dlrun.trainer.checkpoint_io import load_checkpoint, resolve_checkpoint

    if prefer not in ("final", "best", "last"):
        raise ConfigError(f"--checkpoint must be final, best or last, got '{prefer}'")
    if prefer == "final":
        prefer = final_checkpoint(Path(path)) if Path(path).is_dir() else "last"
    ckpt_path = resolve_checkpoint(path, prefer=prefer)
    return ckpt_path, load_checkpoint(ckpt_path)


def evaluate_run(path: str | Path, overrides: list[str], split: str = "test", prefer: str = "final") -> dict:
    from dlrun.cv import CVConfig, fold_rows
    from dlrun.datasets import build_data
    from dlrun.device import DeviceConfig, resolve_device
    from dlrun.plugins import load_plugins
    from dlrun.tasks import build_task
    from dlrun.train import restore

    if split not in ("test", "val", "train"):
        raise ConfigError(f"--split must be test, val or train, got '{split}'")
    ckpt_path, state = open_checkpoint(path, prefer)
    cfg = OmegaConf.create(state["config"])
    OmegaConf.set_struct(cfg, True)
    try:
        cfg.merge_with(OmegaConf.from_dotlist(overrides))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"bad override for eval: {str(exc).splitlines()[0]}") from None
    load_plugins(list(cfg.get("plugins") or []))
    device = resolve_device(DeviceConfig(**OmegaConf.to_container(cfg.device, resolve=True)))
    rows = fold_rows(CVConfig.from_dict(OmegaConf.to_container(cfg.cv, resolve=True))) if "cv" in cfg else None
    data = build_data(cfg, preprocessing=state["data"]["preprocessing"], rows=rows).to(device)
    batches = data.batches(split, max(int(cfg.trainer.batch_size), 512))
    if batches is None:
        if rows is not None and split == "test":
            raise ConfigError(f"this run is fold {cfg.cv.fold} of a K-fold run: folds never see the test split "
                              "(the parent's refit/ run measures it)")
        raise ConfigError(f"this run has no {split} split")
    task = build_task(cfg, data.info)
    task.setup(device, None, None)
    restore(task, state, weights_only=True, source=ckpt_path)
    metrics = task.evaluate(batches)
    return {"checkpoint": str(ckpt_path), "epoch": state["trainer"]["epoch"], **metrics}


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
