"""The schedulers declared in `dlrun.schedulers.config`, stepped once per epoch (ReduceLROnPlateau with its
monitored value)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.errors import ConfigError
from dlrun.schedulers.config import SCHEDULERS


@dataclass
class Scheduler:
    """A torch scheduler plus what the epoch-end callback needs to step it."""

    scheduler: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
    monitor: str | None = None  # set for plateau schedulers: the history key they step on

    def step(self, logs: dict) -> None:
        if self.monitor is None:
            self.scheduler.step()
        else:
            self.scheduler.step(logs[self.monitor])

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)


def none(optimizer: torch.optim.Optimizer, max_epochs: int) -> Scheduler | None:
    """Constant learning rate."""
    return None


def step(optimizer: torch.optim.Optimizer, max_epochs: int, step_size, gamma) -> Scheduler:
    """Multiply the learning rate by gamma every step_size epochs."""
    return Scheduler(torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma))


def cosine(optimizer: torch.optim.Optimizer, max_epochs: int, t_max, eta_min) -> Scheduler:
    """Cosine annealing over t_max epochs (default: the whole run)."""
    t_max = t_max or max_epochs
    if t_max < 1:
        raise ConfigError(f"scheduler.t_max must be >= 1, got {t_max}")
    return Scheduler(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=eta_min))


def reduce_on_plateau(
    optimizer: torch.optim.Optimizer, max_epochs: int, monitor, mode, factor, patience, min_lr
) -> Scheduler:
    """Divide the learning rate when the monitored metric stops improving."""
    from dlrun.metrics.config import resolve_mode

    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=resolve_mode(mode, monitor, "scheduler.mode"), factor=factor, patience=patience, min_lr=min_lr
    )
    return Scheduler(sched, monitor=monitor)


def build_scheduler(cfg: DictConfig, optimizer: torch.optim.Optimizer, max_epochs: int) -> Scheduler | None:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    return SCHEDULERS.build(kwargs.pop("name"), optimizer, max_epochs, where="scheduler", **kwargs)
