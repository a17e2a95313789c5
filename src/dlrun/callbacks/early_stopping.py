"""Stop when the monitored metric has not improved for `patience` epochs; optionally restore the best weights."""

from __future__ import annotations

import copy
import logging

from dlrun.callbacks.base import Callback
from dlrun.callbacks.monitor import Monitor

log = logging.getLogger(__name__)


class EarlyStopping(Callback):
    """Keras' EarlyStopping: patience, min_delta, restore_best (configured under trainer.early_stopping)."""

    priority = 20

    def __init__(
        self,
        monitor: str = "val/loss",
        mode: str = "auto",
        patience: int | None = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        self.monitor = Monitor(monitor, mode, "trainer.early_stopping", min_delta)
        self.patience, self.restore_best = patience, restore_best
        self.wait = 0
        self.best_weights: dict | None = None
        self.stopped_epoch: int | None = None

    def on_fit_start(self, trainer):
        self.monitor.check_logged(trainer.log_keys)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor.update(epoch, logs):
            self.wait = 0
            if self.restore_best:
                self.best_weights = copy.deepcopy(trainer.task.state_dict()["models"])
            return
        self.wait += 1
        if self.patience is not None and self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.should_stop = True
            log.info(
                "early stopping at epoch %d: %s has not improved for %d epochs (best %.6g at epoch %d)",
                epoch,
                self.monitor.key,
                self.wait,
                self.monitor.best,
                self.monitor.best_epoch,
            )

    def on_fit_end(self, trainer):
        if self.restore_best and self.best_weights is not None and self.monitor.best_epoch != trainer.epoch:
            for name in trainer.task.models:
                trainer.task.net(name).load_state_dict(self.best_weights[name])
            log.info(
                "restored the weights of epoch %d (%s %.6g)",
                self.monitor.best_epoch,
                self.monitor.key,
                self.monitor.best,
            )

    def state_dict(self):
        return {
            "monitor": self.monitor.state_dict(),
            "wait": self.wait,
            "best_weights": self.best_weights,
            "stopped_epoch": self.stopped_epoch,
        }

    def load_state_dict(self, state):
        self.monitor.load_state_dict(state["monitor"])
        self.wait, self.best_weights, self.stopped_epoch = state["wait"], state["best_weights"], state["stopped_epoch"]
