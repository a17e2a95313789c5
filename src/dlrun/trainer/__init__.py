"""The training loop (`Trainer`), its config (`TrainerConfig`) and checkpoint files."""

from dlrun.trainer.config import TrainerConfig
from dlrun.trainer.loop import Trainer

__all__ = ["Trainer", "TrainerConfig"]
