"""The `cv` config group's schema (`conf/cv/default.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.errors import ConfigError
from dlrun.schema import option


@dataclass
class CVConfig:
    """K-fold cross-validation of the non-test rows; folds: 1 is the plain hold-out of dataset.split."""

    folds: int = option(
        1,
        "K; each fold trains a fresh model in <run dir>/fold_N/ (dataset.split.val is then unused); 1 = plain hold-out",
        ge=1,
    )
    shuffle: bool = option(
        True,
        "shuffle rows before cutting folds; false gives contiguous folds in row order (the books' California housing)",
    )
    seed: int = option("${seed}", "seed of the fold shuffling")
    stratify: bool = option(True, "keep class proportions in every fold (classification only)")
    repeats: int = option(1, "iterated K-fold, reshuffled each time: repeats x folds models (needs shuffle)", ge=1)
    refit: bool = option(
        False, "after the folds, train on all non-test rows for the best averaged epoch count, then test once"
    )
    parallel: int = option(1, "folds trained at once in separate processes, CPU threads split between them", ge=1)
    fold: int | None = option(
        None, "train only this fold (0-based, counting across repeats); the K-fold parent sets it per fold", ge=0
    )
    plot_skip_first: int = option(0, "leave out the first N epochs of the averaged-curve PNG (the books skip 10)", ge=0)

    def __post_init__(self):
        if self.folds == 1:
            for key, used in (("repeats", self.repeats > 1), ("refit", self.refit), ("fold", self.fold is not None)):
                if used:
                    raise ConfigError(f"cv.{key} needs cv.folds >= 2, got cv.folds=1")
        if self.repeats > 1 and not self.shuffle:
            raise ConfigError("cv.repeats > 1 needs cv.shuffle=true (unshuffled repeats would be identical)")
        if self.fold is not None and not 0 <= self.fold < self.runs:
            raise ConfigError(
                f"cv.fold must be in [0, {self.runs - 1}] for {self.folds} folds x {self.repeats} "
                f"repeats, got {self.fold}"
            )

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
        from dlrun.schema import check

        return check(cls, values, "cv")
