"""The model registry and the build step shared by every task."""

from __future__ import annotations

from dataclasses import replace

from omegaconf import DictConfig, OmegaConf
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.models.layers import EmbeddedColumns
from dlrun.registry import Registry

MODELS = Registry("model")


def _kwargs(cfg: DictConfig) -> tuple[str, dict]:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    return kwargs.pop("name"), kwargs


def check_model_config(cfg: DictConfig, where: str = "model") -> None:
    name, kwargs = _kwargs(cfg)
    MODELS.check(name, kwargs, where, injected=1)


def build_model(cfg: DictConfig, info: DataInfo, where: str = "model") -> nn.Module:
    """The configured model; with embedded table columns, behind an input layer that embeds them."""
    name, kwargs = _kwargs(cfg)
    if not info.embeddings:
        return MODELS.build(name, info, where=where, **kwargs)
    inputs = EmbeddedColumns(info.in_features - len(info.embeddings), info.embeddings)
    inner = replace(info, input_shape=(inputs.out_features,), embeddings=[])
    return nn.Sequential(inputs, MODELS.build(name, inner, where=where, **kwargs))


def for_task(task: str):
    """Mark a model factory as the network(s) of a generative task (`vae`, `gan`, `cgan`).

    The config check then pairs them: such a model needs that task, and that task needs such a model.
    """

    def mark(factory):
        factory.task = task
        return factory

    return mark


def model_task(name: str) -> str | None:
    """The task a model factory is made for (None for models of any supervised task)."""
    return getattr(MODELS.get(name), "task", None)
