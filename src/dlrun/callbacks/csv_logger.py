"""history.csv in the run directory: one row per epoch, as Keras' CSVLogger writes."""

from __future__ import annotations

import csv

from dlrun.callbacks.base import Callback


class CSVLogger(Callback):
    """Rewrite <run dir>/history.csv after every epoch from the full history."""

    priority = 80

    def on_epoch_end(self, trainer, epoch, logs):
        history = trainer.history
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        with open(trainer.run_dir / "history.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)
