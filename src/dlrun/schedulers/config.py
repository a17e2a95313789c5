"""The `scheduler` config group: one schema per learning-rate scheduler (built in `factories.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.registry import Registry
from dlrun.schema import option

SCHEDULERS = Registry("scheduler", group="scheduler")


@SCHEDULERS.declare("none", factory="dlrun.schedulers.factories:none")
@dataclass
class NoScheduler:
    """Constant learning rate."""


@SCHEDULERS.declare("step", factory="dlrun.schedulers.factories:step")
@dataclass
class Step:
    """Multiply the learning rate by gamma every step_size epochs (torch.optim.lr_scheduler.StepLR)."""

    step_size: int = option(10, "epochs between decays", ge=1)
    gamma: float = option(0.1, "decay factor", gt=0)


@SCHEDULERS.declare("cosine", factory="dlrun.schedulers.factories:cosine")
@dataclass
class Cosine:
    """Cosine annealing from lr to eta_min over t_max epochs (torch.optim.lr_scheduler.CosineAnnealingLR)."""

    t_max: int | None = option(None, "epochs of one half cosine; null = trainer.max_epochs", ge=1)
    eta_min: float = option(0.0, "final learning rate", ge=0)


@SCHEDULERS.declare("reduce_on_plateau", factory="dlrun.schedulers.factories:reduce_on_plateau")
@dataclass
class ReduceOnPlateau:
    """Divide the learning rate when a monitored metric stops improving (ReduceLROnPlateau)."""

    monitor: str = option("val/loss", "logged metric to watch (a key of the history)")
    mode: Literal["auto", "min", "max"] = option("auto", "auto = max for accuracy-like metrics, min otherwise")
    factor: float = option(0.1, "new_lr = lr * factor", gt=0, lt=1)
    patience: int = option(10, "epochs without improvement before reducing", ge=0)
    min_lr: float = option(0.0, "lower bound on the learning rate", ge=0)
