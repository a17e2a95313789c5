"""Loggers: `conf/logger/NAME.yaml` (tensorboard or none) becomes a callback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.callbacks.base import Callback
from dlrun.errors import ConfigError
from dlrun.registry import check_kwargs


@dataclass
class LoggerConfig:
    name: Literal["tensorboard", "none"] = "tensorboard"
    histogram_every_n_epochs: int = 0
    log_graph: bool = False

    def __post_init__(self):
        if self.histogram_every_n_epochs < 0:
            raise ConfigError(f"logger.histogram_every_n_epochs must be >= 0, got {self.histogram_every_n_epochs}")

    @classmethod
    def from_dict(cls, values: dict) -> LoggerConfig:
        check_kwargs(cls, values, "logger")
        return cls(**values)


def build_logger(cfg: LoggerConfig, run_dir, hparams: dict) -> Callback | None:
    if cfg.name == "none":
        return None
    from dlrun.loggers.tensorboard import TensorBoardLogger

    return TensorBoardLogger(run_dir / "tensorboard", hparams, cfg.histogram_every_n_epochs, cfg.log_graph)
