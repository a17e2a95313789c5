"""Which non-test rows train and validate each fold: scikit-learn's K-fold splitters, seeded."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

from dlrun.cv.config import CVConfig
from dlrun.errors import ConfigError


class KFoldSplitter:
    """Cuts the non-test rows into `folds` parts (`repeats` times, reshuffled); fold k validates on part k.

    Folds are numbered 0..repeats*folds-1, repeat after repeat. Used as `build_data(..., rows=splitter.fold(k))`.
    """

    def __init__(self, cfg: CVConfig):
        self.cfg = cfg

    def _sklearn(self, stratify: bool):
        c = self.cfg
        if c.repeats > 1:
            kind = RepeatedStratifiedKFold if stratify else RepeatedKFold
            return kind(n_splits=c.folds, n_repeats=c.repeats, random_state=c.seed)
        kind = StratifiedKFold if stratify else KFold
        return kind(n_splits=c.folds, shuffle=c.shuffle, random_state=c.seed if c.shuffle else None)

    def splits(self, rows: np.ndarray, y: np.ndarray, classification: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train, val) row indices of every fold; `rows` are the non-test rows, `y` all targets."""
        stratify = self.cfg.stratify and classification
        if self.cfg.folds > len(rows):
            raise ConfigError(f"cv.folds={self.cfg.folds} is more than the {len(rows)} non-test rows")
        labels = np.asarray(y)[rows] if stratify else np.zeros(len(rows))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a class too small to stratify must not pass silently
                parts = list(self._sklearn(stratify).split(np.zeros(len(rows)), labels))
        except (ValueError, UserWarning) as exc:
            raise ConfigError(
                f"cannot cut {len(rows)} rows into cv.folds={self.cfg.folds}: {exc} "
                "(set cv.stratify=false or fewer folds)"
            ) from None
        return [(rows[np.sort(tr)], rows[np.sort(va)]) for tr, va in parts]

    def fold(self, k: int):
        """A row selector for `build_data`: fold k's (train, val) among the non-test rows."""

        def select(rows: np.ndarray, y: np.ndarray, classification: bool) -> tuple[np.ndarray, np.ndarray]:
            return self.splits(rows, y, classification)[k]

        return select
