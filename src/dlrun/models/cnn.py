"""Convolutional network built from a list of blocks, then an MLP head.

Each block: `convs` x (Conv2d -> [BatchNorm2d] -> activation), then optional max-pooling and dropout.
Input channels and image size come from the data; the flattened size is computed, not typed.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError
from dlrun.models.config import ConvBlock
from dlrun.models.layers import activation as make_activation
from dlrun.models.layers import initialize


class CNN(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        out_features: int,
        blocks: list[ConvBlock],
        head: list[int],
        head_dropout: float,
        global_pool: bool,
        init: str,
    ):
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


def cnn(info: DataInfo, blocks, head, head_dropout, global_pool, init) -> nn.Module:
    """Conv blocks (channels, kernel, stride, padding, pooling, batch norm, activation, dropout) + MLP head."""
    if len(info.input_shape) != 3:
        raise ConfigError(
            f"model cnn needs images (channels, height, width); this data set gives shape {info.input_shape}"
        )
    try:
        return CNN(info.input_shape, info.output_size, list(blocks), list(head), head_dropout, global_pool, init)
    except RuntimeError as exc:  # e.g. the image shrank to nothing
        raise ConfigError(f"model.blocks do not fit {info.input_shape} images: {str(exc).splitlines()[0]}") from None
