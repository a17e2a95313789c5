"""Optimizers: `conf/optimizer/NAME.yaml` names an optimizer declared in `dlrun.optimizers.config`, built by
`dlrun.optimizers.factories` (torch.optim). Importing this package does not import torch."""

from dlrun.optimizers.config import OPTIMIZERS

__all__ = ["OPTIMIZERS", "build_optimizer"]


def __getattr__(name: str):
    if name == "build_optimizer":
        from dlrun.optimizers.factories import build_optimizer

        return build_optimizer
    raise AttributeError(f"module 'dlrun.optimizers' has no attribute '{name}'")
