"""The `plots` config group's schema (`conf/plots/default.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.schema import option


@dataclass
class PlotsConfig:
    """Pictures of the run, written to the run directory as PNG and logged to TensorBoard as images.

    Learning curves (training dashed, validation solid, one panel per metric), a confusion matrix
    (classification) or predicted-vs-true and residual plots (regression) on the test split.
    """

    enabled: bool = option(True, "draw the pictures when training ends")
    skip_first: int = option(
        0, "leave the first N epochs out of the learning curves (their large early losses flatten the rest)", ge=0
    )
    dpi: int = option(100, "resolution of the PNG files", ge=20)
