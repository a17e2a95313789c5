"""Learning-rate schedulers, stepped once per epoch (ReduceLROnPlateau with its monitored value)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.errors import ConfigError
from dlrun.registry import Registry

SCHEDULERS = Registry("scheduler")


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


@SCHEDULERS.register("none")
def none(optimizer: torch.optim.Optimizer, max_epochs: int) -> Scheduler | None:
    """Constant learning rate."""
    return None


@SCHEDULERS.register("step")
def step(optimizer: torch.optim.Optimizer, max_epochs: int, step_size: int = 10, gamma: float = 0.1) -> Scheduler:
    """Multiply the learning rate by gamma every step_size epochs."""
    if step_size < 1 or gamma <= 0:
        raise ConfigError(f"scheduler.step_size must be >= 1 and scheduler.gamma > 0, got {step_size}, {gamma}")
    return Scheduler(torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma))


@SCHEDULERS.register("cosine")
def cosine(optimizer: torch.optim.Optimizer, max_epochs: int, t_max: int | None = None,
           eta_min: float = 0.0) -> Scheduler:
    """Cosine annealing over t_max epochs (default: the whole run)."""
    t_max = t_max or max_epochs
    if t_max < 1:
        raise ConfigError(f"scheduler.t_max must be >= 1, got {t_max}")
    return Scheduler(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=eta_min))


@SCHEDULERS.register("reduce_on_plateau")
def reduce_on_plateau(optimizer: torch.optim.Optimizer, max_epochs: int, monitor: str = "val/loss",
                      mode: str = "auto", factor: float = 0.1, patience: int = 10,
                      min_lr: float = 0.0) -> Scheduler:
    """Divide the learning rate when the monitored metric stops improving."""
    from dlrun.metrics import resolve_mode

    if not 0 < factor < 1:
        raise ConfigError(f"scheduler.factor must be in (0, 1), got {factor}")
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=resolve_mode(mode, monitor, "scheduler.mode"), factor=factor, patience=patience,
        min_lr=min_lr)
    return Scheduler(sched, monitor=monitor)


def build_scheduler(cfg: DictConfig, optimizer: torch.optim.Optimizer, max_epochs: int) -> Scheduler | None:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    return SCHEDULERS.build(kwargs.pop("name"), optimizer, max_epochs, where="scheduler", **kwargs)
