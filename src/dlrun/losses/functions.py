"""The loss functions declared in `dlrun.losses.config`. Each factory returns a module with mean reduction."""

from __future__ import annotations

from torch import nn


def cross_entropy(label_smoothing: float = 0.0) -> nn.Module:
    """Softmax cross-entropy on logits (multiclass classification)."""
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)


def bce() -> nn.Module:
    """Binary cross-entropy on one logit (sigmoid inside, numerically stable)."""
    return nn.BCEWithLogitsLoss()


def mse() -> nn.Module:
    """Mean squared error."""
    return nn.MSELoss()


def mae() -> nn.Module:
    """Mean absolute error (L1)."""
    return nn.L1Loss()


def huber(delta: float = 1.0) -> nn.Module:
    """Huber loss: quadratic below delta, linear above."""
    return nn.HuberLoss(delta=delta)
