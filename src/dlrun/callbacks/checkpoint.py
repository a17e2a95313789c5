"""Write checkpoints/last.pt every epoch and checkpoints/best.pt when the monitored metric improves.

`monitor: null` writes last.pt only (for runs without a meaningful validation figure, such as GANs):
the final weights are then the last epoch's, and metrics.json has no "best" entry.
"""

from __future__ import annotations

from dlrun.callbacks.base import Callback
from dlrun.callbacks.monitor import Monitor
from dlrun.device import distributed
from dlrun.rundir import RunDir
from dlrun.rundir.checkpoints import save_checkpoint


class ModelCheckpoint(Callback):
    """Keras' ModelCheckpoint (last and best); also decides the "best" entry of metrics.json."""

    priority = 90  # after everything that changes state at epoch end, so the file holds it all

    def __init__(self, monitor: str | None = "val/loss", mode: str = "auto", save: bool = True):
        self.monitor = Monitor(monitor, mode, "trainer.checkpoint") if monitor is not None else None
        self.save = save  # only rank 0 writes files in a multi-process run

    def on_fit_start(self, trainer):
        if self.monitor is not None:
            self.monitor.check_logged(trainer.log_keys)

    def on_epoch_end(self, trainer, epoch, logs):
        improved = self.monitor is not None and self.monitor.update(epoch, logs)
        state = trainer.checkpoint_state()  # includes this callback's updated state (a collective: every rank)
        if self.save:
            run = RunDir(trainer.run_dir)
            save_checkpoint(state, run.checkpoint("last"))
            if improved:
                save_checkpoint(state, run.checkpoint("best"))
        # no rank starts the next epoch before this epoch's checkpoint is on disk: a process that dies there
        # (and gets restarted with its peers by torchrun) resumes after this epoch, not the one before
        distributed.barrier()

    def best(self) -> dict:
        if self.monitor is None or self.monitor.best_epoch is None:
            return {}
        return {"epoch": self.monitor.best_epoch, self.monitor.key: self.monitor.best}

    def state_dict(self):
        return {"monitor": self.monitor.state_dict() if self.monitor is not None else None}

    def load_state_dict(self, state):
        if self.monitor is not None and state.get("monitor") is not None:
            self.monitor.load_state_dict(state["monitor"])
