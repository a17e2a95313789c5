"""Tracking the best value of a monitored history key (shared by early stopping and checkpoints)."""

from __future__ import annotations

import math

from dlrun.errors import ConfigError
from dlrun.metrics import resolve_mode


class Monitor:
    def __init__(self, key: str, mode: str, where: str, min_delta: float = 0.0):
        self.key, self.where, self.min_delta = key, where, min_delta
        self.mode = resolve_mode(mode, key, f"{where}.mode")
        self.best: float | None = None
        self.best_epoch: int | None = None

    def check_logged(self, keys: list[str]) -> None:
        if self.key not in keys:
            raise ConfigError(f"{self.where}.monitor '{self.key}' is not logged by this run; logged: {', '.join(keys)}")

    def improved(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, logs: dict) -> bool:
        value = logs.get(self.key)
        if self.improved(value):
            self.best, self.best_epoch = float(value), epoch
            return True
        return False

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
