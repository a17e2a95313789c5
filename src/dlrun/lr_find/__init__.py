"""The learning-rate range test (`dlrun lr-find`, `optimizer.lr=auto`): Smith's exponential sweep of the learning
rate over a few hundred training steps, the smoothed loss curve, and a suggested rate.

`config.py` (the `lr_find` config group, light), `range_test.py` (the sweep and the suggestion rules),
`figure.py` (lr_find.png), `run.py` (the test on a run's own data and task); the command and
`optimizer.lr=auto` are in `dlrun.find_lr`.
Importing this package does not import torch.
"""

from dlrun.lr_find.config import LRFindConfig, is_auto_lr

__all__ = ["LRFindConfig", "is_auto_lr"]
