"""Loss functions by name (`task.loss`); see `dlrun.losses.config`."""

from dlrun.losses.config import LOSSES

__all__ = ["LOSSES"]
