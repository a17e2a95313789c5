"""The training loop (`Trainer`, in `loop.py`) and its config (`TrainerConfig`); checkpoint files are
`dlrun.rundir`'s. Importing this package does not import torch."""

from dlrun.trainer.config import TrainerConfig

__all__ = ["Trainer", "TrainerConfig"]


def __getattr__(name: str):
    if name == "Trainer":
        from dlrun.trainer.loop import Trainer

        return Trainer
    raise AttributeError(f"module 'dlrun.trainer' has no attribute '{name}'")
