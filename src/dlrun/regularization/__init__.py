"""Weight penalties (L1, L2): the `regularization` config (`config.py`) and the penalty applied to a model
(`penalty.py`). Importing this package does not import torch."""

from dlrun.regularization.config import RegularizationConfig

__all__ = ["Regularization", "RegularizationConfig"]


def __getattr__(name: str):
    if name == "Regularization":
        from dlrun.regularization.penalty import Regularization

        return Regularization
    raise AttributeError(f"module 'dlrun.regularization' has no attribute '{name}'")
