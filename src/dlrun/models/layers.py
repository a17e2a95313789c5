"""Small building blocks shared by model factories: activations and weight initialisation."""

from __future__ import annotations

import torch
from torch import nn

from dlrun.errors import ConfigError, did_you_mean

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
}

INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming")


def activation(name: str, where: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"unknown {where} '{name}'. Known: {', '.join(ACTIVATIONS)}.{did_you_mean(name, ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]()


def check_init(init: str, where: str) -> None:
    if init not in INITS:
        raise ConfigError(f"unknown {where} '{init}'. Known: {', '.join(INITS)}.{did_you_mean(init, INITS)}")


def initialize(module: nn.Module, init: str) -> None:
    """Re-initialise the weights of every Linear/Conv layer; biases start at zero."""
    if init == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            if init == "xavier_uniform":
                nn.init.xavier_uniform_(m.weight)
            elif init == "xavier_normal":
                nn.init.xavier_normal_(m.weight)
            elif init == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class EmbeddedColumns(nn.Module):
    """The input layer of a table with embedded categorical columns.

    The last `len(tables)` input columns hold level codes (0 = a level unseen in training); each
    becomes a learned vector, concatenated after the other (dense) columns.
    """

    def __init__(self, dense: int, tables: list[list[int]]):
        super().__init__()
        self.dense = dense
        self.tables = nn.ModuleList(nn.Embedding(levels + 1, width) for levels, width in tables)
        for table in self.tables:
            nn.init.zeros_(table.weight[0])  # the unknown level starts (and, never seen, stays) at zero
        self.out_features = dense + sum(width for _, width in tables)

    def forward(self, x):
        x = x.flatten(1)
        codes = x[:, self.dense :].long()
        return torch.cat([x[:, : self.dense], *(t(codes[:, i]) for i, t in enumerate(self.tables))], dim=1)
