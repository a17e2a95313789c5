"""Weight penalties added to the loss (L1, L2), reported apart from the data loss."""

from __future__ import annotations

import torch
from torch import nn

from dlrun.errors import ConfigError
from dlrun.regularization.config import RegularizationConfig


class Regularization(RegularizationConfig):
    """The penalties of `RegularizationConfig`, applied to a model's weights."""

    @property
    def active(self) -> bool:
        return self.l1 > 0 or self.l2 > 0

    def weights(self, model: nn.Module) -> list[torch.Tensor]:
        """Weight matrices and kernels (ndim > 1), not biases or norm scales, optionally by name prefix."""
        chosen = [(n, p) for n, p in model.named_parameters() if p.ndim > 1]
        if self.layers:
            chosen = [(n, p) for n, p in chosen if any(n.startswith(prefix) for prefix in self.layers)]
            if not chosen:
                names = ", ".join(n for n, p in model.named_parameters() if p.ndim > 1)
                raise ConfigError(f"regularization.layers {self.layers} match no weight; weights are: {names}")
        return [p for _, p in chosen]

    def penalty(self, weights: list[torch.Tensor]) -> torch.Tensor:
        total = weights[0].new_zeros(())
        for w in weights:
            if self.l1:
                total = total + self.l1 * w.abs().sum()
            if self.l2:
                total = total + self.l2 * w.pow(2).sum()
        return total
