"""Report the monitored validation metric to this job's Optuna trial every epoch; stop when it is pruned.

Added by `dlrun.train` when the job runs inside an Optuna sweep (`dlrun.optuna_trial.in_trial()`). A pruned
job stops like an early-stopped one: it still tests, writes metrics.json (with `"pruned": {"epoch": N}`) and
its pictures; the sweeper then records the trial as pruned at that epoch.
"""

from __future__ import annotations

import logging

from dlrun.callbacks.base import Callback

log = logging.getLogger(__name__)


class OptunaPruning(Callback):
    priority = 25  # after early stopping and the checkpoint's bookkeeping of the epoch

    def __init__(self, monitor: str, reporter):
        self.monitor, self.reporter = monitor, reporter

    @property
    def pruned_at(self) -> int | None:
        return self.reporter.pruned_at

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs.get(self.monitor)
        if value is None or trainer.should_stop:
            return
        if self.reporter.report(float(value), epoch):
            trainer.should_stop = True
            log.info("pruned by the Optuna study at epoch %d (%s %.6g)", epoch, self.monitor, value)
