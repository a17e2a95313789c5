"""The schedulers declared in `dlrun.schedulers.config`: step, cosine and reduce_on_plateau stepped once per epoch
(the SchedulerStep callback; ReduceLROnPlateau with its monitored value); warmup_cosine, linear_warmup and onecycle
stepped after every optimizer step (by the task), built once the run's optimizer steps per epoch are known
(`Task.plan_steps`, after the data)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.errors import CheckpointError, ConfigError
from dlrun.schedulers.config import SCHEDULERS


@dataclass
class Scheduler:
    """A torch scheduler plus what the epoch-end callback needs to step it."""

    scheduler: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None
    monitor: str | None = None  # set for plateau schedulers: the history key they step on
    # per-step schedulers: the torch scheduler given (optimizer steps per epoch, epochs), built by `start`
    build: Callable[[int, int], torch.optim.lr_scheduler.LRScheduler] | None = None
    optimizer: torch.optim.Optimizer | None = None  # the one whose steps advance a per-step scheduler

    @property
    def per_step(self) -> bool:
        return self.build is not None

    def start(self, steps_per_epoch: int, epochs: int) -> None:
        """Build a per-step scheduler for `steps_per_epoch` optimizer steps in each of `epochs` epochs."""
        self.scheduler = self.build(steps_per_epoch, epochs)

    def optimizer_stepped(self, optimizer: torch.optim.Optimizer) -> None:
        """After a step of `optimizer`: a per-step scheduler of it advances (once `start` has built it)."""
        if self.per_step and self.scheduler is not None and optimizer is self.optimizer:
            self.scheduler.step()

    def step(self, logs: dict) -> None:
        if self.monitor is None:
            self.scheduler.step()
        else:
            self.scheduler.step(logs[self.monitor])

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        planned = getattr(self.scheduler, "total_steps", None)  # OneCycleLR cannot run past its length
        if planned is not None and state.get("total_steps", planned) != planned:
            raise CheckpointError(
                f"the checkpoint's 1cycle schedule spans {state['total_steps']} optimizer steps and this run's "
                f"{planned}: scheduler=onecycle cannot change its length on resume (trainer.max_epochs, batch_size "
                "or accumulate_grad_batches)"
            )
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


def warmup_cosine(optimizer: torch.optim.Optimizer, max_epochs: int, warmup_steps, warmup_epochs, eta_min) -> Scheduler:
    """Linear warmup, then cosine annealing to eta_min over the rest of the run (per optimizer step)."""

    def build(steps_per_epoch: int, epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
        total = steps_per_epoch * epochs
        warmup = warmup_length(warmup_steps, warmup_epochs, steps_per_epoch, total, "warmup_cosine")
        factors = [
            functools.partial(warmup_cosine_factor, warmup=warmup, total=total, floor=eta_min / group["lr"])
            for group in optimizer.param_groups
        ]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)

    return Scheduler(None, build=build, optimizer=optimizer)


def linear_warmup(optimizer: torch.optim.Optimizer, max_epochs: int, warmup_steps, warmup_epochs) -> Scheduler:
    """Linear warmup, then the optimizer's learning rate (per optimizer step)."""

    def build(steps_per_epoch: int, epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
        total = steps_per_epoch * epochs
        warmup = warmup_length(warmup_steps, warmup_epochs, steps_per_epoch, total, "linear_warmup")
        return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(warmup_factor, warmup=warmup))

    return Scheduler(None, build=build, optimizer=optimizer)


def onecycle(
    optimizer: torch.optim.Optimizer,
    max_epochs: int,
    max_lr,
    pct_start,
    anneal_strategy,
    div_factor,
    final_div_factor,
    three_phase,
    cycle_momentum,
    base_momentum,
    max_momentum,
) -> Scheduler:
    """The 1cycle policy over the whole run (torch's OneCycleLR; max_lr null = the optimizer's rate)."""
    if cycle_momentum and not {"momentum", "betas"} & set(optimizer.defaults):
        raise ConfigError(
            f"scheduler.cycle_momentum needs an optimizer with a momentum or betas; {type(optimizer).__name__} has "
            "neither: set scheduler.cycle_momentum=false"
        )

    def build(steps_per_epoch: int, epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=in_proportion(optimizer, max_lr),
            total_steps=steps_per_epoch * epochs,
            pct_start=pct_start,
            anneal_strategy=anneal_strategy,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
            cycle_momentum=cycle_momentum,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )

    return Scheduler(None, build=build, optimizer=optimizer)


def in_proportion(optimizer: torch.optim.Optimizer, rate: float | None) -> list[float]:
    """One rate per param group: `rate` for the first group and the others in their present ratio to it (a
    backbone at optimizer.backbone_lr_scale keeps its scale); None = the groups' own rates."""
    lrs = [group["lr"] for group in optimizer.param_groups]
    if rate is None:
        return lrs
    return [rate * lr / lrs[0] if lrs[0] else rate for lr in lrs]


def warmup_length(steps: int | None, epochs: float, steps_per_epoch: int, total: int, name: str) -> int:
    """Warmup in optimizer steps: warmup_steps when set, else warmup_epochs x steps per epoch (rounded)."""
    warmup = steps if steps is not None else round(epochs * steps_per_epoch)
    if warmup > total:
        given = f"warmup_steps={steps}" if steps is not None else f"warmup_epochs={epochs:g} ({warmup} steps)"
        raise ConfigError(
            f"scheduler={name}: {given} is longer than the run's {total} optimizer steps ({steps_per_epoch} per epoch)"
        )
    return warmup


def warmup_factor(step: int, warmup: int) -> float:
    """The lr multiplier of optimizer step `step` (0-based) during a linear warmup of `warmup` steps: the first step
    takes lr / warmup, step warmup - 1 the full lr; 1 after it."""
    return min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0


def warmup_cosine_factor(step: int, warmup: int, total: int, floor: float) -> float:
    """The lr multiplier of optimizer step `step` (0-based): linear warmup, then a half cosine from 1 at step
    `warmup` towards `floor` (eta_min / lr) at step `total`."""
    if step < warmup:
        return warmup_factor(step, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(cfg: DictConfig, optimizer: torch.optim.Optimizer, max_epochs: int) -> Scheduler | None:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    return SCHEDULERS.build(kwargs.pop("name"), optimizer, max_epochs, where="scheduler", **kwargs)
