"""`Predictor`: a saved run's preprocessing and model as one object that turns records into predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.errors import ConfigError
from dlrun.inference.decode import per_step_predictions, prediction_columns, rows_of
from dlrun.inference.inputs import input_for

SUPERVISED = ("classification", "regression", "tagging")


class TorchForward:
    """The run's torch model: input arrays -> `task.predictions` (probabilities, or values in data units)."""

    def __init__(self, loaded):
        self.loaded = loaded

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        import torch

        (x,) = arrays
        with torch.no_grad():
            return self.loaded.task.predictions(torch.from_numpy(np.ascontiguousarray(x)).to(self.loaded.device))


class Predictor:
    """Records -> model inputs (`encode`) -> probabilities or values (`forward`) -> named predictions (`decode`).

    `run` is a run directory or a checkpoint file; `forward` replaces the torch model (an exported one,
    with the same call: the arrays of `encode` in, what `TorchForward` returns out); the torch task is
    then never built.
    """

    def __init__(self, run: str | Path, forward=None, prefer: str = "final"):
        from omegaconf import OmegaConf

        from dlrun.saved_run import open_run
        from dlrun.tasks.base import resolve_task_name

        saved = open_run(run, prefer, command="predict")
        self.checkpoint = saved.checkpoint
        self.info = saved.info
        self.preprocessing = saved.preprocessing
        self.config = saved.config
        self.task_name = resolve_task_name(saved.config.task.name, self.info)
        if self.task_name not in SUPERVISED:
            raise ConfigError(
                f"{run} is a '{self.task_name}' run; predictions need a supervised run "
                f"({', '.join(SUPERVISED)}): use dlrun sample for generative models"
            )
        self.dataset = OmegaConf.to_container(saved.config.dataset, resolve=True)
        self.input = input_for(self.preprocessing, self.info, self.dataset)
        self.loaded = None
        if forward is None:
            self.loaded = saved.load()
            forward = TorchForward(self.loaded)
        self._forward = forward

    @property
    def target(self) -> str:
        """The name predictions are reported under: the target column, the text's label column, the series' value."""
        prep = self.preprocessing
        if self.input.kind == "table":
            return prep["target"]
        if self.input.kind == "series":
            return prep["columns"][0]
        if self.task_name == "tagging":
            return "tag"
        if self.input.kind == "text":
            return str(self.dataset.get("label") or "label")
        return "label" if self.info.kind == "classification" else "target"

    @property
    def run_dir(self) -> Path:
        """The run directory the checkpoint belongs to."""
        from dlrun.rundir import CHECKPOINTS_DIR

        parent = self.checkpoint.parent
        return parent.parent if parent.name == CHECKPOINTS_DIR else parent

    def encode(self, records: list) -> tuple[np.ndarray, ...]:
        return self.input.encode(list(records))

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(*arrays))

    def decode(self, values: np.ndarray, lengths: list[int] | None = None) -> list[dict]:
        """Named predictions per record; tagging takes each record's word count (`lengths`, default: all steps)."""
        if self.task_name == "tagging":
            return per_step_predictions(values, self.info, self.target, lengths or [values.shape[1]] * len(values))
        return rows_of(prediction_columns(values, self.info, self.target))

    def columns(self, values: np.ndarray) -> dict[str, list]:
        """Prediction column -> one value per record (a table's output columns)."""
        return prediction_columns(values, self.info, self.target)

    def predict(self, records: list) -> list[dict]:
        records = list(records)
        if not records:
            return []
        values = self.forward(*self.encode(records))
        lengths = [len(t) for t in self.input.tokens(records)] if self.task_name == "tagging" else None
        return self.decode(values, lengths)

    def schema(self) -> dict:
        """What a record is, and what comes back."""
        out = {"input": self.input.schema(), "task": self.task_name, "target": self.target}
        if self.info.kind == "classification":
            out["classes"] = list(self.info.class_names)
        return out
