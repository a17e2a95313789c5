"""Building the configured model (`MODELS` and the schemas live in `dlrun.models.config`)."""

from __future__ import annotations

from dataclasses import replace

from omegaconf import DictConfig, OmegaConf
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.models.config import MODELS
from dlrun.models.layers import EmbeddedColumns


def build_model(cfg: DictConfig, info: DataInfo, where: str = "model") -> nn.Module:
    """The configured model; with embedded table columns, behind an input layer that embeds them."""
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    name = kwargs.pop("name")
    if not info.embeddings:
        return MODELS.build(name, info, where=where, **kwargs)
    inputs = EmbeddedColumns(info.in_features - len(info.embeddings), info.embeddings)
    inner = replace(info, input_shape=(inputs.out_features,), embeddings=[])
    return nn.Sequential(inputs, MODELS.build(name, inner, where=where, **kwargs))
