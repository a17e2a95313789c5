"""The training loop (`Trainer`) and its config (`TrainerConfig`); checkpoint files are `dlrun.rundir`'s."""

from dlrun.trainer.config import TrainerConfig
from dlrun.trainer.loop import Trainer

__all__ = ["Trainer", "TrainerConfig"]
