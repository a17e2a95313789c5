"""Typed mirror of `conf/trainer/default.yaml`; values are checked before training starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dlrun.errors import ConfigError
from dlrun.registry import check_kwargs

Mode = Literal["auto", "min", "max"]


@dataclass
class EarlyStoppingConfig:
    monitor: str = "val/loss"
    mode: Mode = "auto"
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        if self.patience is not None and self.patience < 0:
            raise ConfigError(f"trainer.early_stopping.patience must be >= 0 or null, got {self.patience}")
        if self.min_delta < 0:
            raise ConfigError(f"trainer.early_stopping.min_delta must be >= 0, got {self.min_delta}")


@dataclass
class CheckpointConfig:
    monitor: str | None = "val/loss"  # None: last.pt only (no best epoch)
    mode: Mode = "auto"


@dataclass
class TrainerConfig:
    max_epochs: int = 30
    batch_size: int = 32
    resume: str | None = None
    grad_clip: float | None = None
    train_metrics: bool = True
    log_every_n_steps: int = 20
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def __post_init__(self):
        if self.max_epochs < 1:
            raise ConfigError(f"trainer.max_epochs must be >= 1, got {self.max_epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"trainer.batch_size must be >= 1, got {self.batch_size}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"trainer.grad_clip must be > 0 or null, got {self.grad_clip}")
        if self.log_every_n_steps < 1:
            raise ConfigError(f"trainer.log_every_n_steps must be >= 1, got {self.log_every_n_steps}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainerConfig:
        values = dict(values)
        check_kwargs(cls, values, "trainer")
        check_kwargs(EarlyStoppingConfig, values.get("early_stopping", {}), "trainer.early_stopping")
        check_kwargs(CheckpointConfig, values.get("checkpoint", {}), "trainer.checkpoint")
        values["early_stopping"] = EarlyStoppingConfig(**values.get("early_stopping", {}))
        values["checkpoint"] = CheckpointConfig(**values.get("checkpoint", {}))
        return cls(**values)
