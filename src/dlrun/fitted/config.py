"""The `baselines` config group's schema (`conf/baselines/default.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.schema import option


@dataclass
class BaselinesConfig:
    """Classical models fitted beside the network and scored on the same split (docs/tables.md#baselines)."""

    fitted: bool = option(
        True,
        "fit scikit-learn models on the same preprocessed training rows (tables: logistic/linear regression and "
        "histogram gradient boosting; text: logistic/linear; time series: a linear autoregression); images: none",
    )
    max_rows: int | None = option(
        20000, "fit on at most this many training rows (a seeded subsample), bounding their cost; null = all", ge=1
    )
