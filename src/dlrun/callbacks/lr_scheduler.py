"""Step the task's per-epoch learning-rate schedulers once per epoch (ReduceLROnPlateau with its monitored value);
the per-step ones (warmup_cosine, linear_warmup, onecycle) advance with each optimizer step, in the task."""

from __future__ import annotations

from dlrun.callbacks.base import Callback
from dlrun.callbacks.monitor import Monitor


class SchedulerStep(Callback):
    priority = 10

    def on_fit_start(self, trainer):
        for sched in trainer.task.schedulers.values():
            if sched is not None and sched.monitor is not None:
                Monitor(sched.monitor, "min", "scheduler").check_logged(trainer.log_keys)

    def on_epoch_end(self, trainer, epoch, logs):
        for sched in trainer.task.schedulers.values():
            if sched is not None and not sched.per_step:
                sched.step(logs)
