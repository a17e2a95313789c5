"""A transient progress bar for an epoch's batches (shown only on a terminal)."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, description: str, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.description = total, description
        self._bar: RichProgress | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.start()
            self._id = self._bar.add_task(self.description, total=self.total, loss="-")
        return self

    def update(self, step: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.update(self._id, completed=step, loss=f"{loss:.4f}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
