"""The Task interface the training loop calls, and the task registry."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.tasks.config import TASKS


class Task:
    """Base class: subclasses fill `models`, `optimizers` and `schedulers` and implement the steps."""

    # callables (optimizer, module) run after backward, before each optimizer step; the trainer sets them
    before_step_hooks: tuple = ()
    # callables (optimizer, module) run right after each optimizer step (weight averaging); the trainer sets them
    after_step_hooks: tuple = ()

    def __init__(self) -> None:
        self.models = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.device = torch.device("cpu")
        self.grad_clip: float | None = None
        self.autocast_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        # gradient accumulation (trainer.accumulate_grad_batches): `optimize` steps after this many batches
        self.accumulate = 1
        self.pending = 0  # batches whose gradients wait for the next optimizer step
        self.last_batch = False  # set by the loop: this batch ends the epoch, so an unfinished accumulation steps

    # ---- set-up by the trainer
    def setup(self, device: torch.device, grad_clip: float | None, autocast_dtype: torch.dtype | None) -> None:
        self.device, self.grad_clip, self.autocast_dtype = device, grad_clip, autocast_dtype
        self.models.to(device)
        if autocast_dtype is torch.float16 and device.type == "cuda":
            self.scaler = torch.amp.GradScaler("cuda")

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def train(self, mode: bool = True) -> None:
        self.models.train(mode)

    def speed_up(self, compile: bool, channels_last: bool) -> None:
        """Channels-last memory format and torch.compile (in place, so state-dict keys do not change)."""
        for module in self.models.values():
            if channels_last:
                module.to(memory_format=torch.channels_last)
            if compile:
                module.compile()

    def wrap_ddp(self) -> None:
        """Wrap every trainable network in DistributedDataParallel (called when several processes train)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        for name in list(self.models):
            module = self.net(name)  # wrapped again when called again (a backbone unfrozen: more to sync)
            if any(p.requires_grad for p in module.parameters()):
                self.models[name] = DDP(module, device_ids=ids)

    def net(self, name: str) -> nn.Module:
        """The network `name` without a DDP wrapper (for state dicts and inspection)."""
        module = self.models[name]
        return getattr(module, "module", module)

    def plan_steps(self, batches_per_epoch: int, accumulate: int, epochs: int) -> int:
        """Accumulate gradients over `accumulate` batches per optimizer step, and build the per-step learning-rate
        schedulers for the run's length. Returns the optimizer steps per epoch (a last partial accumulation counts)."""
        self.accumulate = accumulate
        steps = math.ceil(batches_per_epoch / accumulate)
        for name, sched in self.schedulers.items():
            if sched is not None and sched.per_step:
                sched.start(steps * self.steps_per_batch(name), epochs)
        return steps

    def steps_per_batch(self, optimizer: str) -> int:
        """Optimizer steps the optimizer `optimizer` takes per step of the loop (a GAN's d_steps, g_steps)."""
        return 1

    @property
    def accumulating(self) -> bool:
        """True while gradients of an unfinished accumulation are pending (the position is no place to checkpoint)."""
        return self.pending > 0

    def optimize(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, module: nn.Module) -> None:
        """zero_grad, backward, optional gradient clipping, step (with the fp16 scaler when active).

        With accumulation, zero_grad starts a cycle of `accumulate` batches, each backward takes loss / accumulate
        (without DDP's gradient all-reduce until the last batch) and the cycle's last batch steps: the gradient is
        that of the mean loss over the cycle. The epoch's last batch ends a partial cycle, rescaled to its mean."""
        if self.pending == 0:
            optimizer.zero_grad(set_to_none=True)
        self.pending += 1
        ends = self.pending == self.accumulate or self.last_batch
        no_sync = getattr(module, "no_sync", None)  # DDP: all-reduce the gradients only on the cycle's last batch
        with no_sync() if no_sync is not None and not ends else contextlib.nullcontext():
            self.backward(loss / self.accumulate if self.accumulate > 1 else loss)
        if not ends:
            return
        if self.pending < self.accumulate:  # a partial cycle: the mean over the batches it has
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(self.accumulate / self.pending)
        self.pending = 0
        self.step(optimizer, module)

    def backward(self, loss: torch.Tensor) -> None:
        """Backward pass of one loss (scaled when the fp16 scaler is active); gradients accumulate."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, module: nn.Module) -> None:
        """Optional gradient clipping of `module`, then the optimizer step (through the scaler when active)."""
        if self.scaler is not None:
            if self.grad_clip or self.before_step_hooks:
                self.scaler.unscale_(optimizer)
            for hook in self.before_step_hooks:
                hook(optimizer, module)
            if self.grad_clip:
                nn.utils.clip_grad_norm_(module.parameters(), self.grad_clip)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            for hook in self.before_step_hooks:
                hook(optimizer, module)
            if self.grad_clip:
                nn.utils.clip_grad_norm_(module.parameters(), self.grad_clip)
            optimizer.step()
        self.after_step(optimizer, module)

    def after_step(self, optimizer: torch.optim.Optimizer, module: nn.Module) -> None:
        """After each optimizer step: the per-step learning-rate schedulers of `optimizer` advance, then the
        after-step hooks run (weight averaging)."""
        for sched in self.schedulers.values():
            if sched is not None:
                sched.optimizer_stepped(optimizer)
        for hook in self.after_step_hooks:
            hook(optimizer, module)

    # ---- what subclasses implement
    def training_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """One optimisation step. Returns detached scalars (batch means) keyed by name; `loss` is required.

        May also return `_outputs`: (predictions, targets) for the epoch's training metrics.
        """
        raise NotImplementedError

    def epoch_metrics(self, outputs: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """Metrics of a whole epoch's training predictions (empty if the task has none)."""
        return {}

    def evaluate(self, batches) -> dict[str, float]:
        """Loss and metrics over a whole split (an iterable of batches), in eval mode, without gradients."""
        raise NotImplementedError

    def log_keys(self) -> list[str]:
        """Names `evaluate` returns (the loop prefixes them with val/ or train/)."""
        return ["loss"]

    def callbacks(self) -> list:
        """Callbacks the task brings along (e.g. sample pictures of a generative task), and those its networks
        bring (`callbacks()` of a model: unfreezing a pretrained backbone)."""
        return [cb for name in self.models for cb in getattr(self.net(name), "callbacks", list)()]

    def summary_inputs(self, x: torch.Tensor) -> dict[str, tuple[torch.Tensor, ...]]:
        """Example inputs of each network for the model summary, given a small batch of data."""
        return {name: (x,) for name in self.models}

    # ---- learning rate and state
    @property
    def lr(self) -> float:
        opt = next(iter(self.optimizers.values()))
        return float(opt.param_groups[0]["lr"])

    def state_dict(self) -> dict:
        return {
            "models": {k: self.net(k).state_dict() for k in self.models},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items() if s is not None},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        for k in self.models:
            self.net(k).load_state_dict(state["models"][k])
        if weights_only:
            return
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            if s is not None and k in state.get("schedulers", {}):
                s.load_state_dict(state["schedulers"][k])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.models.parameters())


def _task_kwargs(cfg: DictConfig) -> tuple[str, dict]:
    kwargs = OmegaConf.to_container(cfg.task, resolve=True)
    return kwargs.pop("name"), kwargs


def resolve_task_name(name: str, info: DataInfo | None) -> str:
    if name == "auto":
        if info is not None and info.per_step:
            return "tagging"
        return info.kind if info is not None else "classification"
    return name


def build_task(cfg: DictConfig, info: DataInfo) -> Task:
    name, kwargs = _task_kwargs(cfg)
    return TASKS.build(resolve_task_name(name, info), cfg, info, where="task", **kwargs)


def finite(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value)
