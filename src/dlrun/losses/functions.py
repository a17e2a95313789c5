"""The loss functions declared in `dlrun.losses.config`. Each factory returns a module with mean reduction."""

from __future__ import annotations

import torch
from torch import nn


def cross_entropy(label_smoothing: float = 0.0, weight: list[float] | None = None) -> nn.Module:
    """Softmax cross-entropy on logits (multiclass classification); `weight`: one per class (task.class_weights)."""
    w = torch.tensor(weight, dtype=torch.float32) if weight is not None else None
    return nn.CrossEntropyLoss(weight=w, label_smoothing=label_smoothing)


class SmoothedBCE(nn.BCEWithLogitsLoss):
    """BCE-with-logits whose 0/1 targets are pulled towards 1/2 by `label_smoothing` (y * (1 - s) + s / 2)."""

    def __init__(self, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.label_smoothing:
            target = target * (1 - self.label_smoothing) + self.label_smoothing / 2
        return super().forward(input, target)


def bce(pos_weight: float | None = None, label_smoothing: float = 0.0) -> nn.Module:
    """Binary cross-entropy on one logit (sigmoid inside, numerically stable); `pos_weight` weighs class 1."""
    w = torch.tensor(pos_weight, dtype=torch.float32) if pos_weight is not None else None
    return SmoothedBCE(label_smoothing, pos_weight=w)


def mse() -> nn.Module:
    """Mean squared error."""
    return nn.MSELoss()


def mae() -> nn.Module:
    """Mean absolute error (L1)."""
    return nn.L1Loss()


def huber(delta: float = 1.0) -> nn.Module:
    """Huber loss: quadratic below delta, linear above."""
    return nn.HuberLoss(delta=delta)
