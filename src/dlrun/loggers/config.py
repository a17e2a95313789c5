"""The `logger` config group's schema. Loggers are chosen together from one group (`logger=[tensorboard,mlflow]`,
Hydra's multiple selection); each chosen logger's keys sit under its own name (`logger.mlflow.tracking_uri`).
`conf/logger/tensorboard.yaml` and `conf/logger/mlflow.yaml` are written from the schemas below; `logger=none`
chooses none."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

from dlrun.errors import ConfigError
from dlrun.schema import option

MLFLOW_MISSING = "logger=mlflow needs MLflow, which is not installed: pip install 'dlrun[mlflow]'"


@dataclass
class TensorBoardConfig:
    """TensorBoard event files in <run dir>/tensorboard (`dlrun tensorboard` or `tensorboard --logdir outputs`)."""

    histogram_every_n_epochs: int = option(0, "weight and gradient histograms every N epochs; 0 = never", ge=0)
    log_graph: bool = option(False, "write the model graph once (traced with one batch)")


@dataclass
class MLflowConfig:
    """MLflow tracking: params, per-epoch metrics, test metrics and artifacts of each run (`mlflow ui`)."""

    tracking_uri: str | None = option(
        None,
        "where runs go (a server http://..., sqlite:///file.db, a folder); null = $MLFLOW_TRACKING_URI if set, "
        "else sqlite:///mlflow.db in the current directory",
    )
    experiment: str | None = option(None, "MLflow experiment; null = the run's name")
    log_checkpoint: bool = option(True, "upload the best checkpoint (checkpoints/best.pt) as an artifact")
    tags: dict[str, str] = option({}, "extra tags of every run, {key: value}")
    parent_run_id: str | None = option(
        None, "make the run a child of this MLflow run; null = none (dlrun sets it for the folds of a K-fold run)"
    )


@dataclass
class LoggerConfig:
    """The run's loggers, several at once (metrics.json and history.csv are always written)."""

    tensorboard: TensorBoardConfig | None = option(None, "TensorBoard (logger=tensorboard); null = off")
    mlflow: MLflowConfig | None = option(None, "MLflow (logger=mlflow, pip install 'dlrun[mlflow]'); null = off")

    def __post_init__(self):
        if self.mlflow is not None and find_spec("mlflow") is None:
            raise ConfigError(MLFLOW_MISSING)

    @property
    def names(self) -> list[str]:
        """The chosen loggers, in this schema's order."""
        return [name for name in ("tensorboard", "mlflow") if getattr(self, name) is not None]
