"""The `scheduler` config group: one schema per learning-rate scheduler (built in `factories.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.errors import ConfigError
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


# ---- stepped after every optimizer step (their length: optimizer steps per epoch x trainer.max_epochs)
WARMUP_STEPS_DOC = "optimizer steps of the linear warmup; when set it replaces warmup_epochs"
WARMUP_EPOCHS_DOC = "epochs of the linear warmup (x optimizer steps per epoch, rounded; a fraction allowed)"


@SCHEDULERS.declare("warmup_cosine", factory="dlrun.schedulers.factories:warmup_cosine")
@dataclass
class WarmupCosine:
    """Per optimizer step: linear warmup to lr, then cosine annealing to eta_min at the end of the run."""

    warmup_steps: int | None = option(None, WARMUP_STEPS_DOC, ge=0)
    warmup_epochs: float = option(1.0, WARMUP_EPOCHS_DOC, ge=0)
    eta_min: float = option(0.0, "learning rate at the end of the run", ge=0)


@SCHEDULERS.declare("linear_warmup", factory="dlrun.schedulers.factories:linear_warmup")
@dataclass
class LinearWarmup:
    """Per optimizer step: linear warmup to lr, then constant."""

    warmup_steps: int | None = option(None, WARMUP_STEPS_DOC, ge=0)
    warmup_epochs: float = option(1.0, WARMUP_EPOCHS_DOC, ge=0)


@SCHEDULERS.declare("onecycle", factory="dlrun.schedulers.factories:onecycle")
@dataclass
class OneCycle:
    """Per optimizer step: the 1cycle policy (torch.optim.lr_scheduler.OneCycleLR) over the whole run."""

    max_lr: float | None = option(
        None, "peak learning rate; null = optimizer.lr (with optimizer.lr=auto: the rate the range test finds)", gt=0
    )
    pct_start: float = option(0.3, "fraction of the run spent raising the learning rate", gt=0, lt=1)
    anneal_strategy: Literal["cos", "linear"] = option("cos", "shape of the rise and the fall")
    div_factor: float = option(25.0, "initial lr = max_lr / div_factor", gt=0)
    final_div_factor: float = option(1e4, "final lr = initial lr / final_div_factor", gt=0)
    three_phase: bool = option(False, "a third phase takes the lr far below the initial one; false = two phases")
    cycle_momentum: bool = option(
        True, "cycle the momentum (SGD) or Adam's beta1 inversely, between base_momentum and max_momentum"
    )
    base_momentum: float = option(0.85, "momentum at the peak learning rate", ge=0, lt=1)
    max_momentum: float = option(0.95, "momentum at the start and the end", ge=0, lt=1)

    def __post_init__(self):
        if self.base_momentum > self.max_momentum:
            raise ConfigError(
                f"scheduler.base_momentum must be <= scheduler.max_momentum, got {self.base_momentum} > "
                f"{self.max_momentum}"
            )

    def check_config(self, config: dict, name: str) -> None:
        if self.max_lr is not None and (config.get("optimizer") or {}).get("lr") == "auto":
            raise ConfigError(
                "scheduler.max_lr is what optimizer.lr=auto finds for scheduler=onecycle: leave scheduler.max_lr null"
            )
