"""Typed mirror of `conf/cv/default.yaml`; values are checked before anything trains."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.errors import ConfigError
from dlrun.registry import check_kwargs


@dataclass
class CVConfig:
    folds: int = 1
    shuffle: bool = True
    seed: int = 0
    stratify: bool = True
    repeats: int = 1
    refit: bool = False
    parallel: int = 1
    fold: int | None = None
    plot_skip_first: int = 0

    def __post_init__(self):
        if self.folds < 1:
            raise ConfigError(f"cv.folds must be >= 1 (1 = plain hold-out), got {self.folds}")
        if self.repeats < 1:
            raise ConfigError(f"cv.repeats must be >= 1, got {self.repeats}")
        if self.parallel < 1:
            raise ConfigError(f"cv.parallel must be >= 1, got {self.parallel}")
        if self.plot_skip_first < 0:
            raise ConfigError(f"cv.plot_skip_first must be >= 0, got {self.plot_skip_first}")
        if self.folds == 1:
            for key, used in (("repeats", self.repeats > 1), ("refit", self.refit), ("fold", self.fold is not None)):
                if used:
                    raise ConfigError(f"cv.{key} needs cv.folds >= 2, got cv.folds=1")
        if self.repeats > 1 and not self.shuffle:
            raise ConfigError("cv.repeats > 1 needs cv.shuffle=true (unshuffled repeats would be identical)")
        if self.fold is not None and not 0 <= self.fold < self.runs:
            raise ConfigError(f"cv.fold must be in [0, {self.runs - 1}] for {self.folds} folds x {self.repeats} "
                              f"repeats, got {self.fold}")

    @property
    def runs(self) -> int:
        """How many models the folds train: repeats x folds."""
        return self.folds * self.repeats

    @property
    def is_parent(self) -> bool:
        """A K-fold run that trains its folds (rather than one fold, or a plain hold-out run)."""
        return self.folds > 1 and self.fold is None

    @classmethod
    def from_dict(cls, values: dict) -> CVConfig:
        check_kwargs(cls, values, "cv")
        return cls(**values)
