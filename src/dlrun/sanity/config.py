"""The `sanity` config group's schema (`conf/sanity/default.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.schema import option


@dataclass
class SanityConfig:
    """Sanity experiments that deliberately break the data, to see what the model does with noise."""

    shuffle_labels: bool = option(
        False,
        "permute the TRAINING labels (classification or regression; validation and test keep theirs): training "
        "accuracy rising while validation stays at chance shows the net memorizes",
    )
    seed: int | None = option(None, "seed of that permutation; null = the run's seed")
