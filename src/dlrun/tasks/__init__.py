"""Tasks own the per-batch step: their models, optimizers, schedulers and loss.

`conf/task/NAME.yaml` names a task registered here. The training loop only calls the `Task`
interface, so a task with two networks and two optimizers (a GAN) needs no change to the loop.
"""

from dlrun.tasks.base import TASKS, Task, build_task, check_task_config
from dlrun.tasks import gan, supervised, vae  # noqa: F401  (registers the tasks)

__all__ = ["TASKS", "Task", "build_task", "check_task_config"]
