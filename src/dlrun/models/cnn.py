"""Convolutional network built from a list of blocks, then an MLP head.

Each block: `convs` x (Conv2d -> [BatchNorm2d] -> activation), then optional max-pooling and dropout.
Input channels and image size come from the data; the flattened size is computed, not typed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError
from dlrun.models.layers import activation as make_activation
from dlrun.models.layers import check_init, initialize
from dlrun.models.registry import MODELS
from dlrun.registry import check_kwargs


@dataclass
class ConvBlock:
    channels: int
    kernel: int = 3
    stride: int = 1
    padding: int | None = None  # null = kernel // 2 ("same" for odd kernels at stride 1)
    convs: int = 1
    pool: int = 0  # max-pool kernel and stride after the block; 0 = none
    batchnorm: bool = False
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self):
        if self.channels < 1 or self.kernel < 1 or self.stride < 1 or self.convs < 1 or self.pool < 0:
            raise ConfigError(f"conv block values must be positive, got {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"conv block dropout must be in [0, 1), got {self.dropout}")


class CNN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], out_features: int, blocks: list[ConvBlock], head: list[int],
                 head_dropout: float, global_pool: bool, init: str):
        super().__init__()
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for b in blocks:
            for _ in range(b.convs):
                pad = b.kernel // 2 if b.padding is None else b.padding
                layers.append(nn.Conv2d(channels, b.channels, b.kernel, b.stride, pad, bias=not b.batchnorm))
                if b.batchnorm:
                    layers.append(nn.BatchNorm2d(b.channels))
                layers.append(make_activation(b.activation, "model.blocks[].activation"))
                channels = b.channels
            if b.pool:
                layers.append(nn.MaxPool2d(b.pool))
            if b.dropout:
                layers.append(nn.Dropout2d(b.dropout))
        if global_pool:
            layers.append(nn.AdaptiveAvgPool2d(1))
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            width = self.features(torch.zeros(1, *input_shape)).shape[1]
        head_layers: list[nn.Module] = []
        for size in head:
            head_layers += [nn.Linear(width, size), nn.ReLU()]
            if head_dropout:
                head_layers.append(nn.Dropout(head_dropout))
            width = size
        head_layers.append(nn.Linear(width, out_features))
        self.head = nn.Sequential(*head_layers)
        initialize(self, init)

    def forward(self, x):
        return self.head(self.features(x))


@MODELS.register("cnn")
def cnn(info: DataInfo, blocks: list[dict] = ({"channels": 32, "pool": 2},), head: list[int] = (128,),
        head_dropout: float = 0.0, global_pool: bool = False, init: str = "default") -> nn.Module:
    """Conv blocks (channels, kernel, stride, padding, pooling, batch norm, activation, dropout) + MLP head."""
    if len(info.input_shape) != 3:
        raise ConfigError(f"model cnn needs images (channels, height, width); this data set gives shape {info.input_shape}")
    parsed = []
    for i, block in enumerate(blocks):
        check_kwargs(ConvBlock, dict(block), f"model.blocks[{i}]")
        parsed.append(ConvBlock(**block))
        make_activation(parsed[-1].activation, f"model.blocks[{i}].activation")
    if not 0.0 <= head_dropout < 1.0:
        raise ConfigError(f"model.head_dropout must be in [0, 1), got {head_dropout}")
    check_init(init, "model.init")
    try:
        return CNN(info.input_shape, info.output_size, parsed, list(head), head_dropout, global_pool, init)
    except RuntimeError as exc:  # e.g. the image shrank to nothing
        raise ConfigError(f"model.blocks do not fit {info.input_shape} images: {str(exc).splitlines()[0]}") from None
