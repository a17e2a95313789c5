"""The `logger` config group's schema (`conf/logger/tensorboard.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.schema import option


@dataclass
class LoggerConfig:
    """TensorBoard event files in <run dir>/tensorboard (`dlrun tensorboard` or `tensorboard --logdir outputs`)."""

    name: Literal["tensorboard", "none"] = option("tensorboard", "tensorboard | none")
    histogram_every_n_epochs: int = option(0, "weight and gradient histograms every N epochs; 0 = never", ge=0)
    log_graph: bool = option(False, "write the model graph once (traced with one batch)")
