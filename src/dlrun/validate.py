"""Check a composed config before anything is built: unknown keys, wrong types, values out of range."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.callbacks.base import check_extra_callbacks
from dlrun.cv.config import CVConfig
from dlrun.datasets import check_data_config
from dlrun.device import DeviceConfig
from dlrun.errors import ConfigError
from dlrun.loggers import LoggerConfig
from dlrun.models import check_model_config
from dlrun.optimizers import build_optimizer
from dlrun.plots import PlotsConfig
from dlrun.plugins import load_plugins
from dlrun.registry import check_kwargs
from dlrun.regularization import Regularization
from dlrun.schedulers import build_scheduler
from dlrun.tasks import check_task_config
from dlrun.rundir.checkpoints import resolve_checkpoint
from dlrun.trainer.config import TrainerConfig


@dataclass
class Checked:
    """The engine's typed configs, parsed once."""

    trainer: TrainerConfig
    device: DeviceConfig
    logger: LoggerConfig
    plots: PlotsConfig
    cv: CVConfig


def _dict(node) -> dict:
    return OmegaConf.to_container(node, resolve=True)


def validate(cfg: DictConfig) -> Checked:
    if not isinstance(cfg.get("plugins", []), (list, tuple)) and not OmegaConf.is_list(cfg.get("plugins")):
        raise ConfigError(f"plugins must be a list of module names, got {cfg.plugins!r}")
    load_plugins(list(cfg.get("plugins") or []))
    seed = cfg.seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    trainer = TrainerConfig.from_dict(_dict(cfg.trainer))
    cv = CVConfig.from_dict(_dict(cfg.cv))
    if trainer.resume not in (None, "auto"):
        if cv.folds > 1:
            raise ConfigError("trainer.resume=PATH cannot continue K-fold runs (cv.folds > 1); use trainer.resume=auto")
        resolve_checkpoint(trainer.resume, prefer="last")
    check_kwargs(DeviceConfig, _dict(cfg.device), "device")
    device = DeviceConfig(**_dict(cfg.device))
    logger = LoggerConfig.from_dict(_dict(cfg.logger))
    plots = PlotsConfig.from_dict(_dict(cfg.plots))
    check_data_config(cfg)
    check_model_config(cfg.model)
    check_task_config(cfg)
    reg = _dict(cfg.regularization)
    check_kwargs(Regularization, reg, "regularization")
    Regularization(**reg)
    # optimizers and schedulers are cheap: build them on a stand-in parameter to run their own checks
    probe = torch.nn.Parameter(torch.zeros(1))
    optimizer = build_optimizer(cfg.optimizer, [probe])
    build_scheduler(cfg.scheduler, optimizer, trainer.max_epochs)
    check_extra_callbacks(_dict(cfg.callbacks) if cfg.get("callbacks") else [])
    return Checked(trainer, device, logger, plots, cv)
