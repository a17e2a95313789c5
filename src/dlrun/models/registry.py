"""The model registry and the build step shared by every task."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.registry import Registry

MODELS = Registry("model")


def _kwargs(cfg: DictConfig) -> tuple[str, dict]:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    return kwargs.pop("name"), kwargs


def check_model_config(cfg: DictConfig, where: str = "model") -> None:
    name, kwargs = _kwargs(cfg)
    MODELS.check(name, kwargs, where, injected=1)


def build_model(cfg: DictConfig, info: DataInfo, where: str = "model") -> nn.Module:
    name, kwargs = _kwargs(cfg)
    return MODELS.build(name, info, where=where, **kwargs)
