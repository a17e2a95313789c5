"""Loggers: each option chosen in the `logger` group (`logger=[tensorboard,mlflow]`) becomes a callback."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from dlrun.callbacks.base import Callback
from dlrun.loggers.config import LoggerConfig
from dlrun.loggers.hparams import flat_hparams


class Loggers:
    """The chosen loggers (callbacks of the fit), and what the run hands all of them after it: images, figures,
    the plots and the final metrics (each logger takes what it can show)."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = callbacks

    def __iter__(self):
        return iter(self.callbacks)

    def _each(self, method: str, *args) -> None:
        for cb in self.callbacks:
            if hasattr(cb, method):
                getattr(cb, method)(*args)

    def add_image(self, tag: str, image, step: int = 0) -> None:
        self._each("add_image", tag, image, step)

    def add_figure(self, tag: str, figure, step: int = 0) -> None:
        self._each("add_figure", tag, figure, step)

    def log_images(self, pictures: dict, step: int) -> None:
        self._each("log_images", pictures, step)

    def on_run_end(self, results: dict) -> None:
        self._each("on_run_end", results)


def build_logger(cfg: LoggerConfig, run_dir, config) -> Loggers | None:
    """The loggers `cfg` chooses for the run `config` (the composed config) in `run_dir`; None for logger=none."""
    plain = OmegaConf.to_container(config, resolve=True) if OmegaConf.is_config(config) else dict(config)
    hparams = flat_hparams(plain)  # resolved once, for every logger
    chosen: list[Callback] = []
    if cfg.tensorboard is not None:
        from dlrun.loggers.tensorboard import TensorBoardLogger

        tb = cfg.tensorboard
        chosen.append(
            TensorBoardLogger(Path(run_dir) / "tensorboard", hparams, tb.histogram_every_n_epochs, tb.log_graph)
        )
    if cfg.mlflow is not None:
        from dlrun.loggers.mlflow_logger import MLflowLogger

        chosen.append(MLflowLogger(cfg.mlflow, run_dir, str(plain.get("name", "default")), plain, hparams))
    return Loggers(chosen) if chosen else None
