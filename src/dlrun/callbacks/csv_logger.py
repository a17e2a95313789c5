"""history.csv in the run directory: one row per epoch, as Keras' CSVLogger writes."""

from __future__ import annotations

from dlrun.callbacks.base import Callback
from dlrun.rundir import RunDir


class CSVLogger(Callback):
    """Rewrite <run dir>/history.csv (atomically) after every epoch from the full history."""

    priority = 80

    def on_epoch_end(self, trainer, epoch, logs):
        RunDir(trainer.run_dir).write_history(trainer.history)
