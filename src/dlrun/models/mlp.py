"""Multi-layer perceptron: Linear -> [BatchNorm] -> activation -> [Dropout] per hidden layer."""

from __future__ import annotations

from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError
from dlrun.models.layers import activation as make_activation
from dlrun.models.layers import check_init, initialize


class MLP(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: list[int],
        activation: str,
        dropout: list[float],
        batchnorm: bool,
        init: str,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size, p in zip(hidden, dropout, strict=False):
            layers.append(nn.Linear(width, size))
            if batchnorm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(make_activation(activation, "model.activation"))
            if p > 0:
                layers.append(nn.Dropout(p))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)
        initialize(self, init)

    def forward(self, x):
        return self.net(x)


def mlp(info: DataInfo, hidden, activation, dropout, batchnorm, init) -> nn.Module:
    """Multi-layer perceptron; input and output widths come from the data set."""
    hidden = list(hidden)
    drops = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * len(hidden)
    if len(drops) != len(hidden):
        raise ConfigError(f"model.dropout has {len(drops)} values for {len(hidden)} hidden layers")
    check_init(init, "model.init")
    make_activation(activation, "model.activation")
    return MLP(info.in_features, info.output_size, hidden, activation, drops, batchnorm, init)
