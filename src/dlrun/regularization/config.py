"""The `regularization` config group's schema (`conf/regularization/none.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.schema import option


@dataclass
class RegularizationConfig:
    """Weight penalties added to the loss, reported apart from the data loss (as Keras' kernel_regularizer)."""

    l1: float = option(0.0, "lambda of sum(|w|) over weights (not biases), added to the loss", ge=0)
    l2: float = option(0.0, "lambda of sum(w^2) over weights (not biases), added to the loss", ge=0)
    layers: list[str] | None = option(None, "parameter-name prefixes to penalize (e.g. [net.0]); null = every weight")
