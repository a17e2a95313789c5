"""Loggers: `conf/logger/NAME.yaml` (tensorboard or none) becomes a callback."""

from __future__ import annotations

from dlrun.callbacks.base import Callback
from dlrun.loggers.config import LoggerConfig


def build_logger(cfg: LoggerConfig, run_dir, hparams: dict) -> Callback | None:
    if cfg.name == "none":
        return None
    from dlrun.loggers.tensorboard import TensorBoardLogger

    return TensorBoardLogger(run_dir / "tensorboard", hparams, cfg.histogram_every_n_epochs, cfg.log_graph)
