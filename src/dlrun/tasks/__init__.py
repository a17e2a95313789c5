"""Tasks own the per-batch step: their models, optimizers, schedulers and loss.

`conf/task/NAME.yaml` names a task declared in `dlrun.tasks.config`. The training loop only calls the
`Task` interface, so a task with two networks and two optimizers (a GAN) needs no change to the loop.
Importing this package does not import torch.
"""

from dlrun.tasks.config import TASKS

__all__ = ["TASKS", "Task", "build_task"]


def __getattr__(name: str):
    if name in ("Task", "build_task"):
        from dlrun.tasks import base

        return getattr(base, name)
    raise AttributeError(f"module 'dlrun.tasks' has no attribute '{name}'")
